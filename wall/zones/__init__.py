"""Queue zones and live queue counts: the wall side of people counting.

- ``store``: each camera's counter zones (SQLite), editable at run time.
- ``api``: the zones over HTTP (``/api/cameras/{camera}/zones``).
- ``analytics``: taps the cameras that have zones, serves their frames to workers.
- ``queues``: the newest count per (camera, zone), its age and state, ``/api/queues``, bus
  announcements.
- ``follow``: zone edits announced on the bus and followed by the other server processes.
- ``demo``: the demo's zones (the simulator's counters) and its worker process.

The media side (sampling frames, handing them to workers) is ``streams/taps/``.
"""
