"""What a run resolved before any data or weights load, in one frozen object handed to every stage.

:meth:`RunContext.resolve` turns the config into facts once: the instruction set, the runtime (backend, device,
dtype, library versions, model commit; an unavailable device fails here in one line), the output, cache and
data roots, and the embedding store.  The stages (planning, evaluation, the oracle, failure records) read these
facts from the context instead of each receiving ``(cfg, inst_set, runtime)`` and resolving again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from umeval.core.config import cache_dir
from umeval.core.errors import ConfigError
from umeval.core.spec import TaskSpec
from umeval.core.types import TaskData
from umeval.loaders import LoadContext
from umeval.models.family import encoder_ref as family_encoder_ref
from umeval.results import files as res
from umeval.results.partial import results_root
from umeval.results.task_result import TaskResult
from umeval.run.datafp import DataFingerprints
from umeval.run.fingerprints import setup_fingerprint, store_identity, store_key, task_fingerprint
from umeval.run.mediahash import MediaHashes
from umeval.run.runtime import resolve_backend, resolve_runtime
from umeval.run.store import EmbeddingStore


def modes_of(cfg: DictConfig) -> list[str]:
    """The modes a command runs (``both`` is disc and gen); a mode the model lacks is a one-line error."""
    modes = ["disc", "gen"] if cfg.mode == "both" else [str(cfg.mode)]
    unsupported = [m for m in modes if m not in cfg.model.modes]
    if unsupported:
        raise ConfigError(f"model {cfg.model.name} has no {'/'.join(unsupported)} mode",
                          f"use mode={' or mode='.join(cfg.model.modes)}")
    return modes


def encoder_ref(cfg: DictConfig) -> str:
    """The run's encoder class: the family's for the resolved backend (:func:`umeval.models.family.encoder_ref`)."""
    return family_encoder_ref(cfg, resolve_backend(cfg))


def encoder_fingerprint(cfg: DictConfig, runtime: Mapping[str, Any] | None = None) -> str:
    """The embedding store's encoder key: :func:`umeval.run.fingerprints.store_key` (kept under its old name)."""
    return store_key(cfg, runtime)


