"""Model families: what a family declares about itself, and the registry the engine asks.

A model family is one package under ``umeval/models/`` (or a third-party module named by the ``umeval.models``
entry-point group) that calls :func:`register_family` with a :class:`ModelMeta`: its encoder class per backend,
its prompt formats, the modes it supports, how it pools and preprocesses (documentation shown by
``umeval list models``), the checkpoints it covers with pinned hub revisions, the model settings that change its
vectors and their version, and its own settings (``model.options``).  A preset YAML under ``conf/model/`` only
picks a family (``family: gme``) and its settings.

The engine (runner, store, scoring, results, CLI) names no family: it resolves the encoder class through
:func:`encoder_ref` and builds the embedding cache key from what the family declares (:func:`cache_key`), so a
setting a family adds in ``model.options`` can never serve stale vectors.  Discovery imports family packages
only: encoder classes and prompt formats are ``"module:attr"`` strings, imported when used, so listing models
imports no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from umeval.core.errors import ConfigError
from umeval.core.plugins import Registry, import_plugins, load_object, suggest
from umeval.models.cost import QWEN2VL_COST, ModelCost, cost_spec

#: Model settings (``umeval.core.config.ModelConfig``) that change the vectors of any family: part of every cache
#: key unless the family declares its own ``key_fields``.  Every other setting is listed in
#: :data:`NOT_IN_KEY` with the reason; a test keeps the two lists covering the schema.
DEFAULT_KEY_FIELDS = ("family", "path", "builder", "revision", "encoder", "prompt", "min_pixels", "max_pixels",
                      "num_frames", "dtype", "trust_remote_code",
                      # vLLM engine settings: most only size the engine, but some change numerics (tensor
                      # parallelism's reduction order, a dtype or length override): keyed, to be safe.
                      "vllm_args")
NOT_IN_KEY = {
    "name": "the store is per preset name already",
    "modes": "which modes run, not how an item is encoded",
    "batch_tokens": "batching changes no vector (rows are right-padded and read before their padding)",
    "submit_items": "items per call change no vector",
    "instruction_set": "the instructions are part of the item text, hence of its key",
    "attn_implementation": "in the resolved runtime, which is part of the key",
    "decoding": "part of every generative sample's key (with samples and seed)",
    "description": "text for people",
    "options": "always in the key, whole",
    "formats": "the family's code for model.prompt (keyed), filled at composition; the family version covers it",
    "declared": "what the family declares for its encoders, filled at composition; the family version covers it",
}


@dataclass(frozen=True)
class ModelCard:
    """What a leaderboard asks about a checkpoint (``umeval export`` writes it); ``None``: not known."""

    name: str
    backbone: str
    parameters: str  # as the authors state it, e.g. "2B parameters"
    embedding_dimension: int | None
    release_date: str | None = None  # as precise as its source says (YYYY-MM or YYYY-MM-DD); None if unknown
    url: str | None = None

    def metadata(self) -> dict[str, Any]:
        """The official score file's metadata keys."""
        return {"model_name": self.name, "model_backbone": self.backbone, "model_size": self.parameters,
                "embedding_dimension": self.embedding_dimension, "model_release_date": self.release_date,
                "url": self.url}


@dataclass(frozen=True)
class Checkpoint:
    """A published checkpoint a family covers, and the preset that runs it."""

    preset: str
    hub_id: str
    revision: str  # the pinned hub commit, or the branch where no public record pins one
    pinned_from: str = ""  # where the commit comes from
    card: ModelCard | None = None
    backbone: str = ""  # its architecture's sizes for GPU-time estimates (umeval.run.throughput.BACKBONES)


