"""Decoding media for the encoders, with errors that name the file."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from umeval.core.errors import DataError
from umeval.core.types import Item


def open_image(src: str | bytes, item: Item | None = None, task: str | None = None) -> Image.Image:
    """A decoded PIL image from a path or encoded bytes, in its own mode (RGBA, P, L ... are kept).

    Prompt formats convert it the way their reference pipeline does (qwen-vl-utils pastes RGBA on white, the
    HF processor drops alpha).  A corrupt or missing file is a one-line DataError.
    """
    label = src if isinstance(src, str) else f"<{len(src)} image bytes>"
    try:
        with Image.open(src if isinstance(src, str) else io.BytesIO(src)) as im:
            im.load()
            return im.copy()
    except FileNotFoundError:
        problem, fix = f"image file {label} does not exist", "restore the file or fix its path in the data"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        problem, fix = f"cannot decode image {label} ({type(e).__name__})", "replace the corrupt file"
    row = item.source[1] if item is not None and item.source else None
    file = item.source[0] if item is not None and item.source else None
    raise DataError(problem, fix, task=task, file=file, row=row)


def load_image(src: str | bytes, item: Item | None = None, task: str | None = None) -> Image.Image:
    """An RGB PIL image from a path or encoded bytes; a corrupt or missing file is a one-line DataError."""
    return open_image(src, item, task).convert("RGB")


def open_frames(paths: tuple[str, ...], item: Item | None = None, task: str | None = None) -> list[Image.Image]:
    return [open_image(p, item, task) for p in paths]


def load_frames(paths: tuple[str, ...], item: Item | None = None, task: str | None = None) -> list[Image.Image]:
    return [load_image(p, item, task) for p in paths]