def encoder_identity(cfg: DictConfig, runtime: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What :func:`encoder_fingerprint` hashes (recorded in the store beside the vectors, for ``umeval cache``)."""
    return store_identity(cfg, runtime)


def open_store(cdir: Path, cfg: DictConfig) -> EmbeddingStore:
    """The model's embedding store; float16 vectors live in their own folder, never mixed with float32 ones.

    Media digests (the content part of every key) are remembered in one sidecar for all models
    (:mod:`umeval.run.mediahash`).
    """
    name = cfg.model.name if cfg.store_dtype == "float32" else f"{cfg.model.name}@{cfg.store_dtype}"
    return EmbeddingStore(cdir / "embeddings" / name, dtype=cfg.store_dtype,
                          media_hashes=MediaHashes(cdir / "embeddings" / "media-hashes.sqlite"))


@dataclass(frozen=True)
class RunContext:
    """What a run resolved: config, instruction set, runtime, roots and the embedding store."""

    cfg: DictConfig
    modes: tuple[str, ...]
    instruction_set: str
    runtime: Mapping[str, Any]
    out_dir: Path
    cache_dir: Path
    data_root: Path
    store: EmbeddingStore
    data_fps: DataFingerprints  # each task's data fingerprint, once per run, from its record when unchanged
    generated_root: Path | None = None  # where the embedded default's data was generated (task=mini)

    @classmethod
    def resolve(cls, cfg: DictConfig, specs: list[TaskSpec]) -> RunContext:
        """Resolve ``cfg`` for the tasks ``specs``; unknown modes and unavailable devices fail here."""
        from umeval.data.embedded import ensure_generated

        modes = tuple(modes_of(cfg))
        runtime = resolve_runtime(cfg)  # an unavailable device fails here, in one line
        out_dir = results_root(cfg)  # a partial run (limit=) writes beside the full results, never over them
        res.check_writable(out_dir)  # a read-only output folder stops here, before any data or weights
        cdir = cache_dir(cfg)
        generated = [s for s in specs if s.source.generated]
        return cls(cfg=cfg, modes=modes, instruction_set=str(cfg.instruction_set or cfg.model.instruction_set),
                   runtime=runtime, out_dir=out_dir, cache_dir=cdir,
                   data_root=Path(cfg.data_root).expanduser() if cfg.data_root else cdir / "MMEB-V2",
                   store=open_store(cdir, cfg), data_fps=DataFingerprints(cdir),
                   generated_root=ensure_generated(generated, cdir, seed=cfg.seed) if generated else None)

    # ------------------------------------------------------------ where things are

    @property
    def model_name(self) -> str:
        return str(self.cfg.model.name)

    @property
    def model_dir(self) -> Path:
        return self.out_dir / self.model_name

    def task_dir(self, spec: TaskSpec, mode: str) -> Path:
        return res.task_dir(self.out_dir, self.model_name, spec.name, mode)

    def load_context(self, spec: TaskSpec) -> LoadContext:
        """What the loader of ``spec`` needs: its data root (the generated one for the embedded default) and limits."""
        root = self.generated_root if spec.source.generated and self.generated_root else self.data_root
        return LoadContext(data_root=root, instruction_set=self.instruction_set, limit=self.cfg.limit,
                           num_frames=int(self.cfg.model.num_frames), allow_hub=bool(self.cfg.hub),
                           spill_dir=self.cache_dir / "pages")

    # ------------------------------------------------------------ fingerprints

    def setup_hash(self, spec: TaskSpec) -> str:
        return setup_fingerprint(spec, self)

    def task_hash(self, spec: TaskSpec, mode: str) -> str:
        return task_fingerprint(spec, self, mode)

    def expected_hashes(self, spec: TaskSpec, mode: str) -> tuple[str, str]:
        """(config_hash, setup_hash) that a result of ``spec`` in ``mode`` written now would carry."""
        return self.task_hash(spec, mode), self.setup_hash(spec)

    def store_key(self) -> str:
        """The embedding store's key of this run's encoder (:func:`encoder_fingerprint`)."""
        return encoder_fingerprint(self.cfg, self.runtime)

    def store_identity(self) -> dict[str, Any]:
        """What :meth:`store_key` hashes, recorded in the store for ``umeval cache``."""
        return encoder_identity(self.cfg, self.runtime)

    # ------------------------------------------------------------ results

    def load(self, spec: TaskSpec) -> TaskData:
        """Load ``spec``'s data (and fingerprint it, recording what the load read)."""
        return self.data_fps.load(spec, self.load_context(spec))

    def data_fingerprint(self, spec: TaskSpec) -> str | None:
        """The fingerprint of ``spec``'s data (:class:`DataFingerprints`); None when it cannot be loaded."""
        return self.data_fps.of(spec, self.load_context(spec))

    def row_extra(self, spec: TaskSpec, loaded: bool = False) -> dict[str, Any]:
        """What every result of ``spec`` carries besides config and runtime: setup hash, data fingerprint.

        ``loaded``: the task's data was loaded by this run (:meth:`load`), so its fingerprint is known.
        """
        return {"setup_hash": self.setup_hash(spec),
                "data_fingerprint": self.data_fingerprint(spec) if loaded else None}

    def result(self, spec: TaskSpec, mode: str, config_hash: str, *, runtime: Mapping[str, Any] | None = None,
               **fields: Any) -> TaskResult:
        """A result of ``spec`` in ``mode`` of this run: identity and provenance, plus ``fields``.

        The provenance is this run's runtime unless another is given (the oracle carries its gen result's).
        """
        return TaskResult.base(spec, mode, self, config_hash, runtime=runtime, **fields)
