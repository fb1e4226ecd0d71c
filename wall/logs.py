"""Logging set-up: readable console lines, JSON lines in a rotated file, no secrets anywhere."""
from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from pathlib import Path

from iocwall.streams.clock import iso_from_epoch
from iocwall.streams.urls import redact


class RedactingFilter(logging.Filter):
    """Strip credentials from any URL that reaches a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    _SKIP = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": iso_from_epoch(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self._SKIP})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = f"{iso_from_epoch(record.created)} {record.levelname:<7} {record.name}: "
        return redact(base + super().format(record))


def setup(level: str = "INFO", file: Path | None = None, json_lines: bool = True,
          max_bytes: int = 10 * 1024 * 1024, backup_count: int = 5) -> None:
    """Console always; ``file`` (if given) rotated at ``max_bytes``, ``backup_count`` kept."""
    root = logging.getLogger()
    for old in root.handlers:
        if isinstance(old, logging.FileHandler):     # ours from an earlier setup: release it
            old.close()
    root.handlers.clear()
    root.setLevel(level)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(ConsoleFormatter("%(message)s"))
    console.addFilter(RedactingFilter())
    root.addHandler(console)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        # Rotation keeps a flood of bad requests from filling the disk.
        handler = logging.handlers.RotatingFileHandler(
            file, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8")
        handler.setFormatter(JsonFormatter() if json_lines else ConsoleFormatter("%(message)s"))
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    for noisy in ("aioice", "aiortc", "zeep", "httpx", "libav"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
