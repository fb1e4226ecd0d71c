"""Text that people will read back: one rule for the audit log and for every name that enters.

A bidirectional override or a zero-width character makes one string look like another
(``"\u202e1 yầuQ"`` shows as "Quầy 1"), and a line break in an audit field forges a line.
The audit log cleans such characters out of what it stores (``clean_text``); names that enter
through the API (cameras, centres, profiles, walls, layouts, presets, alarm rules, tokens,
users) are refused instead (``name_problem``), with a 422 naming the field: stripping them
silently could merge two different names into one, and the sender would never learn that what
is stored is not what they typed.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

_SPACES = {"\t", "\n", "\r", "\v", "\f", "\u0085", "\u2028", "\u2029"}
_HIDDEN = ("Cc", "Cf", "Zl", "Zp")     # controls, format (bidi, zero-width, BOM), separators


def clean_text(text: str) -> str:
    """Text safe to show in an audit view: line breaks and tabs become spaces (no forged
    lines); other control characters and every format character are removed (zero-width
    spaces and joiners, bidirectional overrides and isolates, BOM), so what is shown is
    what was stored."""
    kept = []
    for char in text:
        if char in _SPACES:
            kept.append(" ")
        elif unicodedata.category(char) not in _HIDDEN:
            kept.append(char)
    return "".join(kept).strip()


def name_problem(text: str) -> str | None:
    """Why ``text`` may not be a name (None: it may): it holds a character that
    ``clean_text`` would change, i.e. one that does not show as itself."""
    if clean_text(text) == text.strip():
        return None
    bad = next(c for c in text if c in _SPACES or unicodedata.category(c) in _HIDDEN)
    return (f"contains an invisible or direction-changing character (U+{ord(bad):04X}): "
            "type the name without it / tên chứa ký tự ẩn hoặc ký tự đảo chiều, hãy nhập lại")


def checked_name(text: str) -> str:
    """``text`` as it is; ValueError (pydantic: a 422 naming the field) when it holds a
    hidden character."""
    problem = name_problem(text)
    if problem is not None:
        raise ValueError(problem)
    return text


def _checked_optional(text: str | None) -> str | None:
    return None if text is None else checked_name(text)


# field types for request bodies: `name: Name = Field(min_length=1, max_length=200)`
Name = Annotated[str, AfterValidator(checked_name)]
OptionalName = Annotated[str | None, AfterValidator(_checked_optional)]


def fold(text: str) -> str:
    """Lower-case ASCII without diacritics or punctuation: 'Hà Nội' -> 'ha noi',
    'Quầy 3' -> 'quay 3', 'Đà Nẵng' -> 'da nang'. The one folding rule: province names
    (wall/provinces/), spreadsheet headers and the search columns (search.py,
    stored by the registry and the audit log, and by migration 0010 through the SQL
    function ``iocwall_fold`` that wall/store registers) all use it."""
    text = text.replace("đ", "d").replace("Đ", "D")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_text.lower()).split())
