"""Run configuration: dataclass schemas in Hydra's ConfigStore; YAML under conf/ only selects and overrides.

``compose_config(overrides)`` is what ``umeval run`` calls; tests call it too.  Errors from Hydra (an unknown
key, a bad value, an unknown group option) are turned into one-line :class:`ConfigError` messages.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from omegaconf import MISSING, DictConfig, OmegaConf

from umeval.core.errors import ConfigError
from umeval.core.plugins import suggest
from umeval.core.registry import CONF_DIR, model_names


@dataclass
class DecodingConfig:
    """How generative traces are decoded; recorded in every result row."""

    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 50
    top_p: float = 1.0
    max_new_tokens: int = 8192


@dataclass
class ModelConfig:
    name: str = MISSING
    family: str | None = None  # the model family (umeval/models/<family>/): encoders, prompt formats, cache key
    path: str | None = None  # local folder or hub id; None: built by `builder`
    revision: str = "main"
    builder: str | None = None  # "module:function(cache_dir) -> path", for checkpoints made offline
    encoder: str | None = None  # "module:Class" overriding the family's encoder for the backend (rarely needed)
    prompt: str | None = None  # one of the family's prompt formats; None: the family's first
    # Filled from the family when the config is composed: "module:function" of model.prompt per role ("query",
    # "candidate"), so an encoder writes prompts without asking the family registry.
    formats: dict[str, str] = field(default_factory=dict)
    # what the family declares for its encoders (position ids, slow image processor), filled at composition
    declared: dict[str, Any] = field(default_factory=dict)
    modes: list[str] = field(default_factory=lambda: ["disc"])
    min_pixels: int = 784
    max_pixels: int = 2359296
    num_frames: int = 8
    batch_tokens: int = 32768  # HF: a batch's padded text + visual tokens (estimated) stay under this
    submit_items: int = 1024  # items per encoder call and store write; vLLM: per generate/embed call
    instruction_set: str = "official"
    dtype: str = "auto"
    attn_implementation: str = "sdpa"
    trust_remote_code: bool = False
    vllm_args: dict[str, Any] = field(default_factory=dict)  # passed to vllm.LLM(...), e.g. tensor_parallel_size
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    options: dict[str, Any] = field(default_factory=dict)  # the family's own settings (its ModelMeta.options)
    description: str = ""


@dataclass
class ScorerConfig:
    search: str = "auto"  # search backend: auto (torch on a GPU, else faiss, else numpy) | faiss | numpy | torch
    device: str = "auto"  # the torch backend's device: auto (CUDA when visible, else cpu), cuda, cuda:1, cpu
    k: int = 10  # ranks kept per query (>= the largest cutoff of the task metrics)
    query_tile: int = 4096


@dataclass
class GenConfig:
    samples: int = 1
    seed: int = 0
    resample_candidates: bool = False


@dataclass
class RunConfig:
    task: Any = "mini"
    model: ModelConfig = field(default_factory=ModelConfig)
    scorer: ScorerConfig = field(default_factory=ScorerConfig)
    gen: GenConfig = field(default_factory=GenConfig)
    mode: str = "disc"  # disc | gen | both
    backend: str = "auto"  # hf | vllm | auto (vllm when installed and a GPU is present, else hf)
    output_dir: str = "results"
    data_root: str | None = None
    cache_dir: str | None = None
    batch_size: int = 8
    device: str = "auto"
    limit: int | None = None
    instruction_set: str | None = None  # None: the model's
    keep_going: bool = False
    overwrite: bool = False
    num_workers: int = 2
    hub: bool = True  # read from the hub through `datasets` when there is no local copy
    seed: int = 0
    progress: bool = True
    shard: str | None = None  # "i/n": encode this slice only; then run again without shard= to score
    store_dtype: str = "float32"  # float32 | float16: how the embedding store keeps vectors (see umeval.run.store)


_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="schema", node=RunConfig)
    _registered = True


_FIELD_HINT = re.compile(r"Key '([^']+)' is not in struct|Could not override '([^']+)'|Could not append to config")


#: Settings that were renamed: old name -> new name (the old one is a one-line error naming the new one).
#: ``scorer.backend`` and the model ``backend`` were two axes with one word: the search backend is ``scorer.search``.
RENAMED = {"scorer.backend": "scorer.search"}


def compose_config(overrides: list[str]) -> DictConfig:
    """The run config for ``overrides`` (Hydra syntax: ``key=value``, ``model=name``, ``+new=...``)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    _register()
    for ov in overrides:
        key, sep, value = ov.partition("=")
        if not sep and not ov.startswith("~"):  # ``~key`` deletes a setting (Hydra's syntax)
            raise ConfigError(f"bad argument '{ov}'", "write settings as key=value, e.g. task=mini")
        if key.lstrip("+~") in RENAMED:
            new = RENAMED[key.lstrip("+~")]
            raise ConfigError(f"the setting {key} was renamed {new}", f"pass {new}={value}")
        if key.lstrip("+~") == "model" and value not in model_names():
            hint = suggest(value, model_names())
            raise ConfigError(f"unknown model '{value}'",
                              (hint + " " if hint else "") + "see `umeval list models`")
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as e:
        msg = " ".join(str(e).split())
        m = _FIELD_HINT.search(msg)
        if m and (m.group(1) or m.group(2)):
            full = m.group(2) or m.group(1)
            if full.startswith("model.options."):  # a family's own setting the preset does not set yet
                raise ConfigError(f"the preset does not set {full}",
                                  f"add it with a leading +: +{full}=VALUE (`umeval list families` shows each "
                                  "family's options)") from None
            *parents, key = full.split(".")
            schema: Any = RunConfig
            for i, part in enumerate(parents):  # stop at the first unknown part: that is the typo
                if part not in schema.__dataclass_fields__:
                    parents, key = parents[:i], part
                    break
                schema = getattr(schema.__dataclass_fields__.get(part), "type", None)
                schema = globals().get(schema) if isinstance(schema, str) else schema
                if not hasattr(schema, "__dataclass_fields__"):
                    schema = None
                    break
            fields = sorted(schema.__dataclass_fields__) if schema else []
            where = f"settings of {'.'.join(parents)}" if parents else "top-level settings"
            hint = suggest(key, fields)
            raise ConfigError(f"unknown setting '{full}'",
                              f"valid {where}: {', '.join(fields)}" + (f"; {hint}" if hint else "")) from None
        cause = " ".join(str(e.__cause__).split()) if e.__cause__ else ""
        detail = cause.split(" full_key:")[0] if cause else msg
        raise ConfigError(f"bad configuration ({msg[:200]}): {detail[:200]}",
                          "check the override's spelling and value") from None
    validate_ranges(cfg)
    validate_choices(cfg)
    return cfg


