"""Layout model: walls, monitors, tiles, presets, tours, validation. Pure, no I/O.

Filled in by the wall issue; kept here so the architecture is visible in the tree.
"""
