"""``umeval cache ls|du|prune`` on a store the test fills: what is current, stale, orphan or unrecorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import umeval
from umeval.cli import main
from umeval.run.store import EmbeddingStore


@pytest.fixture
def filled(tmp_path: Path, imagenet_root: Path) -> Path:
    """A cache with the oracle's vectors under two fingerprints (the current one, and one with 4 frames per video:
    a keyed setting; the seed no longer is, issue 21), a store of a model no preset has, and a shard written
    before fingerprints were recorded."""
    cache = tmp_path / "cache"
    for frames in (8, 4):
        umeval.evaluate(model="oracle", tasks=["ImageNet-1K"], data_root=imagenet_root, output_dir=tmp_path / "out",
                        cache_dir=cache, hub=False, progress=False, overrides=[f"model.num_frames={frames}"],
                        overwrite=True)
    emb = cache / "embeddings"
    shutil.copytree(emb / "oracle", emb / "gone-model")
    EmbeddingStore(emb / "oracle").put(["k1", "k2"], np.eye(2, 4, dtype=np.float32))  # no fingerprint recorded
    (cache / "pages").mkdir()
    (cache / "pages" / "p.png").write_bytes(b"x" * 1000)
    return cache


def ls(cache: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict]:
    capsys.readouterr()
    assert main(["cache", "ls", f"cache_dir={cache}", "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_ls_names_each_fingerprint_and_why_it_is_not_current(filled, capsys):
    """Catches a listing that calls every fingerprint current (or none), or misses what changed."""
    rows = ls(filled, capsys)
    by = {(r["store"], r["status"]): r for r in rows}
    assert sorted((r["store"], r["status"]) for r in rows) == [
        ("gone-model", "orphan"), ("gone-model", "orphan"), ("oracle", "current"), ("oracle", "stale"),
        ("oracle", "unrecorded")]
    assert by[("oracle", "current")]["entries"] == 22 and by[("oracle", "current")]["family"] == "oracle@1"
    assert by[("oracle", "stale")]["why"] == ["model.fields.num_frames: 4 -> 8"]
    assert by[("oracle", "unrecorded")]["entries"] == 2
    # The settings given are the configuration: with 4 frames the other fingerprint is the current one.
    assert {r["why"][0] for r in ls(filled, capsys, "model.num_frames=4")
            if r["status"] == "stale"} == {"model.fields.num_frames: 8 -> 4"}


def test_du_adds_up_the_files(filled, capsys):
    """Catches sizes that are not the bytes on disk (a folder left out, or counted twice)."""
    capsys.readouterr()
    assert main(["cache", "du", f"cache_dir={filled}", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    on_disk = sum(p.stat().st_size for p in filled.rglob("*") if p.is_file())
    assert d["total_bytes"] == on_disk
    assert {f["folder"] for f in d["folders"]} == {"embeddings/gone-model", "embeddings/oracle", "pages", "datafp",
                                                 "embeddings/media-hashes.sqlite"}
    assert main(["cache", "du", f"cache_dir={filled}"]) == 0
    assert "total" in capsys.readouterr().out


def test_prune_is_a_dry_run_until_yes_and_keeps_what_the_current_config_reads(filled, tmp_path, imagenet_root,
                                                                               capsys):
    """Catches a dry run that deletes, a prune that deletes the current fingerprint's vectors (the rerun would
    encode again) or an unrecorded shard without --unrecorded."""
    before = sorted(p.name for p in filled.rglob("shard-*.npz"))
    capsys.readouterr()
    assert main(["cache", "prune", f"cache_dir={filled}"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "would delete oracle" in out and "model.fields.num_frames: 4 -> 8" in out
    assert sorted(p.name for p in filled.rglob("shard-*.npz")) == before
    assert main(["cache", "prune", f"cache_dir={filled}", "--yes"]) == 0
    assert sorted(r["status"] for r in ls(filled, capsys)) == ["current", "unrecorded"]
    assert not list((filled / "embeddings" / "gone-model").glob("shard-*.npz"))
    r = umeval.evaluate(model="oracle", tasks=["ImageNet-1K"], data_root=imagenet_root, output_dir=tmp_path / "o2",
                        cache_dir=filled, hub=False, progress=False)
    assert r.encoder_calls == 0  # the current vectors survived
    assert main(["cache", "prune", f"cache_dir={filled}", "--unrecorded", "--yes"]) == 0
    assert [r["status"] for r in ls(filled, capsys)] == ["current"]


def test_multivector_shards_are_listed_and_pruned_whole(tmp_path, imagenet_root, capsys):
    """Catches late-interaction shards that ``cache ls`` does not see (they were never listed, so never pruned), a
    multi-vector shard written without its encoder fingerprint (it could only ever be 'unrecorded'), and a prune
    that deletes the index but leaves the tokens file (the bulk of the bytes) behind."""
    cache = tmp_path / "cache"
    for frames in (8, 4):
        umeval.evaluate(model="oracle-multivector", tasks=["ImageNet-1K"], data_root=imagenet_root,
                        output_dir=tmp_path / "out", cache_dir=cache, hub=False, progress=False,
                        overrides=[f"model.num_frames={frames}"], overwrite=True)
    store = cache / "embeddings" / "oracle-multivector"
    assert list(store.glob("mv-*.tokens.npy")) and not list(store.glob("shard-*.npz"))
    rows = ls(cache, capsys)
    assert sorted(r["status"] for r in rows) == ["current", "stale"]
    stale = next(r for r in rows if r["status"] == "stale")
    assert stale["why"] == ["model.fields.num_frames: 4 -> 8"] and stale["entries"] == 22
    mv_bytes = sum(p.stat().st_size for p in store.glob("mv-*"))
    assert sum(r["bytes"] for r in rows) == mv_bytes  # tokens files counted
    assert main(["cache", "prune", f"cache_dir={cache}", "--yes"]) == 0
    assert [r["status"] for r in ls(cache, capsys)] == ["current"]
    left = sorted(p.name.split(".")[0] for p in store.glob("mv-*"))
    assert len(left) == 2 * len(set(left))  # every remaining shard has both its files; no orphan tokens file
    r = umeval.evaluate(model="oracle-multivector", tasks=["ImageNet-1K"], data_root=imagenet_root,
                        output_dir=tmp_path / "o2", cache_dir=cache, hub=False, progress=False)
    assert r.encoder_calls == 0
