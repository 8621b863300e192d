"""``umeval data fetch``: download what the selected tasks need and unpack it into the official layout.

Plan first: one ``dataset_info`` call per hub repository (its commit and every file with size and LFS
SHA-256) gives the files each task needs (:mod:`umeval.data.manifest`), what is already there, the bytes to
download and the disk needed; too little free disk stops here, in one line.  Then ``huggingface_hub``
downloads (``snapshot_download`` pinned to the planned commit: parallel, resumable, with a progress bar),
each new file's SHA-256 is checked against the hub's, and archives are unpacked (parts concatenated in
order) into the data root.  An unpacked archive leaves a marker (``.umeval/unpacked/<archive>.json``, with
the parts' hashes) and its downloaded parts are deleted, so a second fetch downloads nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from umeval.core.errors import DataError, DependencyError
from umeval.core.spec import TaskSpec
from umeval.data.manifest import MEDIA_REPO, Archive, archive_of, match_annotations

MARKERS = ".umeval/unpacked"


@dataclass(frozen=True)
class HubFile:
    """One file of a hub repository that the plan needs."""

    repo: str
    path: str
    size: int
    sha256: str | None  # the LFS object id; None for a file kept in git (small)

    def local(self, data_root: Path) -> Path:
        return data_root / self.repo / self.path


@dataclass
class RepoPlan:
    repo: str
    revision: str  # as asked (e.g. "main")
    commit: str  # what it resolved to; downloads are pinned to it
    files: list[HubFile] = field(default_factory=list)  # still to download


@dataclass
class FetchPlan:
    """What a fetch does: files to download per repository, archives to unpack, and what is already there."""

    data_root: Path
    repos: list[RepoPlan]
    archives: list[tuple[Archive, list[HubFile]]]  # archives not yet unpacked, with their parts
    present: int = 0  # files already there
    unpacked: list[str] = field(default_factory=list)  # archives already unpacked

    @property
    def download_bytes(self) -> int:
        return sum(f.size for r in self.repos for f in r.files)

    @property
    def unpack_bytes(self) -> int:
        # A gzip of JPEG frames hardly shrinks them; the unpacked size is taken as the archive's (an estimate: the
        # hub reports no unpacked size).
        return sum(p.size for _, parts in self.archives for p in parts)

    @property
    def disk_needed(self) -> int:
        return self.download_bytes + self.unpack_bytes

    def lines(self) -> list[str]:
        out = []
        for r in self.repos:
            for f in r.files:
                out.append(f"  {human(f.size):>9}  {r.repo}/{f.path}")
        for a, _ in self.archives:
            out.append(f"  unpack     {MEDIA_REPO}:{a.pattern} -> {a.dest}/")
        n = sum(len(r.files) for r in self.repos)
        out.append(f"{n} file(s), {human(self.download_bytes)} to download; {len(self.archives)} archive(s) to "
                   f"unpack; about {human(self.disk_needed)} of disk needed at {self.data_root} "
                   f"({self.present} file(s) and {len(self.unpacked)} archive(s) already there)")
        return out


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def _api(endpoint: str | None) -> Any:
    try:
        from huggingface_hub import HfApi
    except ImportError:
        raise DependencyError("umeval data fetch needs huggingface_hub", "pip install huggingface_hub") from None
    return HfApi(endpoint=endpoint)


def _repo_files(api: Any, repo: str, revision: str) -> tuple[str, dict[str, HubFile]]:
    try:
        info = api.dataset_info(repo, revision=revision, files_metadata=True)
    except Exception as e:  # network, auth, missing repo: the same one line for the user
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"cannot list dataset {repo}@{revision} on the hub ({msg})",
                        "check the network, HF_ENDPOINT and HF_TOKEN") from None
    files = {s.rfilename: HubFile(repo, s.rfilename, int(s.lfs.size if s.lfs else (s.size or 0)),
                                  s.lfs.sha256 if s.lfs else None) for s in info.siblings or []}
    return str(info.sha), files


def marker_path(data_root: Path, archive: Archive) -> Path:
    return data_root / MARKERS / f"{archive.key}.json"


def _unpacked(data_root: Path, archive: Archive, parts: list[HubFile]) -> bool:
    try:
        done = json.loads(marker_path(data_root, archive).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return done.get("parts") == [[p.path, p.sha256, p.size] for p in parts]


def _present(f: HubFile, data_root: Path) -> bool:
    p = f.local(data_root)
    return p.is_file() and p.stat().st_size == f.size


def plan_fetch(specs: list[TaskSpec], data_root: Path, *, endpoint: str | None = None) -> FetchPlan:
    """What fetching ``specs`` into ``data_root`` downloads and unpacks (asks the hub for listings only)."""
    api = _api(endpoint)
    wanted: dict[tuple[str, str], set[str]] = {}
    archives: dict[str, Archive] = {}
    for spec in specs:
        if spec.source.generated:
            continue  # written by umeval itself
        wanted.setdefault((spec.source.hub_id, spec.source.revision), set())
        a = archive_of(spec)
        if a is not None:
            archives[a.key] = a
    listings: dict[tuple[str, str], tuple[str, dict[str, HubFile]]] = {
        key: _repo_files(api, *key) for key in wanted}
    for spec in specs:
        if spec.source.generated:
            continue
        key = (spec.source.hub_id, spec.source.revision)
        files, missing = match_annotations(spec, list(listings[key][1]))
        if missing:
            raise DataError(f"dataset {key[0]}@{key[1]} has no parquet files for {', '.join(missing)}",
                            "check the task's data source (umeval list tasks --json)", task=spec.name)
        wanted[key].update(files)
    plan = FetchPlan(data_root=data_root, repos=[], archives=[])
    media_key = (MEDIA_REPO, "main")
    if archives and media_key not in listings:
        listings[media_key] = _repo_files(api, *media_key)
    media_todo: list[HubFile] = []
    for a in archives.values():
        parts = [listings[media_key][1][p] for p in a.parts(list(listings[media_key][1]))]
        if not parts:
            raise DataError(f"{MEDIA_REPO} has no file matching {a.pattern}", "check the hub repository")
        if _unpacked(data_root, a, parts):
            plan.unpacked.append(a.key)
            continue
        plan.archives.append((a, parts))
        media_todo += parts
    for key, paths in sorted(wanted.items()):
        commit, listed = listings[key]
        rp = RepoPlan(repo=key[0], revision=key[1], commit=commit)
        for p in sorted(paths):
            if _present(listed[p], data_root):
                plan.present += 1
            else:
                rp.files.append(listed[p])
        plan.repos.append(rp)
    if media_key in listings:
        media_rp = next((r for r in plan.repos if r.repo == MEDIA_REPO), None)
        if media_rp is None:
            media_rp = RepoPlan(repo=MEDIA_REPO, revision="main", commit=listings[media_key][0])
            plan.repos.append(media_rp)
        rp = media_rp
        for f in media_todo:
            if _present(f, data_root):
                plan.present += 1
            else:
                rp.files.append(f)
    plan.repos = [r for r in plan.repos if r.files]
    return plan


def check_disk(plan: FetchPlan) -> None:
    """Refuse, in one line, a fetch the disk under the data root cannot hold."""
    where = plan.data_root
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free
    if plan.disk_needed > free:
        raise DataError(f"not enough disk at {plan.data_root}: the fetch needs about {human(plan.disk_needed)}, "
                        f"{human(free)} is free", "free some space or point data_root= at a larger disk")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(plan: FetchPlan, *, endpoint: str | None = None, max_workers: int = 8) -> None:
    """Download the plan's files (pinned to the planned commits) and check each against the hub's SHA-256."""
    from huggingface_hub import snapshot_download

    for rp in plan.repos:
        local = plan.data_root / rp.repo
        try:
            snapshot_download(rp.repo, repo_type="dataset", revision=rp.commit, local_dir=local,
                              allow_patterns=[f.path for f in rp.files], endpoint=endpoint, max_workers=max_workers)
        except Exception as e:  # the library retried and resumed already; what is left is for the user
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise DataError(f"downloading {rp.repo} failed ({msg})",
                            "run the same command again: finished files are kept and a partial one resumes") from None
        for f in rp.files:
            p = f.local(plan.data_root)
            if not p.is_file() or p.stat().st_size != f.size:
                raise DataError(f"{p} is missing or has the wrong size after download", "run the same command again")
            if f.sha256 and _sha256(p) != f.sha256:
                p.unlink()
                raise DataError(f"{rp.repo}/{f.path} does not match the hub's SHA-256 (deleted)",
                                "run the same command again")


class _Chain(io.RawIOBase):
    """The parts of a split archive read one after another (what ``cat part-00 part-01 ... |`` gives)."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths = iter(paths)
        self._f: io.BufferedReader | None = None
        self._next()

    def _next(self) -> None:
        if self._f is not None:
            self._f.close()
        p = next(self._paths, None)
        self._f = open(p, "rb") if p is not None else None  # noqa: SIM115 (closed in _next/close)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while self._f is not None:
            n = self._f.readinto(b)
            if n:
                return n
            self._next()
        return 0

    def close(self) -> None:
        while self._f is not None:
            self._next()
        super().close()