#: Settings with a closed set of values, and that set.  They stay plain strings in the schema (not Enum
#: fields): they are hashed into fingerprints and written into result rows as they are, and an Enum would
#: change both; the check runs when the config is built, before any data or weights load.
CHOICES: dict[str, tuple[str, ...]] = {
    "mode": ("disc", "gen", "both"),
    "backend": ("auto", "hf", "vllm"),
    "scorer.search": ("auto", "faiss", "numpy", "torch"),
    "store_dtype": ("float32", "float16"),
    "model.dtype": ("auto", "float32", "bfloat16", "float16"),
}
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def _choice_error(key: str, value: Any, valid: list[str] | tuple[str, ...]) -> ConfigError:
    hint = suggest(str(value), valid)
    return ConfigError(f"{key}={value} is not one of {', '.join(valid)}",
                       (hint + " " if hint else "") + f"pass {key}={valid[0]} or another of them")


#: Numeric settings and their closed range (low, high; None: unbounded), checked when the config is built, so
#: ``limit=-5`` or ``model.num_frames=0`` stop in one line instead of scoring nonsense.  ``gen.samples`` is bounded
#: by :data:`umeval.scoring.passk.MAX_SAMPLES` (pass@k overflows float64 above it).
RANGES: dict[str, tuple[float | None, float | None]] = {
    "limit": (1, None),  # None (unset) means every row
    "batch_size": (1, None),
    "num_workers": (0, None),
    "seed": (0, 2**32 - 1),  # numpy's seed range
    "gen.seed": (0, 2**32 - 1),
    "gen.samples": (1, None),  # upper bound below
    "scorer.k": (1, None),
    "scorer.query_tile": (1, None),
    "model.num_frames": (1, None),
    "model.min_pixels": (1, None),
    "model.max_pixels": (1, None),
    "model.batch_tokens": (1, None),
    "model.submit_items": (1, None),
    "model.decoding.temperature": (0, None),
    "model.decoding.top_p": (0, 1),
    "model.decoding.top_k": (-1, None),  # -1 (vLLM) or 0 (transformers): no top-k cut
    "model.decoding.max_new_tokens": (1, None),
}


