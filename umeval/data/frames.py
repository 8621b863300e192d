"""Frames from videos, where a video task's frame folder is missing but its video is there.

The official evaluation (TIGER-AI-Lab/VLM2Vec ``src/utils/vision_utils/vision_utils.py``, ``save_frames``) does
this itself when a frame folder is missing or holds no image: it counts the video's frames by decoding them
(``ffprobe -count_frames``), keeps all of them when there are at most ``max_frames_saved``, else the frames at
``floor(i * total / max_frames_saved)`` for ``i`` in ``0..max_frames_saved-1``, and writes them as
``frame_0001.jpg``, ``frame_0002.jpg``, ... in that order.  ``max_frames_saved`` is 64 for every
classification and retrieval task (``experiments/public/eval/video.yaml``), the parsers that call it
(``ssv2``, ``video_classification``, ``msrvtt``, ``msvd``, ``didemo``, ``vatex``, ``youcook2``); the QA
parsers do not (a missing QA frame folder is an error there too).  The loader then samples ``num_frames`` of
the saved frames as usual.

Here PyAV decodes (the FFmpeg libraries ffprobe and ffmpeg use, through their Python binding); frames are
counted by decoding as ffprobe does.  JPEG bytes differ from ffmpeg's (a different JPEG encoder and quality);
the frames chosen are the same.  A folder written here holds ``.umeval-extracted.json`` (the video, its frame
count, the indices kept, the decoder version), which ``umeval data status`` reports.

The video of a frame folder ``.../video-tasks/frames/<kind>/<dataset>/<id>/`` is looked for at
``.../video-tasks/videos/<kind>/<dataset>/<id>.<ext>``: the official ``video_root`` next to ``frame_root``, and
the official file name for classification, SSv2 and VATEX (``<id>.mp4``) and for the others where the row's
file is named after its id.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from pathlib import Path

from umeval.core.errors import DataError, DependencyError

log = logging.getLogger("umeval")

MAX_FRAMES_SAVED = 64  # video.yaml: max_frames_saved of every V-CLS and V-RET task
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".MP4")
MARKER = ".umeval-extracted.json"


def official_indices(total: int, max_saved: int = MAX_FRAMES_SAVED) -> list[int]:
    """The frame indices the official ``save_frames`` keeps out of ``total`` decoded frames."""
    if total <= max_saved:
        return list(range(total))
    step = total / max_saved
    return [math.floor(i * step) for i in range(max_saved)]


def video_for(folder: str | os.PathLike[str]) -> Path | None:
    """The video file a frame folder would be extracted from (``frames`` -> ``videos`` in its path), if present."""
    parts = Path(folder).parts
    if "frames" not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index("frames")
    base = Path(*parts[:i], "videos", *parts[i + 1:])
    for suffix in VIDEO_SUFFIXES:
        cand = base.with_name(base.name + suffix)
        if cand.is_file():
            return cand
    return None


def _av():
    try:
        import av
    except ImportError:
        raise DependencyError("frame extraction needs PyAV", "pip install av") from None
    return av


def count_frames(video: Path) -> int:
    """Frames of the first video stream, counted by decoding them all (as ``ffprobe -count_frames``)."""
    av = _av()
    with av.open(str(video)) as c:
        return sum(1 for _ in c.decode(video=0))


def extract_frames(video: Path, folder: Path, max_saved: int = MAX_FRAMES_SAVED) -> dict[str, object]:
    """Write the official frames of ``video`` into ``folder`` (made whole or not at all) and return the record."""
    av = _av()
    try:
        total = count_frames(video)
        keep = official_indices(total, max_saved)
        if not keep:
            raise DataError(f"video {video} has no decodable frame", "replace the video file")
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.extracting-"))
        wanted = {idx: k for k, idx in enumerate(keep)}
        with av.open(str(video)) as c:
            for n, frame in enumerate(c.decode(video=0)):
                if n in wanted:
                    frame.to_image().save(tmp / f"frame_{wanted[n] + 1:04d}.jpg", quality=95)
                if n >= keep[-1]:
                    break
    except av.error.FFmpegError as e:
        raise DataError(f"cannot decode video {video} ({type(e).__name__}: {e})".replace("\n", " "),
                        "replace the video file or extract its frames by hand") from None
    record = {"video": str(video), "total_frames": total, "indices": keep, "max_frames_saved": max_saved,
              "decoder": f"PyAV {av.__version__}"}
    (tmp / MARKER).write_text(json.dumps(record), encoding="utf-8")
    try:
        os.rename(tmp, folder)  # all frames appear at once; a folder another process finished first is kept
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.is_dir():
            raise
    log.info("extracted %d frames of %s into %s (official rule, %d decoded)", len(keep), video, folder, total)
    return record


def ensure_frames(folder: str, *, extract: bool) -> Path | None:
    """The video a missing frame folder comes from (None: no video); with ``extract``, extract it now."""
    video = video_for(folder)
    if video is not None and extract:
        extract_frames(video, Path(folder))
    return video


def is_video(path: str) -> bool:
    return path.endswith(VIDEO_SUFFIXES)


def was_extracted(folder: str | os.PathLike[str]) -> bool:
    return (Path(folder) / MARKER).is_file()
