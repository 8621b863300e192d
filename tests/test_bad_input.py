"""A corpus of bad input, each case through the real loaders or run loop, each message asserted."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from umeval.core.errors import DataError, UmevalError
from umeval.core.registry import discover_tasks
from umeval.core.types import Item
from umeval.encoders.base import l2_normalise
from umeval.loaders import LoadContext, load_task, preflight
from umeval.testing.fixtures import write_fixture


def fixture(task: str, tmp: Path) -> tuple[Path, object]:
    spec = discover_tasks().get(task)
    root = write_fixture(spec, tmp)
    return root, spec


def rewrite_rows(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    table = pq.read_table(path)
    rows = edit(table.to_pylist())
    pq.write_table(type(table).from_pylist(rows, schema=table.schema), path)


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def load_error_after_edit(task: str, tmp: Path, row: int, **fields: object) -> tuple[Path, str]:
    """Write the task's fixture, set ``fields`` in one row of its first parquet file, load: the one-line error."""
    root, spec = fixture(task, tmp)
    f = next((root / spec.source.hub_id).rglob("*.parquet"))
    rewrite_rows(f, lambda rows: [{**r, **fields} if i == row else r for i, r in enumerate(rows)])
    with pytest.raises(DataError) as e:
        load_task(spec, LoadContext(data_root=root))
    return f, one_line(e)


def test_missing_local_copy_with_hub_off(tmp_path):
    spec = discover_tasks().get("MSR-VTT")
    with pytest.raises(DataError) as e:
        preflight(spec, LoadContext(data_root=tmp_path, allow_hub=False))
    msg = one_line(e)
    assert "task MSR-VTT" in msg and "VLM2Vec/MSR-VTT/test_1k/test-*.parquet" in msg and "hf download" in msg


def test_missing_image_file_is_named_when_encoded(tmp_path, tiny_encoder):
    root, spec = fixture("CIRR", tmp_path)
    data = load_task(spec, LoadContext(data_root=root))
    Path(data.queries[2].image).unlink()
    with pytest.raises(DataError) as e:
        tiny_encoder.embed(data.queries, task="CIRR")
    msg = one_line(e)
    assert "task CIRR" in msg and "row 2" in msg and "does not exist" in msg


def test_empty_and_missing_frame_folders(tmp_path):
    root, spec = fixture("MSVD", tmp_path)
    folder = root / spec.source.media_dir / "video1"
    for f in folder.iterdir():
        f.unlink()
    with pytest.raises(DataError) as e:
        load_task(spec, LoadContext(data_root=root))
    assert "has no .jpg/.jpeg/.png frames" in one_line(e) and "row 1" in str(e.value)
    folder.rmdir()
    with pytest.raises(DataError) as e:
        load_task(spec, LoadContext(data_root=root))
    assert "frame folder" in one_line(e) and "does not exist" in str(e.value)


def test_malformed_row_missing_field(tmp_path):
    f, msg = load_error_after_edit("NExTQA", tmp_path, 1, question=None)
    assert "task NExTQA" in msg and str(f) in msg and "row 1: missing field(s) question" in msg
    f, msg = load_error_after_edit("Video-MME", tmp_path / "a", 1, question=None)
    assert "task Video-MME" in msg and str(f) in msg and "row 1" in msg and "malformed row" in msg
    _, msg = load_error_after_edit("MSR-VTT", tmp_path / "b", 3, caption=None)
    assert "row 3: missing field(s) caption" in msg


def test_duplicate_ids_and_unknown_qrels_documents(tmp_path):
    root, spec = fixture("ViDoRe_docvqa", tmp_path)
    corpus = next((root / spec.source.hub_id / "corpus").glob("*.parquet"))
    qrels = next((root / spec.source.hub_id / "qrels").glob("*.parquet"))
    rewrite_rows(qrels, lambda rows: rows + [{**rows[0], "corpus-id": "no-such-page"}])
    with pytest.raises(DataError) as e:
        load_task(spec, LoadContext(data_root=root))
    assert "qrel points at unknown corpus-id 'no-such-page'" in one_line(e) and str(qrels) in str(e.value)
    rewrite_rows(corpus, lambda rows: rows + [rows[0]])
    with pytest.raises(DataError) as e:
        load_task(spec, LoadContext(data_root=root))
    assert "duplicate corpus-id 'doc0'" in one_line(e)


def test_path_escaping_the_data_root(tmp_path):
    _, msg = load_error_after_edit("NIGHTS", tmp_path, 0, qry_img_path="../../../etc/passwd")
    assert "escapes the data root" in msg and "row 0" in msg


def test_corrupt_parquet(tmp_path):
    root, spec = fixture("K700", tmp_path)
    f = next((root / spec.source.hub_id).rglob("*.parquet"))
    f.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError) as e:
        load_task(spec, LoadContext(data_root=root))
    assert "cannot read parquet" in one_line(e) and str(f) in str(e.value)


def test_bad_answer_index(tmp_path):
    root, spec = fixture("EgoSchema", tmp_path)
    f = next((root / spec.source.hub_id).rglob("*.parquet"))
    rewrite_rows(f, lambda rows: [{**r, "answer": "7"} if i == 0 else r for i, r in enumerate(rows)])
    with pytest.raises(DataError) as e:
        load_task(spec, LoadContext(data_root=root))
    assert "answer index 7 is outside the 4 options" in one_line(e)


def test_nan_embedding_names_the_item():
    items = [Item(id="a", source=("f.parquet", 0)), Item(id="b", source=("f.parquet", 1))]
    with pytest.raises(UmevalError) as e:
        l2_normalise(np.array([[1.0, 0.0], [np.nan, 1.0]]), items, task="T")
    assert "task T: the embedding of item b (file f.parquet, row 1) is NaN, inf or zero" in one_line(e)


def test_trust_remote_code_is_off_by_default():
    from umeval.core.config import compose_config

    assert compose_config(["model=ume-r1-7b"]).model.trust_remote_code is False
    assert dataclasses.fields  # the flag is only set by a model config that asks for it
