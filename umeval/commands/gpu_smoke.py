"""The GPU smoke check (``make gpu-smoke``): the first minutes on a GPU machine, prepared.

Runs the tiny checkpoint (built offline, no network) on CUDA in bf16 through the HF encoder, discriminative and
generative, and through vLLM when it is importable; runs every other family's tiny checkpoint
(:func:`family_presets`: other architectures, late interaction) through its family's HF encoder; exercises the GPU
search path and the out-of-memory back-off; compares against the same items on the CPU in float32; prints one line
per check with its timing and exits 1 if any check failed. A check whose prerequisite failed (the CPU reference, the
device encoder) is reported as FAIL with the reason, never dropped, and the summary counts every check. It needs
torch, torchvision (transformers' Qwen2-VL processor requires it), transformers, pillow and numpy, which every torch
GPU image has; hydra-core, pandas, pyarrow, faiss and vLLM are not needed. The pure-Python rest (omegaconf and its
antlr4 runtime, qwen-vl-utils and requests with its dependencies), when missing, is imported from the wheels in
``wheels/gpu-smoke/`` (``make gpu-smoke-wheels`` fills it with the versions of ``requirements-gpu.lock``: about 0.8
MiB; zip import, no pip).  A family whose own dependency is missing there (ColQwen2.5 merges its adapter with peft,
which needs the compiled psutil, so it is not carried) has its check skipped with the reason, and counted.

``--dry`` runs the same checks on the CPU (the "device" side in bf16 on the CPU), which is how the tests run it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WHEELS = Path(__file__).resolve().parents[2] / "wheels" / "gpu-smoke"
#: Import names of what a bare torch + transformers machine lacks and the carried wheels bring (the Makefile's
#: SMOKE_WHEELS are their distributions; a test checks that the smoke run needs nothing else).
CARRIED = ("omegaconf", "antlr4", "qwen_vl_utils", "requests", "urllib3", "certifi", "charset_normalizer", "idna")


def ensure_carried(wheels: Path | None = None) -> list[str]:
    """Put the carried pure-Python wheels (default :data:`WHEELS`) on ``sys.path`` (zip import) for what is missing."""
    import importlib.util

    wheels = wheels or WHEELS

    missing = [m for m in CARRIED if importlib.util.find_spec(m) is None]
    if not missing:
        return []
    found = sorted(wheels.glob("*.whl")) if wheels.is_dir() else []
    if not found:
        raise SystemExit(f"gpu-smoke: {', '.join(missing)} missing and no wheels in {wheels}: "
                         "run `make gpu-smoke-wheels` on a machine with PyPI access and carry wheels/")
    for whl in found:
        sys.path.append(str(whl))  # after site-packages: an installed copy of a carried package wins
    importlib.invalidate_caches()
    still = [m for m in missing if importlib.util.find_spec(m) is None]
    if still:
        raise SystemExit(f"gpu-smoke: {', '.join(still)} still missing after adding {wheels} to the path")
    return [f"using carried wheels for {', '.join(missing)}: {', '.join(w.name for w in found)}"]


def ensure_task_plugins() -> list[str]:
    """Make the task plugins importable from a repository copy that was not installed.

    They live in ``tasks/`` and an install maps that folder to the package ``umeval_tasks`` (pyproject's
    package-dir); a format that asks which loader serves a task (Qwen3-VL-Embedding's) reads them.
    """
    import importlib.util

    if importlib.util.find_spec("umeval_tasks") is not None:
        return []
    folder = Path(__file__).resolve().parents[2] / "tasks"
    spec = importlib.util.spec_from_file_location("umeval_tasks", folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None:
        raise SystemExit(f"gpu-smoke: the task plugins are neither installed nor in {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["umeval_tasks"] = module
    spec.loader.exec_module(module)
    return [f"task plugins read from {folder} (umeval_tasks is not installed)"]


class Checks:
    """Collects (name, ok, seconds, detail) and prints each line as it completes."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, bool, float, str]] = []
        self.skipped: list[str] = []

    def run(self, name: str, fn: Callable[[], tuple[bool, str]]) -> Any:
        t0 = time.perf_counter()
        try:
            ok, detail = fn()
        except Exception as e:  # noqa: BLE001 - a failed check is reported, the others still run
            ok, detail = False, f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"
        secs = time.perf_counter() - t0
        self.rows.append((name, ok, secs, detail))
        print(f"{'PASS' if ok else 'FAIL'} {secs:7.2f}s  {name}: {detail}", flush=True)
        return ok

    def run_if(self, ready: bool, name: str, fn: Callable[[], tuple[bool, str]], missing: str) -> Any:
        """Run the check when its prerequisite is there, else record it as FAIL (never drop it)."""
        if ready:
            return self.run(name, fn)
        self.rows.append((name, False, 0.0, f"not run: {missing}"))
        print(f"FAIL {0:7.2f}s  {name}: not run: {missing}", flush=True)
        return False

    def skip(self, name: str, why: str) -> None:
        """A check left out on purpose (a dry run without vLLM); counted in the summary."""
        self.skipped.append(name)
        print(f"SKIP {name}: {why}", flush=True)

    def summary(self, seconds: float) -> str:
        n_ok = len(self.rows) - len(self.failed)
        return (f"gpu-smoke: {n_ok}/{len(self.rows)} checks passed"
                + (f", {len(self.skipped)} skipped" if self.skipped else "") + f" in {seconds:.0f}s"
                + (f"; FAILED: {', '.join(self.failed)}" if self.failed else ""))

    @property
    def failed(self) -> list[str]:
        return [r[0] for r in self.rows if not r[1]]


def family_presets() -> list[str]:
    """The tiny checkpoints of the other families (built offline, so no hub).

    The ``families`` check runs each through its family's HF encoder, on the device in bf16 against float32 on the
    CPU.
    """
    from umeval.models.family import discover_families

    return [c.preset for _, meta in discover_families().items() for c in meta.checkpoints
            if c.hub_id.startswith("(built offline") and c.preset != "tiny-qwen2vl"]


def model_cfg(dtype: str, preset: str = "tiny-qwen2vl", **over: Any) -> Any:
    from omegaconf import OmegaConf

    from umeval.core.config import ModelConfig
    from umeval.core.registry import CONF_DIR

    cfg = OmegaConf.merge(OmegaConf.structured(ModelConfig), OmegaConf.load(CONF_DIR / "model" / f"{preset}.yaml"))
    cfg.dtype = dtype
    for k, v in over.items():
        OmegaConf.update(cfg, k, v)
    from umeval.models.family import declare_into

    declare_into(cfg)
    return cfg


def family_encoder(preset: str, dtype: str, device: str, cache: Path) -> Any:
    """The HF encoder a preset's family declares, on ``device`` in ``dtype``."""
    from umeval.core.plugins import load_object
    from umeval.models.family import get_family

    cfg = model_cfg(dtype, preset)
    cls = load_object(get_family(cfg.family).encoder_for("hf"))
    return cls(cfg, cache_dir=cache, device=device, batch_size=4, num_workers=0)


def agreement(dev: Any, ref: Any) -> tuple[float, str]:
    """The smallest cosine between ``dev`` and ``ref`` rows: per item, or per token of each item's matrix."""
    import numpy as np

    from umeval.core.multivector import TokenMatrices

    if isinstance(ref, TokenMatrices):
        if not isinstance(dev, TokenMatrices) or len(dev) != len(ref):
            return -1.0, "not one token matrix per item"
        pairs = [(dev.item(i), ref.item(i)) for i in range(len(ref))]
        if any(a.shape != b.shape for a, b in pairs):
            return -1.0, "token counts differ between the device and the CPU"
        cos = min(float((np.asarray(a, np.float32) * np.asarray(b, np.float32)).sum(axis=1).min()) for a, b in pairs)
        return cos, f"{ref.n_tokens} token vectors"
    return float((dev * ref).sum(axis=1).min()), f"{len(ref)} vectors"


def make_items(folder: Path) -> list[Any]:
    """Text, image and video items (a few of each), written as small files."""
    import numpy as np
    from PIL import Image

    from umeval.core.types import Item

    rng = np.random.default_rng(0)
    items = []
    for i in range(6):
        p = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (40 + 8 * i, 60, 3), dtype=np.uint8)).save(p)
        items.append(Item(id=f"i{i}", image=str(p), instruction="Represent the given image for classification"))
    for i in range(6):
        items.append(Item(id=f"t{i}", text=f"a photo of a red circle number {i}", instruction="Find the image"))
    for v in range(2):
        frames = []
        for f in range(8):
            p = folder / f"v{v}_{f}.jpg"
            Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(p)
            frames.append(str(p))
        items.append(Item(id=f"v{v}", video=tuple(frames), instruction="Represent the given video"))
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m umeval.commands.gpu_smoke", description=__doc__.splitlines()[0])
    ap.add_argument("--dry", action="store_true", help="no GPU: run the checks on the CPU")
    ap.add_argument("--vllm", choices=("auto", "yes", "no"), default="auto",
                    help="the vLLM checks: when importable on a GPU (auto), always, or never")
    ap.add_argument("--cache", help="where the tiny checkpoint is built once (default: $UMEVAL_CACHE or "
                    "~/.cache/umeval)")
    ap.add_argument("--checks", default="cpu,disc,oom,gen,search,families,vllm",
                    help="which checks (comma-separated): cpu,disc,oom,gen,search,families,vllm")
    ap.add_argument("--small", action="store_true", help="fewer items and a smaller search (the tests)")
    ap.add_argument("--min-cosine", type=float, default=0.98,
                    help="bf16 on the device against float32 on the CPU, per item")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    for line in ensure_carried() + ensure_task_plugins():
        print(line)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import numpy as np
    import torch

    from umeval.encoders.base import close_encoder
    from umeval.encoders.qwen2vl import Qwen2VLEncoder

    if not args.dry and not torch.cuda.is_available():
        print(f"FAIL torch sees no CUDA device (torch {torch.__version__}, CUDA build {torch.version.cuda}); "
              "use --dry on a CPU machine")
        return 1
    dev = "cpu" if args.dry else "cuda"
    where = "CPU (dry run)" if args.dry else torch.cuda.get_device_name(0)
    print(f"gpu-smoke on {where}: torch {torch.__version__} (CUDA {torch.version.cuda}), "
          f"python {sys.version.split()[0]}")
    checks = Checks()
    tmp = Path(tempfile.mkdtemp(prefix="umeval-gpu-smoke-"))
    cache = Path(args.cache or os.environ.get("UMEVAL_CACHE") or Path.home() / ".cache" / "umeval")
    items = make_items(tmp)
    if args.small:
        items = [it for it in items if it.id in ("i0", "i1", "i2", "t0", "t1", "v0")]
    state: dict[str, Any] = {}

    def cpu_reference() -> tuple[bool, str]:
        enc = Qwen2VLEncoder(model_cfg("float32"), cache_dir=cache, device="cpu", batch_size=4, num_workers=0)
        state["cpu_enc"] = enc
        state["cpu"] = enc.embed(items, task="smoke")
        return state["cpu"].shape[0] == len(items), f"{len(items)} items, dim {state['cpu'].shape[1]}"

    def hf_disc() -> tuple[bool, str]:
        enc = Qwen2VLEncoder(model_cfg("bfloat16"), cache_dir=cache, device=dev, batch_size=4, num_workers=2)
        state["dev_enc"] = enc
        t0 = time.perf_counter()
        got = enc.embed(items, task="smoke")
        secs = time.perf_counter() - t0
        cos = (got * state["cpu"]).sum(axis=1)
        state["dev"] = got
        return bool(cos.min() >= args.min_cosine), (f"{enc.dtype} on {dev} vs float32 CPU: min cosine {cos.min():.4f}, "
                                                    f"mean {cos.mean():.4f}; {len(items) / secs:.1f} items/s")

    def oom_backoff() -> tuple[bool, str]:
        enc = state["dev_enc"]
        real = enc.hidden_states
        seen: list[int] = []

        def flaky(e: Any) -> Any:
            n = int(e["input_ids"].shape[0])
            seen.append(n)
            if n > 1:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (injected)")
            return real(e)

        enc.hidden_states = flaky
        before = enc.oom_splits
        try:
            got = enc.embed(items, task="smoke")
        finally:
            del enc.hidden_states  # the class method again
        cos = (got * state["dev"]).sum(axis=1)
        splits = enc.oom_splits - before
        ok = splits > 0 and max(seen) > 1 and bool(cos.min() > 0.999)
        return ok, f"{splits} batch splits, batches down to 1 item; cosine to the unsplit run >= {cos.min():.5f}"

    def hf_gen() -> tuple[bool, str]:
        enc = state["dev_enc"]
        gen_items = [it for it in items if it.id in ("i0", "t0", "v0")][: 1 if args.small else 3]
        t0 = time.perf_counter()
        out = enc.generate_embed(gen_items, samples=2, base_seed=0, task="smoke",
                                 decoding={"do_sample": True, "max_new_tokens": 8, "temperature": 1.0, "top_k": 50,
                                           "top_p": 1.0})
        secs = time.perf_counter() - t0
        norms = np.linalg.norm(out.vectors, axis=2)
        ok = out.vectors.shape[:2] == (len(gen_items), 2) and bool(np.allclose(norms, 1, atol=1e-3))
        ok &= all(len(tr) == 2 and all(t.n_tokens > 0 for t in tr) for tr in out.traces)
        n_tok = sum(t.n_tokens for tr in out.traces for t in tr)
        return ok, f"{len(gen_items)} items x 2 samples, {n_tok} tokens in {secs:.1f}s"

    def search() -> tuple[bool, str]:
        from umeval.scoring.search import search_global

        rng = np.random.default_rng(1)
        nq, nc = (200, 2000) if args.small else (2000, 20000)
        q = rng.standard_normal((nq, 256)).astype(np.float32)
        c = rng.standard_normal((nc, 256)).astype(np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        c /= np.linalg.norm(c, axis=1, keepdims=True)
        c[1000 % nc: 1000 % nc + 10] = c[5]  # exact ties across the cutoff for the queries equal to c[5]
        q[:5] = c[5]
        info: dict[str, Any] = {}
        t0 = time.perf_counter()
        got = search_global(q, c, 10, backend="torch", device=dev, info=info)
        t_dev = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = search_global(q, c, 10, backend="numpy")
        t_cpu = time.perf_counter() - t0
        # Two BLAS libraries round a float32 dot product differently, so candidates whose scores are within a
        # few ulps may swap: allowed only there (checked in float64); exact ties must follow the policy.
        exact = q.astype(np.float64) @ c.astype(np.float64).T
        s_got, s_ref = (np.take_along_axis(exact, i, axis=1) for i in (got[0], ref[0]))
        differ = (got[0] != ref[0]).any(axis=1)
        near = bool(np.abs(np.sort(s_got, axis=1) - np.sort(s_ref, axis=1)).max() <= 1e-6)
        ties = bool((got[0][:5] == ref[0][:5]).all() and got[2][:5].all())
        ok = near and ties and info["search_backend"] == f"torch:{dev}"
        return ok, (f"{nq} x {nc} x 256 top-10: {int(differ.sum())} queries differ from numpy, all by near-equal "
                    f"scores: {near}; exact ties as the CPU: {ties}; {info['search_backend']} {t_dev:.2f}s vs "
                    f"numpy {t_cpu:.2f}s")

    def vllm_check() -> tuple[bool, str]:
        from umeval.encoders.vllm_backend import VllmEncoder

        cfg = model_cfg("bfloat16" if not args.dry else "float32")
        enc = VllmEncoder(cfg, cache_dir=cache, device="auto", batch_size=8, num_workers=2)
        try:
            t0 = time.perf_counter()
            got = enc.embed(items, task="smoke")
            t_disc = time.perf_counter() - t0
            cos = (got * state["cpu"]).sum(axis=1)
            t0 = time.perf_counter()
            out = enc.generate_embed(items[:4], samples=2, task="smoke",
                                     decoding={"do_sample": True, "max_new_tokens": 8})
            t_gen = time.perf_counter() - t0
        finally:
            enc.close()
        ok = bool(cos.min() >= args.min_cosine) and out.vectors.shape[:2] == (4, 2)
        return ok, (f"vLLM {enc.vllm_version}: disc min cosine to CPU HF {cos.min():.4f} ({t_disc:.1f}s incl. "
                    f"engine start), gen 4 x 2 in {t_gen:.1f}s incl. engine start")

    def family_check(preset: str, ref_enc: Any) -> Callable[[], tuple[bool, str]]:
        def check() -> tuple[bool, str]:
            ref = ref_enc.embed(items, task="smoke")
            close_encoder(ref_enc)
            enc = family_encoder(preset, "bfloat16", dev, cache)
            t0 = time.perf_counter()
            got = enc.embed(items, task="smoke")
            secs = time.perf_counter() - t0
            close_encoder(enc)
            cos, what = agreement(got, ref)
            return cos >= args.min_cosine, (f"bf16 on {dev} vs float32 CPU, {what}: min cosine {cos:.4f}; "
                                            f"{len(items) / secs:.1f} items/s")
        return check

    chosen = set(args.checks.split(","))
    no_ref = "the CPU reference failed"
    if chosen & {"cpu", "disc", "oom", "gen", "vllm"}:
        checks.run("HF float32 on the CPU (reference)", cpu_reference)
    if chosen & {"disc", "oom", "gen"}:
        checks.run_if("cpu" in state, f"HF disc, bf16 on {dev}", hf_disc, no_ref)
    if "oom" in chosen:
        checks.run_if("dev" in state, "OOM back-off (injected CUDA OOM for batches > 1)", oom_backoff,
                      no_ref if "cpu" not in state else "the HF disc check failed")
    if "gen" in chosen:
        checks.run_if("dev_enc" in state, f"HF gen, bf16 on {dev}", hf_gen,
                      no_ref if "cpu" not in state else "the device encoder did not load")
    if "search" in chosen:
        checks.run(f"search: torch on {dev} vs numpy", search)
    import importlib.util

    if "families" in chosen:
        for preset in family_presets():
            name = f"{preset}: HF disc, bf16 on {dev}"
            try:
                ref_enc = family_encoder(preset, "float32", "cpu", cache)
            except ModuleNotFoundError as e:  # a family's own dependency (e.g. peft) that a bare GPU image lacks
                checks.skip(name, f"needs {e.name}, which is not importable here (not among the carried wheels)")
                continue
            except Exception as e:  # noqa: BLE001 - reported as this check's failure
                def failed(err: Exception = e) -> tuple[bool, str]:
                    raise err
                checks.run(name, failed)
                continue
            checks.run(name, family_check(preset, ref_enc))

    want_vllm = args.vllm == "yes" or (args.vllm == "auto" and not args.dry and importlib.util.find_spec("vllm"))
    if "vllm" not in chosen:
        pass
    elif want_vllm:
        checks.run_if("cpu" in state, "vLLM disc + gen", vllm_check, no_ref)
    elif args.vllm != "no":
        checks.skip("vLLM", "dry run (pass --vllm yes to include it)" if args.dry else "not importable")
    print(checks.summary(time.perf_counter() - t_start))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
