"""The analytics tap: a camera's frames, sampled and decoded for the workers.

- ``tap``: one camera's tap (``CameraTap``), where the frames are.
- ``router``: hands frames to workers over ZeroMQ and takes their counts back.
- ``remote``: the tap across processes (a media process taps, the web process routes).
"""
