"""Image grids of samples and reconstructions, written as PNG, optionally with captions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
from matplotlib import cm, font_manager
from matplotlib.colors import Normalize
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from genbench.levels import levels_to_unit
from genbench.results.store import atomic_path

FONT_PX = 11  # caption size in pixels
GAP = 5  # pixels between a caption and the grid
INK = (40, 40, 40, 255)


def tile(images: Tensor, num_levels: int, rows: int, pad: int = 1) -> np.ndarray:
    """(n, C, H, W) levels -> one (rows*(H+pad)+pad, cols*(W+pad)+pad[, 3]) array in [0, 1]."""
    n, c, h, w = images.shape
    cols = math.ceil(n / rows)
    x = levels_to_unit(images.detach().float().cpu().numpy(), num_levels)
    grid = np.full((c, rows * (h + pad) + pad, cols * (w + pad) + pad), 0.5, dtype=np.float32)
    for k in range(n):
        r, q = divmod(k, cols)
        grid[
            :,
            pad + r * (h + pad) : pad + r * (h + pad) + h,
            pad + q * (w + pad) : pad + q * (w + pad) + w,
        ] = x[k]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def save_grid(
    images: Tensor,
    num_levels: int,
    path: Path,
    rows: int,
    captions: Sequence[str] = (),
    footer: tuple[str, Sequence[str]] | None = None,
) -> None:
    """Write images (n, C, H, W) in levels as a grid PNG of `rows` rows, upscaled to about 48
    pixels per image (dark ink on white). `captions` (one per row) go in a left margin;
    `footer` = (its caption, one note per column) in a strip under the grid. The grid's pixels
    are the same with or without them, so its (top, left) corner is then (0, margin)."""
    scale = max(1, 48 // images.shape[-1])
    grid = tile(images, num_levels, rows)
    grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)  # each pixel a scale x scale block
    rgba = cm.ScalarMappable(Normalize(0, 1), "gray_r").to_rgba(grid, bytes=True)
    picture = Image.fromarray(rgba)
    if captions or footer is not None:
        cell = (images.shape[-2] * scale, images.shape[-1] * scale)
        picture = with_captions(picture, cell, scale, list(captions), footer)
    with atomic_path(path) as tmp:
        picture.save(tmp, format="png")


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    """matplotlib's own sans-serif font (DejaVu Sans), `size` pixels high."""
    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def with_captions(
    grid: Image.Image,
    cell: tuple[int, int],
    pad: int,
    captions: list[str],
    footer: tuple[str, Sequence[str]] | None,
) -> Image.Image:
    """The (H, W) RGBA grid of cells (height, width) separated by `pad` pixels, pasted unchanged
    into a white (H [+ footer], margin + W) picture: each row's caption right-aligned in the
    left margin beside the row's middle, each column's footer note centred under the column
    (smaller if it would be wider than the column), the footer's caption beside the notes."""
    (h, w), names = cell, captions + ([footer[0]] if footer else [])
    margin = 2 * GAP + math.ceil(max(font(FONT_PX).getlength(s) for s in names))
    size = FONT_PX
    notes = list(footer[1]) if footer else []
    while notes and size > 6 and max(font(size).getlength(s) for s in notes) > w - 2:
        size -= 1  # the notes must not run into each other
    strip = FONT_PX + 2 * GAP if footer else 0
    picture = Image.new("RGBA", (margin + grid.width, grid.height + strip), (255, 255, 255, 255))
    picture.paste(grid, (margin, 0))
    draw = ImageDraw.Draw(picture)
    for r, text in enumerate(captions):
        middle = pad + r * (h + pad) + h // 2
        draw.text((margin - GAP, middle), text, fill=INK, font=font(FONT_PX), anchor="rm")
    if footer:
        middle = grid.height + strip // 2
        draw.text((margin - GAP, middle), footer[0], fill=INK, font=font(FONT_PX), anchor="rm")
        for q, text in enumerate(notes):
            centre = margin + pad + q * (w + pad) + w // 2
            draw.text((centre, middle), text, fill=INK, font=font(size), anchor="mm")
    return picture
