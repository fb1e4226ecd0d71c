"""Whole numbers from the query string and the path, bounded so SQLite can take them.

SQLite stores integers as signed 64-bit; a bigger Python int makes the driver
raise OverflowError, which used to surface as a 500. ``query_int`` refuses out-of-range
values with a 422 naming the parameter; path parameters written ``{name:int}`` are
matched by the ``int64`` convertor (``access.route`` switches them over), which
takes at most 18 digits, so a longer number is a 404 like any other unknown id.
"""
from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request

from iocwall.wall.errors import ApiError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_MAX_DIGITS = 19


class Int64Convertor(Convertor[int]):
    """A path id: 1 to 18 digits, so any match fits in int64."""
    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        if not 0 <= value <= INT64_MAX:
            raise ValueError("id out of range")
        return str(value)


register_url_convertor("int64", Int64Convertor())


def query_int(request: Request, name: str, default: int, *, minimum: int = INT64_MIN,
              maximum: int = INT64_MAX) -> int:
    """Query parameter ``name`` as an int in [minimum, maximum]; ``default`` when absent.

    Anything else (``1e20``, ``abc``, 9223372036854775808) is a 422 naming ``name``.
    """
    value = request.query_params.get(name, "").strip()
    if value == "":
        return default
    digits = value.removeprefix("-").removeprefix("+")
    if not digits.isascii() or not digits.isdigit() or len(digits.lstrip("0")) > _MAX_DIGITS:
        raise ApiError(422, "invalid", f"{name} must be a whole number / cần một số nguyên",
                       name)
    number = int(value)
    if not minimum <= number <= maximum:
        raise ApiError(422, "invalid", f"{name} must be {minimum}..{maximum} / ngoài phạm vi",
                       name)
    return number
