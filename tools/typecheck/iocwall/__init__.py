"""Only for mypy: ``iocwall.<folder>`` as a regular package, one link per top-level folder.

The code imports itself as ``iocwall.wall``, ``iocwall.streams``...; no folder has that
name (the editable install maps it with an import hook, which mypy cannot follow).
mypy reads the packages through this folder (``mypy_path`` in pyproject.toml).
Nothing imports this file at run time.
"""
