"""The frame stamp: a frame's time, drawn so any client can read it back.

Format (documented in the README): two rows of 24 cells of 16x16 px from the
top-left corner (y 0-15 and 16-31, x 0-383). Black = 0, white = 1, most
significant bit first, 48 bits in all: the frame's time in milliseconds since
the Unix epoch, modulo 2**48. Each cell is exactly one H.264 macroblock, which
is what lets the simulator patch the stamp into pre-encoded video.
"""
from __future__ import annotations

import numpy as np

BITS = 48
CELL = 16
COLUMNS = 24
WIDTH, HEIGHT = COLUMNS * CELL, 2 * CELL
MODULUS = 1 << BITS


def bits_of(ms: int) -> list[int]:
    """The 48 cell values for a time in ms, most significant first."""
    value = int(ms) % MODULUS
    return [(value >> (BITS - 1 - i)) & 1 for i in range(BITS)]


def cell_origin(index: int) -> tuple[int, int]:
    """(x, y) of the top-left pixel of cell ``index`` (0..47)."""
    return (index % COLUMNS) * CELL, (index // COLUMNS) * CELL


def draw(image: np.ndarray, ms: int) -> np.ndarray:
    """Draw the stamp in place into an HxW (gray) or HxWxC (BGR/RGB) uint8 image."""
    if image.shape[0] < HEIGHT or image.shape[1] < WIDTH:
        raise ValueError(f"image {image.shape[1]}x{image.shape[0]} is smaller than the stamp")
    for i, bit in enumerate(bits_of(ms)):
        x, y = cell_origin(i)
        image[y:y + CELL, x:x + CELL] = 255 if bit else 0
    return image


def decode(image: np.ndarray) -> int | None:
    """Read the stamp back from a decoded frame (gray or 3-channel); None if absent.

    Each cell is judged by the mean of its central 8x8 pixels, which survives
    compression and deblocking at the cell edges. A cell that is neither
    clearly dark nor clearly bright means there is no stamp.
    """
    if image.ndim == 3:
        image = image.mean(axis=2)
    if image.shape[0] < HEIGHT or image.shape[1] < WIDTH:
        return None
    value = 0
    for i in range(BITS):
        x, y = cell_origin(i)
        level = float(image[y + 4:y + 12, x + 4:x + 12].mean())
        if 70 < level < 185:
            return None
        value = (value << 1) | (1 if level >= 185 else 0)
    return value


def latency_ms(stamp_ms: int, now_ms: int) -> int:
    """now - stamp, handling the 2**48 wrap-around."""
    return (int(now_ms) - int(stamp_ms)) % MODULUS
