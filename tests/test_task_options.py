"""Task options are declared by their loader and checked when a task is registered.

The bug these catch: a misspelt or mistyped option in a task spec (``query_sufix`` in tasks/image.py) was
ignored by the loader, which silently fell back to its default and so changed the official text.
"""

from __future__ import annotations

import dataclasses

import pytest

from umeval.core.errors import ConfigError
from umeval.core.registry import TASKS, discover_tasks, register_task
from umeval.loaders import mmeb_image
from umeval.loaders.registry import Option, check_task_options, discover_loaders


def _variant(name: str, **options: object):
    spec = discover_tasks().get("CIRR")
    return dataclasses.replace(spec, name=name, aliases=(), options={**spec.options, **options})


def test_misspelt_option_fails_at_registration_with_did_you_mean():
    spec = _variant("CIRR-typo", query_sufix="\n")
    with pytest.raises(ConfigError) as e:
        register_task(spec)
    msg = str(e.value)
    assert "unknown option 'query_sufix'" in msg and "did you mean query_suffix?" in msg
    assert "\n" not in msg.strip()
    assert "CIRR-typo" not in TASKS  # nothing half-registered


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("query_suffix", 3, "is int 3, expected str"),
    ("query_image", 1, "is int 1, expected bool"),
    ("candidate_name", "paths", "expected one of 'text', 'path', 'path:caption'"),
])
def test_mistyped_option_fails_at_registration(option, value, expected):
    with pytest.raises(ConfigError, match=expected):
        register_task(_variant(f"CIRR-{option}", **{option: value}))


def test_list_elements_and_required_options_are_checked():
    k700 = discover_tasks().get("K700")
    with pytest.raises(ConfigError, match="holds int 3, expected str elements"):
        check_task_options(dataclasses.replace(k700, options={"labels": ["a", 3]}))
    ms = discover_tasks().get("MomentSeeker")
    with pytest.raises(ConfigError, match="needs option"):
        check_task_options(dataclasses.replace(ms, options={}))


def test_every_registered_task_fits_its_loader_and_image_defaults_are_declared():
    """All shipped specs pass (registration would have raised), and every default the image loader applies is an
    option it declares (a default without a declaration could never be set from a spec)."""
    assert len(discover_tasks()) >= 78
    for _, spec in discover_tasks().items():
        check_task_options(spec)
    assert set(mmeb_image.DEFAULTS) == set(mmeb_image.OPTIONS)
    for name, entry in discover_loaders().items():
        assert all(isinstance(o, Option) and o.doc for o in entry.options.values()), name