@dataclass(frozen=True)
class ModelMeta:
    """Everything the engine needs to know about a model family, and no more."""

    name: str
    description: str
    encoders: Mapping[str, str]  # backend ("hf", "vllm") -> "module:Class" implementing the Encoder protocol
    #: format name -> "module:function" (queries and candidates alike) or {"query": ref, "candidate": ref} (a
    #: format per role; declare roles="differ" with it).  The first name is the default.
    prompts: Mapping[str, str | Mapping[str, str]] = field(default_factory=dict)
    modes: tuple[str, ...] = ("disc",)
    #: "same": queries and candidates are written alike (one vector per item); "differ": the family formats them
    #: differently (e.g. an instruction on queries only), so the role is part of the cache key.
    roles: str = "same"
    pooling: str = ""
    preprocessing: str = ""
    checkpoints: tuple[Checkpoint, ...] = ()
    key_fields: tuple[str, ...] = DEFAULT_KEY_FIELDS
    version: str = "1"  # bump when the family's input changes, so stored vectors are not reused
    options: Mapping[str, Any] = field(default_factory=dict)  # its own settings and their defaults
    option_choices: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # allowed values, where few
    weights: bool = True  # False: one encoder whatever the backend (e.g. the weight-free oracle)
    #: "mrope": the checkpoint's own position ids (Qwen2-VL's 3-D rope index for images and videos);
    #: "sequential": plain 1-D positions 0..n-1 for every token, text and visual alike, fed to all three rope
    #: sections (what a family's reference inference code does when it calls the language model without
    #: position ids).  Honoured by the HF Qwen2-VL encoder; part of the family's input, so bump ``version``.
    positions: str = "mrope"
    #: True: the HF encoder loads the checkpoint's slow (PIL) image processor (``use_fast=False``), whose bicubic
    #: resize the reference code used (its vendored Qwen2-VL image processor); the fast (torchvision) one
    #: resamples differently.  Part of the family's input, so bump ``version``.
    slow_image_processor: bool = False
    #: Visual tokens per image, per video and per item (:class:`umeval.models.cost.TokenCost`): shard balancing,
    #: HF batching, vLLM engine sizing and ``umeval estimate`` ask it.  The default is Qwen2-VL's arithmetic
    #: (28 x 28 pixels per token, frames merged in pairs); a family of another architecture declares its own.
    token_cost: Any = QWEN2VL_COST

    def __post_init__(self) -> None:
        if self.roles not in ("same", "differ"):
            raise ConfigError(f"model family {self.name}: roles={self.roles!r}", "declare roles='same' or 'differ'")
        if self.positions not in ("mrope", "sequential"):
            raise ConfigError(f"model family {self.name}: positions={self.positions!r}",
                              "declare positions='mrope' or 'sequential'")
        for name, ref in self.prompts.items():
            if not isinstance(ref, str):
                if set(ref) != {"query", "candidate"}:
                    raise ConfigError(f"model family {self.name}: prompt format {name} names roles {sorted(ref)}",
                                      "give one reference, or one for 'query' and one for 'candidate'")
                if self.roles != "differ":
                    raise ConfigError(f"model family {self.name}: prompt format {name} differs by role but the "
                                      "family declares roles='same' (queries and candidates would share vectors)",
                                      "declare roles='differ'")
        if not self.encoders:
            raise ConfigError(f"model family {self.name} declares no encoder", "give encoders={'hf': 'module:Class'}")

    @property
    def backends(self) -> tuple[str, ...]:
        return tuple(self.encoders)

    @property
    def default_prompt(self) -> str | None:
        return next(iter(self.prompts), None)

    def encoder_for(self, backend: str) -> str:
        """The encoder class for ``backend``; a weight-free family has one for every backend."""
        if not self.weights:
            return next(iter(self.encoders.values()))
        if backend not in self.encoders:
            raise ConfigError(f"model family {self.name} has no {backend} backend",
                              f"use backend={' or backend='.join(self.backends)} (or backend=auto)")
        return self.encoders[backend]


# ---------------------------------------------------------------- registry

FAMILIES: Registry[ModelMeta] = Registry("model family", "umeval list families")
_FAMILY_PACKAGES = ["umeval.models"]


def register_family(meta: ModelMeta) -> ModelMeta:
    """Called by a family package at import (``umeval/models/<family>/__init__.py``)."""
    return FAMILIES.register(meta.name, meta)


@cache
def discover_families() -> Registry[ModelMeta]:
    """Import every package of ``umeval.models`` (one per family) and the ``umeval.models`` entry points."""
    import_plugins(_FAMILY_PACKAGES, "umeval.models", packages_only=True)
    return FAMILIES


def model_card(preset: str) -> ModelCard | None:
    """The card of the checkpoint a preset runs, from whichever family lists that preset."""
    for _, meta in discover_families().items():
        for ckpt in meta.checkpoints:
            if ckpt.preset == preset:
                return ckpt.card
    return None


def get_family(name: str | None) -> ModelMeta:
    fams = discover_families()
    if not name:
        raise ConfigError("the model preset names no family",
                          f"add `family: <name>` to the preset; families: {', '.join(fams)}")
    return fams.get(str(name))


def all_prompt_formats() -> dict[str, str | Mapping[str, str]]:
    """Every prompt format any family declares, by name (a name used by two families must be the same format)."""
    out: dict[str, str | Mapping[str, str]] = {}
    for _, meta in discover_families().items():
        for name, ref in meta.prompts.items():
            if out.setdefault(name, ref) != ref:
                raise ConfigError(f"prompt format '{name}' is declared by two families with different code",
                                  "give one of them another name")
    return out


def get_prompt_format(name: str, role: str = "query") -> Any:
    """The prompt format ``name`` for items of ``role`` ("query" or "candidate")."""
    formats = all_prompt_formats()
    if name not in formats:
        hint = suggest(name, formats)
        raise ConfigError(f"unknown prompt format '{name}'",
                          (hint + " " if hint else "") + f"use one of {', '.join(formats)}")
    ref = formats[name]
    return load_object(ref if isinstance(ref, str) else ref[role])


# ---------------------------------------------------------------- what the engine asks

