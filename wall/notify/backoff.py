"""When to try a failed message again: exponential, capped, with jitter.

Jitter spreads the retries of many messages that failed together (a gateway down for an
hour) so that they do not all hit it again in the same second when it comes back.
"""
from __future__ import annotations

import random


def retry_delay(attempts: int, low_s: float, high_s: float,
                rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failed try (1 = the first).

    The ceiling doubles from ``low_s`` each try, capped at ``high_s``; the delay is drawn
    between half the ceiling and the ceiling ("equal jitter"), so it never drops below
    ``low_s / 2`` and never exceeds ``high_s``."""
    exponent = min(max(attempts - 1, 0), 60)            # 2**60 s is already past any cap
    ceiling = min(high_s, low_s * (2 ** exponent))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
