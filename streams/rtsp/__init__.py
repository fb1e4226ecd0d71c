"""The one protocol layer: RTSP, SDP, RTP/RTCP and H.264 payloads, for both sides.

``message`` (requests, responses, the bounded reader), ``transport``, ``auth``/``digest``,
``sdp``, ``rtp`` (aiortc's packet class; the one H.264 packetizer and depacketizer),
``rtcp`` (receiver and sender reports with aiortc's classes), ``reorder``, ``udp`` and
``sps``. Users: the media server's low-latency ingest (``iocwall.streams.rtp_ingest``,
through ``rtsp_client``) and its WebRTC send path (``sendpath``), the hardware smoke test
(``iocwall.hardware.smoke``) and the camera simulator (``iocwall.hardware.sim``, the
server side). Nothing here imports those users.
"""
