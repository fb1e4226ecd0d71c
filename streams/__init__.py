"""Media: RTSP ingest, packet fan-out, WebRTC/WHEP playback, snapshots, stream health.

Never imports iocwall.wall: the controller depends on media, not the other way round.
"""