def validate_ranges(cfg: DictConfig) -> None:
    """Every numeric setting lies in its range (:data:`RANGES`); one line naming the setting, its range and a fix."""
    from umeval.scoring.passk import MAX_SAMPLES

    for key, (lo, hi) in RANGES.items():
        value = OmegaConf.select(cfg, key)
        if value is None and key == "limit":
            continue
        if key == "gen.samples":
            hi = MAX_SAMPLES
        if value is None or (lo is not None and value < lo) or (hi is not None and value > hi):
            span = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
            why = " (pass@k over more samples overflows float64)" if key == "gen.samples" else ""
            example = lo if hi is None or lo is None or lo > 0 else hi
            raise ConfigError(f"{key}={value} must be {span}{why}",
                              f"pass {key}={example} or another value in range" +
                              ("; drop limit= to read every row" if key == "limit" else ""))
    if cfg.model.decoding.do_sample and cfg.model.decoding.top_p == 0:
        raise ConfigError("model.decoding.top_p=0 keeps no token when sampling", "pass a top_p in (0, 1]")
    if cfg.model.min_pixels > cfg.model.max_pixels:
        raise ConfigError(f"model.min_pixels={cfg.model.min_pixels} is above model.max_pixels="
                          f"{cfg.model.max_pixels}", "pass min_pixels <= max_pixels")


def validate_choices(cfg: DictConfig) -> None:
    """Every enum-like setting is one of its values; a typo names the setting, the values and the closest one."""
    for key, valid in CHOICES.items():
        value = OmegaConf.select(cfg, key)
        if value not in valid:
            raise _choice_error(key, value, valid)
    if not _DEVICE.fullmatch(str(cfg.device)):
        raise _choice_error("device", cfg.device, ["auto", "cpu", "cuda", "cuda:0", "mps"])
    from umeval.models.family import declare_into, validate_model

    validate_model(cfg)
    declare_into(cfg.model)
    sets = instruction_sets()
    for key in ("instruction_set", "model.instruction_set"):
        value = OmegaConf.select(cfg, key)
        if value is not None and value not in sets:
            raise _choice_error(key, value, sets)


def instruction_sets() -> list[str]:
    """The instruction sets any registered task defines (``official`` first)."""
    from umeval.core.registry import discover_tasks

    names = {n for _, spec in discover_tasks().items() for n in spec.instructions} | {"official"}
    return ["official", *sorted(names - {"official"})]


class ResolvedRun(Protocol):
    """What a run resolved once (:class:`umeval.run.context.RunContext`): the stages read these three together."""

    @property
    def cfg(self) -> DictConfig: ...

    @property
    def instruction_set(self) -> str: ...

    @property
    def runtime(self) -> Mapping[str, Any]: ...


def cache_dir(cfg: DictConfig) -> Path:
    d = cfg.cache_dir or os.environ.get("UMEVAL_CACHE") or Path.home() / ".cache" / "umeval"
    return Path(d).expanduser()


def fingerprint(obj: Any) -> str:
    """A stable hash of a JSON-able object (config hash in result rows and cache keys)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def to_dict(cfg: DictConfig) -> dict[str, Any]:
    out = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(out, dict)
    return {str(k): v for k, v in out.items()}
