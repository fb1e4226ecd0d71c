"""The camera registry: provinces' connection profiles and their cameras, the one list of
cameras that the media server follows (see sync.py)."""
