"""What each task needs from the hub, and the official sizes a complete copy has.

A task needs two kinds of files:

- **annotations**: the parquet files of its hub dataset (``spec.source``), one folder per subset it reads,
  stored under ``<data_root>/<hub_id>/`` in the hub's own layout (where :func:`umeval.loaders.local_files`
  looks for them);
- **media archives** of the dataset repository ``TIGER-Lab/MMEB-V2``, chosen by the folder its media live in
  (``spec.source.media_dir``) and unpacked under the data root into the official layout.  The archive names
  and how each unpacks are the ones of the official download script (TIGER-AI-Lab/VLM2Vec
  ``experiments/public/data/download_data.sh``, same as QwenLM/Qwen3-VL-Embedding
  ``data/evaluation/mmeb_v2/download_data.sh``): the image archive holds a top folder ``MMEB/`` whose content
  goes into ``image-tasks/``; ``video_cls`` and ``video_ret`` unpack into a folder of their name, ``video_mret``
  and ``video_qa`` carry their folder; ``video_qa`` is split in parts that are concatenated in name order.

Visual-document tasks need no archive: their page images are embedded in the annotation parquet files, which
is also where the official evaluation reads them from (the hub datasets through ``datasets``).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from umeval.core.spec import TaskSpec

MEDIA_REPO = "TIGER-Lab/MMEB-V2"


@dataclass(frozen=True)
class Archive:
    """One media archive of the MMEB-V2 repository.

    ``pattern`` matches its file, or its parts (concatenated in sorted order); ``dest`` is the folder under the
    data root it unpacks into; ``strip`` a leading folder of its members that is dropped; ``provides`` the folder
    under the data root whose media it holds (a task whose ``media_dir`` lies under it needs this archive).
    """

    key: str
    pattern: str
    dest: str
    provides: str
    strip: str = ""

    def parts(self, repo_files: list[str]) -> list[str]:
        return sorted(f for f in repo_files if fnmatch.fnmatchcase(f, self.pattern))


_F = "video-tasks/frames"
ARCHIVES: tuple[Archive, ...] = (
    Archive("image", "image-tasks/mmeb_v1.tar.gz", dest="image-tasks", provides="image-tasks", strip="MMEB/"),
    Archive("video_cls", f"{_F}/video_cls.tar.gz", dest=f"{_F}/video_cls", provides=f"{_F}/video_cls"),
    Archive("video_ret", f"{_F}/video_ret.tar.gz", dest=f"{_F}/video_ret", provides=f"{_F}/video_ret"),
    Archive("video_mret", f"{_F}/video_mret.tar.gz", dest=_F, provides=f"{_F}/video_mret"),
    Archive("video_qa", f"{_F}/video_qa.tar.gz-[0-9]*", dest=_F, provides=f"{_F}/video_qa"),
)


def archive_of(spec: TaskSpec) -> Archive | None:
    """The media archive holding ``spec``'s media, or None (media embedded in its rows, or generated data)."""
    if spec.source.generated:
        return None
    media = spec.source.media_dir.strip("/")
    for a in ARCHIVES:
        if media == a.provides or media.startswith(a.provides + "/"):
            return a
    return None


def subsets_of(spec: TaskSpec) -> list[str | None]:
    """The hub subsets a task's loader reads (MVBench reads 20, a BEIR task its queries, corpus and qrels)."""
    opts = spec.options
    if opts.get("subsets"):
        return [str(s) for s in opts["subsets"]]
    if spec.family == "beir":
        return [str(opts.get(k, d)) for k, d in
                (("queries_subset", "queries"), ("corpus_subset", "corpus"), ("qrels_subset", "qrels"))]
    return [spec.source.subset]


def annotation_patterns(spec: TaskSpec) -> list[list[str]]:
    """For each subset the task reads, the repo paths its parquet files may have (the layouts ``local_files`` reads).

    A subset is satisfied by the files matching the first of its patterns that matches anything.
    """
    split = spec.source.split
    out = []
    for sub in subsets_of(spec):
        dirs = [f"{sub}/", f"data/{sub}/"] if sub else ["data/", ""]
        out.append([f"{d}{split}-*.parquet" for d in dirs] + [f"{d}{split}.parquet" for d in dirs])
    return out


def _matches(path: str, pattern: str) -> bool:
    # fnmatch's ``*`` crosses ``/``; a pattern names files of one folder only.
    return fnmatch.fnmatchcase(path, pattern) and path.count("/") == pattern.count("/")


def match_annotations(spec: TaskSpec, repo_files: list[str]) -> tuple[list[str], list[str]]:
    """The repo files a task's annotations are, and the subsets (``subset/split``) that matched nothing."""
    files: list[str] = []
    missing: list[str] = []
    for sub, patterns in zip(subsets_of(spec), annotation_patterns(spec)):
        for pat in patterns:
            hits = sorted(f for f in repo_files if _matches(f, pat))
            if hits:
                files += hits
                break
        else:
            missing.append(f"{sub or '(no subset)'}/{spec.source.split}")
    return files, missing


