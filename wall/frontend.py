"""Where the frontend files are: the one place that knows.

In a checkout they are ``<repo>/frontend``; an installed wheel ships them as
``site-packages/iocwall/frontend`` (package data, see setup.py). Both sit next
to the ``wall`` package, so one relative path finds them in either case.
"""
from __future__ import annotations

from pathlib import Path


def frontend_dir() -> Path:
    """The folder holding the pages, scripts and styles (and vendored npm ``dist`` files)."""
    return Path(__file__).resolve().parent.parent / "frontend"
