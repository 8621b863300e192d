"""The fixtures and the oracle that reads them: each class is decodable, unmistakable and in the right place."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from umeval.core.registry import discover_tasks
from umeval.core.types import Item
from umeval.data.synthetic import (
    CLASSES,
    COLOURS,
    SHAPES,
    STRONG_COVERAGE,
    WORD_ALIASES,
    draw,
    read_colour,
    write_frames,
)
from umeval.encoders.oracle import item_class, media_class, text_class
from umeval.loaders import LoadContext, load_task, sample_frames


def jpeg(im: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=90)
    return Image.open(io.BytesIO(buf.getvalue()))


@pytest.mark.parametrize("colour", CLASSES)
def test_every_colour_reads_back_through_jpeg_at_both_sizes(colour):
    """Catches palette colours too close to survive JPEG, and a coverage threshold that mixes strong/weak pages."""
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        for size, scale, strong in (((64, 48), 0.5, False), ((56, 72), 0.45, False), ((56, 72), 0.95, True)):
            im = draw(colour, shape, rng, size=size, scale=scale)
            for version in (im, jpeg(im)):
                got, coverage = read_colour(version)
                assert got == colour, (shape, size)
                assert (coverage >= STRONG_COVERAGE) == strong, (shape, size, coverage)


def test_class_words_never_occur_in_labels_or_instructions():
    """A class word inside an official label ("cutting_orange" in K700) or an instruction would give that
    candidate a class: the oracle would rank it with the relevant ones."""
    from pathlib import Path

    import umeval_tasks

    words = set(CLASSES) | set(WORD_ALIASES)
    texts = [p.read_text() for p in (Path(umeval_tasks.__file__).parent / "labels").glob("*.txt")]
    for _, spec in discover_tasks().items():
        texts += [i.query + " " + i.candidate for i in spec.instructions.values()]
        texts += [str(v) for v in spec.options.get("instructions", {}).values()]
    found = {w for t in texts for w in re.findall(r"[a-z]+", t.lower())} & words
    assert not found


def test_text_class_ignores_formatting():
    """The loaders may join instruction and text with placeholders and newlines; the class word is found anyway,
    and a text naming several classes (a QA question listing its options) has none."""
    assert text_class(Item(id="a", text="<|image_pad|>\nFind the RED one.\n")) == "red"
    assert text_class(Item(id="a", instruction="Represent the label:", text="blue_motion")) == "blue"
    assert text_class(Item(id="a", text="yes")) == WORD_ALIASES["yes"]
    assert text_class(Item(id="a", text="Question: which? (A) red (B) green")) is None
    assert text_class(Item(id="a", text="<|video_pad|> Understand the content of the provided video.")) is None


def test_frames_sampled_any_other_way_have_no_class(tmp_path):
    """Only linspace sampling over natural-sorted frames reads one colour; the last 8 frames, or a lexical sort,
    mix in the decoy colour.  Catches a frame sampler that drifts from the official one."""
    rng = np.random.default_rng(0)
    write_frames(tmp_path / "v", rng, "blue", n_frames=13)
    right = sample_frames(str(tmp_path / "v"), 8, task="t", file="f", row=0)
    assert media_class(Item(id="v", video=right))[0] == "blue"
    frames = sorted((tmp_path / "v").iterdir(), key=lambda p: int(p.stem.split("_")[1]))
    assert media_class(Item(id="v", video=tuple(str(p) for p in frames[-8:])))[0] is None
    lexical = sorted(str(p) for p in frames)
    assert media_class(Item(id="v", video=tuple(lexical[i] for i in np.linspace(0, 12, 8).astype(int))))[0] is None


@pytest.mark.parametrize("task", ["QVHighlight", "Charades-STA"])
def test_moment_rows_sharing_a_video_share_its_clips(task, tmp_path):
    """Two queries on one video rank the same clip candidates (each stored once) with the same positive.

    Catches clips appended once per row: the second copy of a clip shadows the first, so the earlier query's
    positive is never found (hit@1 = 0 under a perfect ranking).
    """
    from umeval.testing.fixtures import write_fixture

    spec = discover_tasks().get(task)
    data = load_task(spec, LoadContext(data_root=write_fixture(spec, tmp_path), allow_hub=False))
    ids = [c.id for c in data.candidates]
    assert len(ids) == len(set(ids)) == 12  # three videos of four clips
    assert data.pools[0].tolist() == data.pools[1].tolist()
    assert data.qrels["q0"] == data.qrels["q1"] == {"movie0/positive_0": 1.0}
    classes = {ids[i]: item_class(data.candidates[i])[0] for i in data.pools[0]}
    assert classes.pop("movie0/positive_0") == "red" and "red" not in classes.values()
    assert item_class(data.queries[0])[0] == item_class(data.queries[1])[0] == "red"


def test_colours_are_far_apart():
    """Each pair of palette colours differs by at least 60 in some channel (JPEG moves a flat colour by a few)."""
    values = list(COLOURS.values())
    for i, a in enumerate(values):
        for b in values[i + 1:]:
            assert max(abs(x - y) for x, y in zip(a, b)) >= 60