def _members(tar: tarfile.TarFile, strip: str) -> Iterator[tarfile.TarInfo]:
    for m in tar:
        if strip:
            if m.name.rstrip("/") + "/" == strip:
                continue  # the stripped top folder itself
            if m.name.startswith(strip):
                m.name = m.name[len(strip):]
        yield m


def _open_tar(paths: list[Path]) -> tarfile.TarFile:
    """The archive made of ``paths`` as one tar stream.

    Gzip is undone by :class:`gzip.GzipFile`, which reads every member of a multi-member gzip (what
    concatenating gzip files gives; tarfile's own stream reader stops after the first member), and the tar is
    read with ``ignore_zeros`` (tar archives written one after another, each with its end-of-archive blocks, are
    read to the end as ``tar --ignore-zeros`` does).  Users of the official ``video_qa`` parts have reported that
    a plain ``tar -xz`` unpacks only MVBench from them (TIGER-AI-Lab/VLM2Vec issue 201).
    """
    buffered = io.BufferedReader(_Chain(paths), 1 << 20)
    raw: io.BufferedIOBase = buffered
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        raw = gzip.GzipFile(fileobj=buffered, mode="rb")
    return tarfile.open(fileobj=raw, mode="r|", ignore_zeros=True)


def unpack(plan: FetchPlan, *, keep_archives: bool = False) -> None:
    """Unpack the plan's archives into the data root; a damaged one stops with a line naming it."""
    for a, parts in plan.archives:
        paths = [p.local(plan.data_root) for p in parts]
        dest = plan.data_root / a.dest
        dest.mkdir(parents=True, exist_ok=True)
        name = paths[0] if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1} parts)"
        fix = f"delete {paths[0].parent}/{Path(a.pattern).name} and run the same command again"
        n = 0
        try:
            with _open_tar(paths) as tar:
                for m in _members(tar, a.strip):
                    tar.extract(m, dest, filter="data")  # refuses members that would land outside dest
                    n += 1
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
            raise DataError(f"archive {name} is damaged ({type(e).__name__}: {e})".replace("\n", " "), fix) from None
        if n == 0:
            raise DataError(f"archive {name} holds no files", fix)
        marker = marker_path(plan.data_root, a)
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(json.dumps({"archive": a.key, "dest": a.dest, "members": n,
                                   "parts": [[p.path, p.sha256, p.size] for p in parts]}), encoding="utf-8")
        os.replace(tmp, marker)
        if not keep_archives:
            for p in paths:
                p.unlink(missing_ok=True)


def fetch(specs: list[TaskSpec], data_root: Path, *, endpoint: str | None = None, dry_run: bool = False,
          keep_archives: bool = False, echo: Any = print) -> FetchPlan:
    """Plan, print the plan, check the disk, download, verify and unpack (``dry_run``: plan and print only)."""
    plan = plan_fetch(specs, data_root, endpoint=endpoint)
    for line in plan.lines():
        echo(line)
    if dry_run:
        return plan
    check_disk(plan)
    download(plan, endpoint=endpoint)
    unpack(plan, keep_archives=keep_archives)
    return plan
