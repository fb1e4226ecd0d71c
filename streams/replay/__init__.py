"""Instant replay: a short rolling buffer of each buffered camera stream, as fMP4 fragments.

One job per module: ``boxes`` splits the muxer's bytes into MP4 boxes, ``muxer`` remuxes a
camera's own H.264 access units into fMP4 (never decoding), ``buffer`` keeps the last N
seconds of fragments within byte bounds, ``clip`` joins a span into one playable MP4,
``recorder`` ties buffers to the media server's channels, ``model`` holds what crosses the
media contract.
"""
