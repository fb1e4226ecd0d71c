"""A small RTSP/RTP client of our own: RTSP over TCP or UDP, Basic/Digest auth, SDP,
H.264 depacketization and SPS parsing.

Two users: the hardware smoke test (diagnosis, in ``iocwall.hardware.smoke``) and
the media server's low-latency ingest (``iocwall.streams.rtp_ingest``), which
ends an access unit on the RTP marker bit instead of waiting for the next one.
"""
