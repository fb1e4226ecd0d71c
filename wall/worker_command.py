"""``iocwall worker``: an analytics worker, on this machine or on a GPU host.

The command lives in wall/ because it reads config.toml (wall/config.py); the worker
itself (analytics/) is handed plain values and never imports wall.

Only the tap's ZeroMQ address is needed; zones travel with the frames. The
detector and weights come from the command line or ``[analytics]`` in config.toml.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

log = logging.getLogger(__name__)
# A setup problem (analytics extra not installed, weights missing, bad config): restarting
# cannot help, so a supervisor stops and shows "analytics off" (sysexits' EX_CONFIG).
EXIT_CONFIG = 78
EXTRA_HINT = 'pip install -e ".[analytics]" (from a checkout) or pip install "iocwall[analytics]"'


def missing_extra_message(exc: ImportError) -> str:
    """One line: what is missing and what to install."""
    return (f"analytics off: the analytics extra is not installed ({exc}); install it with "
            f"{EXTRA_HINT} / tắt phân tích: chưa cài gói phân tích")


def _config_failure(message: str) -> int:
    print(f"iocwall worker: {message}", file=sys.stderr, flush=True)
    return EXIT_CONFIG


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connect", metavar="ADDR",
                        help="the media server's tap, e.g. tcp://10.0.0.5:5571 "
                             "(default: [analytics] tap_address)")
    parser.add_argument("--detector", choices=("hog", "yolo"), help="default: [analytics] detector")
    parser.add_argument("--model", "--weights", dest="weights", metavar="PATH",
                        help="YOLO weights file (never downloaded); default: [analytics] weights")
    parser.add_argument("--device", help="cpu, cuda:0 ... (default: GPU when present)")
    parser.add_argument("--batch", type=int, help="frames per detector call (default: config)")
    parser.add_argument("--imgsz", type=int, help="YOLO input size (default: [analytics] imgsz)")
    parser.add_argument("--min-score", type=float, help="lowest detection score kept (0.25)")
    parser.add_argument("--name", help="worker name in logs and metrics (default host-pid)")
    parser.add_argument("--config", metavar="PATH", help="config.toml (default ./config.toml)")


def run(args: argparse.Namespace) -> int:
    from iocwall.wall.config import ConfigError, load_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        cfg = load_config(args.config).analytics
    except ConfigError as exc:
        return _config_failure(str(exc))
    try:
        # OpenCV, ZeroMQ and the tracker (ultralytics, torch) now, not on the first frame:
        # a missing extra is one clear line and EXIT_CONFIG, never a traceback per restart.
        from iocwall.analytics.detectors import DetectorOptions, WeightsMissing, build_detector
        from iocwall.analytics.tracking import preload_tracker
        from iocwall.analytics.worker import Worker
        preload_tracker()
    except ImportError as exc:
        return _config_failure(missing_extra_message(exc))
    batch = args.batch or cfg.batch
    if batch < 1:
        print("iocwall worker: --batch must be at least 1", file=sys.stderr)
        return 2
    options = DetectorOptions(kind=args.detector or cfg.detector,
                              weights=args.weights or cfg.weights,
                              device=args.device or cfg.device, half=cfg.half,
                              imgsz=args.imgsz or cfg.imgsz,
                              min_score=args.min_score or DetectorOptions.min_score)
    try:
        detector = build_detector(options)
    except WeightsMissing as exc:
        return _config_failure(f"analytics off: {exc}")
    except ImportError as exc:            # yolo: ultralytics' model code or torch missing
        return _config_failure(missing_extra_message(exc))
    worker = Worker(args.connect or cfg.tap_address, detector, batch=batch, name=args.name)
    return asyncio.run(_serve(worker))


async def _serve(worker: object) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await worker.run(stop)  # type: ignore[attr-defined]
    return 0
