"""`umeval data fetch|status`, the run's data check and frames from videos.

The fetch tests run the real ``huggingface_hub`` client against a hub served on 127.0.0.1 by the test
(tests/hub_server.py) holding archives built here in the official layout, one split in parts.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hub_server import Hub

from umeval.cli import main as cli
from umeval.core.errors import DataError
from umeval.core.registry import resolve_tasks
from umeval.testing.fixtures import write_fixture

TASKS = ["MSR-VTT", "Video-MME", "N24News", "ViDoRe_arxivqa"]
SEL = "task=[MSR-VTT,Video-MME,N24News,ViDoRe_arxivqa]"
QA_PARTS = 3


def _tar_gz(root: Path, folder: Path, prefix: str) -> bytes:
    """``folder``'s content as a .tar.gz whose members start with ``prefix`` (deterministic bytes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in sorted(folder.rglob("*")):
            info = tar.gettarinfo(str(p), arcname=prefix + str(p.relative_to(folder)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if p.is_file():
                with open(p, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


def tmp_split(folder: Path, out_dir: Path) -> tuple[Path, Path]:
    """``folder``'s subfolders in two halves, as two folders (hard links) under ``out_dir``."""
    subs = sorted(p for p in folder.iterdir() if p.is_dir())
    out = []
    for k, half in enumerate((subs[: len(subs) // 2], subs[len(subs) // 2:])):
        d = out_dir / f"half{k}"
        if not d.exists():
            for sub in half:
                shutil.copytree(sub, d / sub.name, copy_function=os.link)
        out.append(d)
    return out[0], out[1]


def _files(root: Path) -> dict[str, bytes]:
    skip = {".expected", ".umeval", ".cache"}  # answer keys, fetch markers, the hub client's download records
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(root).parts)}


def build_hub(src: Path, *, corrupt: str | None = None) -> Hub:
    """A hub holding the tasks' annotation repos and the MMEB-V2 archives made from the fixture at ``src``."""
    hub = Hub()
    for spec in resolve_tasks(TASKS):
        repo = src / spec.source.hub_id
        for p in repo.rglob("*"):
            if p.is_file():
                hub.add(spec.source.hub_id, str(p.relative_to(repo)), p.read_bytes())
        hub.add(spec.source.hub_id, "README.md", b"# card\n")  # not needed: never downloaded
    hub.add("ziyjiang/MMEB_Test_Instruct", "OtherTask/test-00000-of-00001.parquet", b"not needed")
    frames = src / "video-tasks" / "frames"
    hub.add("TIGER-Lab/MMEB-V2", "image-tasks/mmeb_v1.tar.gz", _tar_gz(src, src / "image-tasks", "MMEB/"))
    hub.add("TIGER-Lab/MMEB-V2", "video-tasks/frames/video_ret.tar.gz", _tar_gz(src, frames / "video_ret", ""))
    # As the official video_qa parts may be: several tar.gz written one after another (a multi-member gzip of
    # tars, each with its end-of-archive blocks), then split; a reader that stops at the first gzip member or
    # at the first end-of-archive unpacks half of it.
    qa_src = frames / "video_qa" / "Video-MME"
    first, second = tmp_split(qa_src, src.parent / f"{src.name}-halves")
    qa = _tar_gz(src, first, "video_qa/Video-MME/") + _tar_gz(src, second, "video_qa/Video-MME/")
    cut = [qa[i * len(qa) // QA_PARTS:(i + 1) * len(qa) // QA_PARTS] for i in range(QA_PARTS)]
    for i, part in enumerate(cut):
        hub.add("TIGER-Lab/MMEB-V2", f"video-tasks/frames/video_qa.tar.gz-{i:02d}", part)
    hub.add("TIGER-Lab/MMEB-V2", "video-tasks/frames/video_cls.tar.gz", b"x" * 5000)  # not needed
    hub.add("TIGER-Lab/MMEB-V2", "visdoc-tasks/visdoc-tasks.images.tar.gz", b"y" * 5000)  # not needed
    if corrupt:
        data = hub.repos["TIGER-Lab/MMEB-V2"][corrupt]
        hub.repos["TIGER-Lab/MMEB-V2"][corrupt] = data[:40] + bytes(len(data) - 40)  # valid header, zeroed rest
    return hub.start()


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("official")
    for spec in resolve_tasks(TASKS):
        write_fixture(spec, root, seed=1)
    return root


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The hub client as a user has it: online (conftest turns it off for every other test), its cache in tmp."""
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("UMEVAL_CACHE", str(tmp_path / "cache"))


def test_dry_run_prints_files_and_bytes_and_downloads_nothing(src, online, tmp_path, monkeypatch, capsys):
    hub = build_hub(src)
    try:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        assert cli(["data", "fetch", "task=[MSR-VTT,N24News]", f"data_root={tmp_path / 'd'}", "--dry-run"]) == 0
    finally:
        hub.stop()
    out = capsys.readouterr().out
    ann = hub.repos["VLM2Vec/MSR-VTT"]["test_1k/test-00000-of-00001.parquet"]
    assert "VLM2Vec/MSR-VTT/test_1k/test-00000-of-00001.parquet" in out
    assert "TIGER-Lab/MMEB-V2/image-tasks/mmeb_v1.tar.gz" in out
    assert "TIGER-Lab/MMEB-V2/video-tasks/frames/video_ret.tar.gz" in out
    assert "video_qa" not in out and "video_cls" not in out and "README" not in out and "OtherTask" not in out
    total = (len(ann) + len(hub.repos["ziyjiang/MMEB_Test_Instruct"]["N24News/test-00000-of-00001.parquet"])
             + len(hub.repos["TIGER-Lab/MMEB-V2"]["image-tasks/mmeb_v1.tar.gz"])
             + len(hub.repos["TIGER-Lab/MMEB-V2"]["video-tasks/frames/video_ret.tar.gz"]))
    from umeval.data.fetch import human

    assert f"4 file(s), {human(total)} to download; 2 archive(s) to unpack" in out
    assert hub.downloads() == [] and not (tmp_path / "d").exists()


def test_fetch_resumes_unpacks_verifies_and_a_second_fetch_downloads_nothing(src, online, tmp_path, monkeypatch,
                                                                               capsys):
    """Catches: a part left out or out of order (tree differs), a resume that restarts or corrupts the file
    (sha256 / Range checks), a second fetch that downloads again, status that misses a deleted file."""
    hub = build_hub(src)
    root = tmp_path / "d"
    try:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        part = "video-tasks/frames/video_qa.tar.gz-01"
        hub.cut_once.add(part)
        # The client writes what it received in chunks (10 MB by default); with small chunks the half it gets
        # before the cut is on disk, so the retry must ask for the rest (a Range request) rather than restart.
        import huggingface_hub.constants as c

        monkeypatch.setattr(c, "DOWNLOAD_CHUNK_SIZE", 1024)
        assert cli(["data", "fetch", SEL, f"data_root={root}"]) == 0
        ranges = [r for m, p, r in hub.log if m == "GET" and p.endswith(part)]
        assert len(ranges) == 2 and ranges[0] is None and ranges[1] and ranges[1] != "bytes=0-"  # resumed
        assert _files(root) == _files(src)  # the official layout, every file, same bytes; no archive left
        n_before = len(hub.log)
        assert cli(["data", "fetch", SEL, f"data_root={root}"]) == 0
        second = hub.log[n_before:]
        assert second and all(p.startswith("/api/") for _, p, _ in second), second  # listings only
        assert "0 file(s), 0 B to download" in capsys.readouterr().out
    finally:
        hub.stop()
    assert cli(["data", "status", SEL, f"data_root={root}"]) == 0
    victim = root / "image-tasks/N24News/images/0002.png"
    assert victim.exists()
    victim.unlink()
    capsys.readouterr()
    assert cli(["data", "status", SEL, f"data_root={root}", "--json"]) == 1
    rows = {r["task"]: r for r in json.loads(capsys.readouterr().out)}
    assert [t for t, r in rows.items() if not r["complete"]] == ["N24News"]
    assert rows["N24News"]["missing"] == ["image-tasks/N24News/images/0002.png"]
    assert rows["N24News"]["n_missing"] == 1


def test_the_fetched_root_is_what_a_run_reads(src, online, tmp_path, monkeypatch):
    """A run of the weight-free oracle on the fetched data scores every task perfectly (the data is whole)."""
    hub = build_hub(src)
    try:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        assert cli(["data", "fetch", "task=[MSR-VTT,N24News]", f"data_root={tmp_path / 'd'}"]) == 0
    finally:
        hub.stop()
    r = _run("task=[MSR-VTT,N24News]", f"data_root={tmp_path / 'd'}", f"output_dir={tmp_path / 'o'}", cache=tmp_path)
    assert r.returncode == 0, r.stderr
    import pandas as pd

    df = pd.read_parquet(tmp_path / "o" / "oracle" / "leaderboard.parquet")
    assert set(df[(df.level == "task") & df.is_main].value) == {1.0}


def test_a_damaged_archive_is_rejected_in_one_line_naming_it(src, online, tmp_path, monkeypatch, capsys):
    """Catches: a truncated or zeroed archive unpacked silently (or a traceback instead of a line)."""
    hub = build_hub(src, corrupt="video-tasks/frames/video_ret.tar.gz")
    root = tmp_path / "d"
    try:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        assert cli(["data", "fetch", "task=MSR-VTT", f"data_root={root}"]) == 2
    finally:
        hub.stop()
    # (the hub client's progress bars share stderr)
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error")]
    assert line.startswith("error: archive ") and "video_ret.tar.gz is damaged" in line and "delete" in line
    assert not (root / ".umeval" / "unpacked" / "video_ret.json").exists()


def test_too_little_disk_is_refused_in_one_line(tmp_path):
    from umeval.data.fetch import FetchPlan, HubFile, RepoPlan, check_disk

    plan = FetchPlan(data_root=tmp_path / "new" / "root", archives=[],
                     repos=[RepoPlan("a/b", "main", "0" * 40, [HubFile("a/b", "x.parquet", 10**18, None)])])
    with pytest.raises(DataError, match=r"not enough disk at .*needs about 1000000\.0 TB") as e:
        check_disk(plan)
    assert "\n" not in str(e.value)
    plan.repos[0].files[0] = HubFile("a/b", "x.parquet", 10, None)
    check_disk(plan)


# ---------------------------------------------------------------- status and the run's data check

def test_status_names_missing_files_and_recognises_the_older_momentseeker(tmp_path, capsys):
    """Catches: status reading only the annotations (a missing frame folder passes), missing files not
    counted, a copy with another row count not told apart from the official one."""
    root = tmp_path / "d"
    for spec in resolve_tasks(["MSR-VTT", "MomentSeeker"]):
        write_fixture(spec, root, seed=1)
    (ms,) = (root / "VLM2Vec" / "MomentSeeker").rglob("*.parquet")
    t = pq.read_table(ms)
    pq.write_table(pa.concat_tables([t] * (1800 // t.num_rows + 1)).slice(0, 1800), ms)
    assert cli(["data", "status", "task=MomentSeeker", f"data_root={root}"]) == 0
    out = capsys.readouterr().out
    assert "1800 queries (official 1602)" in out and "older copy before deduplication" in out
    assert cli(["data", "status", "task=MomentSeeker", f"data_root={root}", "--strict"]) == 1
    for v in ("video1", "video3", "video4"):
        shutil.rmtree(root / "video-tasks/frames/video_ret/MSR-VTT" / v)
    capsys.readouterr()
    assert cli(["data", "status", "task=MSR-VTT", f"data_root={root}"]) == 1
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "3 media file(s) missing" in out
    assert "video-tasks/frames/video_ret/MSR-VTT/video1" in out


def _run(*args: str, cache: Path, model: str = "oracle") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UMEVAL_CACHE": str(cache / "cache"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "umeval.cli", "run", f"model={model}", "progress=false", *args],
                          capture_output=True, text=True, env=env, timeout=600, check=False)


def test_run_lists_every_incomplete_task_at_once_before_weights_load(src, tmp_path):
    """Catches: the run stopping at the first incomplete task, or finding it only when its turn comes."""
    root = tmp_path / "d"
    shutil.copytree(src, root)
    shutil.rmtree(root / "VLM2Vec" / "MSR-VTT")  # annotations
    (root / "image-tasks/N24News/images").joinpath(sorted(os.listdir(root / "image-tasks/N24News/images"))[0]).unlink()
    shutil.rmtree(root / "video-tasks/frames/video_qa/Video-MME/qa1")  # a frame folder
    # tiny-qwen2vl has weights to load; the check must come first (no model directory is ever made).
    r = _run(SEL, f"data_root={root}", f"output_dir={tmp_path / 'o'}", cache=tmp_path, model="tiny-qwen2vl")
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert "3 of 4 task(s) have incomplete data" in line
    for t in ("task MSR-VTT", "task N24News", "task Video-MME"):
        assert t in line
    assert not (tmp_path / "cache" / "models").exists()
    r = _run(SEL, f"data_root={root}", f"output_dir={tmp_path / 'o'}", "keep_going=true", cache=tmp_path)
    assert r.returncode == 1, r.stderr
    import pandas as pd

    df = pd.read_parquet(tmp_path / "o" / "oracle" / "leaderboard.parquet")
    status = dict(df[df.level == "task"].groupby("task").status.first())
    assert status == {"MSR-VTT": "failed", "N24News": "failed", "Video-MME": "failed", "ViDoRe_arxivqa": "ok"}


# ---------------------------------------------------------------- frames from videos

BITS = 8


def make_video(path: Path, n: int) -> None:
    """``n`` frames, frame ``i`` showing ``i`` in binary as 8 black/white blocks (survives lossy coding)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 256, 32, "yuv420p"
        s.options = {"qscale": "2"}
        for i in range(n):
            img = np.zeros((32, 256, 3), dtype=np.uint8)
            for b in range(BITS):
                if i >> b & 1:
                    img[:, b * 32:(b + 1) * 32] = 255
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


def frame_number(path: str) -> int:
    from PIL import Image

    a = np.asarray(Image.open(path).convert("L"), dtype=float)
    return sum(1 << b for b in range(BITS) if a[:, b * 32 + 8:(b + 1) * 32 - 8].mean() > 128)


def official_rule(total: int, max_saved: int = 64) -> list[int]:
    """The official save_frames rule, restated here independently of umeval.data.frames."""
    if total <= max_saved:
        return list(range(total))
    return [i * total // max_saved for i in range(max_saved)]  # exact: floor(i * total / max_saved)


@pytest.mark.parametrize("total", [40, 100, 201])
def test_extracted_frames_are_the_official_ones(tmp_path, total):
    """Catches: another sampling rule (linspace, rounding, an off-by-one in the frame count) or a wrong order."""
    from umeval.data.frames import extract_frames

    video = tmp_path / "videos" / "v.mp4"
    make_video(video, total)
    out = tmp_path / "frames" / "v"
    extract_frames(video, out)
    names = sorted(p.name for p in out.glob("*.jpg"))
    want = official_rule(total)
    assert names == [f"frame_{k + 1:04d}.jpg" for k in range(len(want))]
    assert [frame_number(str(out / n)) % 256 for n in names] == [i % 256 for i in want]
    assert json.loads((out / ".umeval-extracted.json").read_text())["total_frames"] == total


def test_a_video_task_with_videos_but_no_frames_runs(tmp_path, capsys):
    """Catches: a missing frame folder failing although its video is there, and status not saying so."""
    from umeval.loaders import LoadContext, load_task

    root = tmp_path / "d"
    (spec,) = resolve_tasks(["MSR-VTT"])
    write_fixture(spec, root, seed=1)
    frames = root / "video-tasks/frames/video_ret/MSR-VTT/video2"
    shutil.rmtree(frames)
    make_video(root / "video-tasks/videos/video_ret/MSR-VTT/video2.mp4", 90)
    assert cli(["data", "status", "task=MSR-VTT", f"data_root={root}"]) == 0
    assert "1 video(s) to extract" in capsys.readouterr().out
    assert not frames.exists()  # the check does not extract
    data = load_task(spec, LoadContext(data_root=root, num_frames=8))
    (item,) = [c for c in data.candidates if c.id == "video2"]
    # 90 decoded frames -> 64 saved (official rule) -> 8 sampled by the loader at linspace(0, 63, 8)
    saved = official_rule(90)
    assert [frame_number(p) for p in item.video] == [saved[i] for i in np.linspace(0, 63, 8).astype(int)]
    assert cli(["data", "status", "task=MSR-VTT", f"data_root={root}"]) == 0
    assert "1 frame folder(s) extracted by umeval" in capsys.readouterr().out


def test_hub_server_serves_what_it_holds():
    """The test hub itself: the SHA-256 it reports is the bytes it serves (else the fetch tests prove nothing)."""
    import urllib.request

    hub = Hub()
    hub.add("a/b", "x/y.bin", b"hello world")
    hub.start()
    try:
        info = json.load(urllib.request.urlopen(f"{hub.endpoint}/api/datasets/a/b?blobs=True"))
        body = urllib.request.urlopen(f"{hub.endpoint}/datasets/a/b/resolve/{info['sha']}/x/y.bin").read()
    finally:
        hub.stop()
    assert info["siblings"][0]["lfs"]["sha256"] == hashlib.sha256(body).hexdigest() and body == b"hello world"


def test_status_fails_a_task_missing_one_of_its_subsets(tmp_path, capsys):
    """Catches: a task that reads several subsets (MVBench, 20) counted complete when one subset's file is gone."""
    root = tmp_path / "d"
    (spec,) = resolve_tasks(["MVBench"])
    write_fixture(spec, root, seed=1)
    victim = sorted((root / "VLM2Vec" / "MVBench").rglob("*.parquet"))[3]
    victim.unlink()
    assert cli(["data", "status", "task=MVBench", f"data_root={root}"]) == 1
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and victim.parent.name in out