def _get(model_cfg: Any, key: str, default: Any = None) -> Any:
    getter = getattr(model_cfg, "get", None)
    return getter(key, default) if getter else getattr(model_cfg, key, default)


def plain(value: Any) -> Any:
    """A config value as plain Python (OmegaConf containers to dicts and lists)."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def options_of(model_cfg: Any) -> dict[str, Any]:
    """The family's settings: its declared defaults, overridden by ``model.options``."""
    meta = get_family(_get(model_cfg, "family"))
    return {**dict(meta.options), **(plain(_get(model_cfg, "options")) or {})}


def cache_key(model_cfg: Any) -> dict[str, Any]:
    """What changes a family's vectors, as declared by the family: its name, version, key fields and options."""
    meta = get_family(_get(model_cfg, "family"))
    return {"family": meta.name, "family_version": meta.version,
            "fields": {f: plain(_get(model_cfg, f)) for f in meta.key_fields},
            "options": options_of(model_cfg), "roles": meta.roles}


def token_cost(model_cfg: Any) -> ModelCost:
    """The family's token cost bound to this model's pixel bounds and frame count."""
    meta = get_family(_get(model_cfg, "family"))
    return ModelCost(meta.token_cost, int(_get(model_cfg, "min_pixels", 784)),
                     int(_get(model_cfg, "max_pixels", 2359296)), int(_get(model_cfg, "num_frames", 8)))


def backbone_of(model_cfg: Any) -> str:
    """The backbone the family declares for this preset's checkpoint ("" when it declares none)."""
    meta = get_family(_get(model_cfg, "family"))
    name = str(_get(model_cfg, "name", ""))
    return next((c.backbone for c in meta.checkpoints if c.preset == name), "")


def roles_differ(model_cfg: Any) -> bool:
    """Whether the family writes queries and candidates differently (then the role is part of the store key)."""
    return get_family(_get(model_cfg, "family")).roles == "differ"


def encoder_ref(cfg: Any, backend: str) -> str:
    """The encoder class of the run: ``model.encoder`` when set, else the family's for ``backend`` (resolved)."""
    if cfg.model.get("encoder"):
        return str(cfg.model.encoder)
    return get_family(cfg.model.family).encoder_for(backend)


def declare_into(model_cfg: Any) -> None:
    """Write what the family declares into the model config, so encoders need not look the family up.

    ``model.prompt`` gets the family's default when the preset leaves it out, ``model.formats`` the
    ``"module:function"`` of that format per role, ``model.options`` the family's option defaults under the
    preset's own values, and ``model.declared`` what the encoders honour (position ids, slow image processor).
    """
    meta = get_family(_get(model_cfg, "family"))
    if model_cfg.get("prompt") is None:
        model_cfg.prompt = meta.default_prompt
    ref = meta.prompts.get(model_cfg.prompt) if model_cfg.prompt is not None else None
    if ref is not None:
        model_cfg.formats = {"query": ref, "candidate": ref} if isinstance(ref, str) else dict(ref)
    model_cfg.options = options_of(model_cfg)
    model_cfg.declared = {"positions": meta.positions, "slow_image_processor": bool(meta.slow_image_processor),
                          "token_cost": cost_spec(meta.token_cost)}


def validate_model(cfg: Any) -> None:
    """The preset against its family, before any data or weights: family, prompt, modes, options, backend.

    It only checks; :func:`declare_into` then fills the family's declarations.
    """
    m = cfg.model
    meta = get_family(m.get("family"))
    prompt = m.get("prompt") if m.get("prompt") is not None else meta.default_prompt
    if meta.prompts and prompt not in meta.prompts:
        hint = suggest(str(prompt), meta.prompts)
        raise ConfigError(f"model.prompt={prompt} is not a prompt format of family {meta.name}"
                          + (f" ({hint})" if hint else ""),
                          f"set model.prompt={' or model.prompt='.join(meta.prompts)}")
    extra = [x for x in m.modes if x not in meta.modes]
    if extra:
        raise ConfigError(f"model {m.name}: family {meta.name} has no {'/'.join(extra)} mode",
                          f"set modes to a subset of [{', '.join(meta.modes)}] in the preset")
    unknown = sorted(set(plain(m.get("options")) or {}) - set(meta.options))
    if unknown:
        hint = suggest(unknown[0], meta.options)
        valid = ", ".join(meta.options) or "none"
        raise ConfigError(f"unknown option model.options.{unknown[0]} for family {meta.name}",
                          (hint + " " if hint else "") + f"its options: {valid}")
    for name, allowed in meta.option_choices.items():
        value = options_of(m)[name]
        if value not in allowed:
            raise ConfigError(f"model.options.{name}={value!r} is not a value family {meta.name} knows",
                              f"use one of {', '.join(map(str, allowed))}")
    if str(cfg.backend) != "auto" and not m.get("encoder"):
        meta.encoder_for(str(cfg.backend))  # a backend the family has no encoder for: its one-line error
