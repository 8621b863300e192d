"""Qwen2-VL-family encoder on HF transformers (UME-R1, VLM2Vec-V2 and the tiny test model).

Discriminative mode: one forward pass; the embedding is the last-layer hidden state at the last pooling
token of the prompt (``<disc_emb>`` for UME-R1, the last token for VLM2Vec), L2-normalised.
Batches are right-padded, so a row's states before its padding are the same as when it is encoded alone.
Media decoding and the processor run in worker threads while the model runs (``num_workers``), and items are
batched by estimated cost (text plus the family's visual tokens, :mod:`umeval.models.cost`) so padding stays
small: a batch holds at most ``batch_size`` items and at most ``model.batch_tokens`` padded tokens.  On CUDA
out-of-memory a batch is split in halves and retried (and the token budget lowered for the rest of the run); an
item that does not fit alone raises :class:`ItemTooLarge`, naming it and its size (the task then fails, the run
goes on with ``keep_going``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from umeval.core.errors import ConfigError, UmevalError
from umeval.core.plugins import load_object
from umeval.core.types import Item
from umeval.encoders.base import (
    Advance,
    GenResult,
    Trace,
    assemble,
    decoding_dict,
    gen_readout,
    item_seed,
    l2_normalise,
    stop_ids,
    token_id,
)
from umeval.encoders.pixels import call_kwargs, declared_cost, pixel_size
from umeval.encoders.prompt_base import VISION_TOKENS
from umeval.encoders.prompts import GEN_TOKEN, Prompt, PromptWriter, formats_of


def quiet_transformers() -> None:
    """No weight-loading bars or deprecation chatter on stderr: errors there must stay one line."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")


def pick_device(device: str = "auto", dtype: str = "auto") -> tuple[str, Any]:
    """CUDA + bf16 when present, CPU + fp32 otherwise; explicit values win."""
    import torch

    dev = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    if dtype == "auto":
        dt = torch.bfloat16 if dev.startswith("cuda") else torch.float32
    else:
        found = getattr(torch, dtype, None)
        if not isinstance(found, torch.dtype):
            raise ConfigError(f"unknown dtype '{dtype}'", "use auto, float32, bfloat16 or float16")
        dt = found
    return dev, dt


def resolve_checkpoint(model_cfg: Any, cache_dir: Path) -> str:
    """A local folder or hub id for ``from_pretrained``; built offline when the config names a builder."""
    if model_cfg.path:
        return str(model_cfg.path)
    if model_cfg.builder:
        return str(load_object(model_cfg.builder)(cache_dir))
    raise ConfigError(f"model {model_cfg.name} has neither path nor builder", "set model.path=<folder or hub id>")


def hub_kwargs(model_id: str, revision: str) -> dict[str, Any]:
    """``from_pretrained`` arguments for ``model_id``: a local folder takes none, a hub id its revision.

    A hub id with the hub off (``HF_HUB_OFFLINE=1``) is a one-line error before anything loads.
    """
    if Path(model_id).is_dir():
        return {}
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ConfigError(f"checkpoint {model_id} is not a local folder and the hub is off",
                          f"download it (`hf download {model_id}`) or set model.path=<local folder>")
    return {"revision": revision}


def batch_order(items: Sequence[Item], costs: Sequence[int] | None = None) -> np.ndarray:
    """Item order for cost-sorted batching: by modality, then by estimated tokens (else text length; stable)."""
    keys = [(it.modality, costs[i] if costs is not None else len(it.instruction) + len(it.text))
            for i, it in enumerate(items)]
    return np.array(sorted(range(len(items)), key=lambda i: keys[i]), dtype=np.int64)


def cost_batches(order: np.ndarray, costs: Sequence[int], max_items: int, max_tokens: int) -> list[np.ndarray]:
    """Consecutive runs of ``order`` with at most ``max_items`` items and ``len * max(cost) <= max_tokens``.

    Right padding makes every row as long as the longest; an item over the budget goes alone.
    """
    out: list[np.ndarray] = []
    start, longest = 0, 0
    for pos, i in enumerate(order):
        longest_with = max(longest, int(costs[i]))
        n = pos - start + 1
        if n > 1 and (n > max_items or n * longest_with > max_tokens):
            out.append(order[start:pos])
            start, longest_with = pos, int(costs[i])
        longest = longest_with
    if start < len(order):
        out.append(order[start:])
    return out


class ItemTooLarge(UmevalError):
    """One item alone does not fit in the accelerator's memory."""


def _is_oom(e: BaseException) -> bool:
    import torch

    return isinstance(e, torch.OutOfMemoryError) or "out of memory" in str(e).lower()


class HFCheckpoint(PromptWriter):
    """What the HF encoders share: the checkpoint, device and prompt formats of a model config, and loading."""

    processor: Any
    model: Any  # None for a tokenizer-only encoder (prompts, costs)

    def _open_checkpoint(self, model_cfg: Any, cache_dir: Path, device: str, batch_size: int) -> None:
        quiet_transformers()
        self.cfg = model_cfg
        self.model_id = resolve_checkpoint(model_cfg, cache_dir)
        self.revision = str(model_cfg.revision)
        self.device, self.dtype = pick_device(device, model_cfg.dtype)
        self.batch_size = max(1, int(batch_size))
        self.use_prompt_formats(*formats_of(model_cfg))  # a family with a format per role has a candidate one
        self.calls = 0

    def _load_checkpoint(self, load: Any) -> None:
        """``load()`` gives (processor, model or None); an unreadable checkpoint is a one-line error."""
        import torch

        try:
            self.processor, self.model = load()
        except OSError as e:
            raise ConfigError(f"cannot load checkpoint {self.model_id}: {str(e).splitlines()[0]}",
                              "check model.path (a local folder or hub id) and model.revision") from None
        if self.model is not None:
            self.model.to(self.device).eval()
        self.tokenizer = self.processor.tokenizer
        torch.set_grad_enabled(False)


class Qwen2VLEncoder(HFCheckpoint):
    #: Extra ``generate`` arguments, for tests only (they force a trace with a ``logits_processor``).
    generate_kwargs: dict[str, Any] = {}

    def __init__(self, model_cfg: Any, *, cache_dir: Path, device: str = "auto", batch_size: int = 8,
                 num_workers: int = 2, weights: bool = True) -> None:
        """``weights=False`` loads the processor only (``umeval prompts``): same prompts and processor calls."""
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self._open_checkpoint(model_cfg, cache_dir, device, batch_size)
        self.batch_tokens = max(1, int(getattr(model_cfg, "batch_tokens", None) or 32768))
        self.oom_splits = 0  # batches split after an out-of-memory error
        self.num_workers = max(0, int(num_workers))
        self.wait_seconds = 0.0  # time the model waited for media decoding and the processor
        kw: dict[str, Any] = {"trust_remote_code": bool(model_cfg.trust_remote_code),
                              **hub_kwargs(self.model_id, self.revision)}
        declared = model_cfg.get("declared") or {}  # what the run wrote from the model's family
        # A family may feed plain 1-D positions to every token (its reference code's), not the 3-D rope index.
        self.sequential_positions = declared.get("positions") == "sequential"
        # ... and may need the slow (PIL) image processor its reference code loaded (images only: frames go
        # through the video processor).
        slow = {"use_fast": False} if declared.get("slow_image_processor") else {}

        def load() -> tuple[Any, Any]:
            # The bounds also go to every processor call (umeval.encoders.pixels): a checkpoint's own
            # min_pixels/max_pixels override this constructor argument.  The auto class resolves to the
            # checkpoint's model class at run time (its .model, .generate and .generation_config are that class's).
            processor = AutoProcessor.from_pretrained(self.model_id, size=pixel_size(model_cfg), **slow, **kw)
            return processor, (AutoModelForImageTextToText.from_pretrained(
                self.model_id, dtype=self.dtype, attn_implementation=model_cfg.attn_implementation, **kw)
                if weights else None)

        self._load_checkpoint(load)

    # -------------------------------------------------------------- helpers

    def token_id(self, token: str) -> int:
        return token_id(self.tokenizer, token, self.model_id)

    def close(self) -> None:
        """Drop the weights and return their GPU memory to the driver (the process may run another shard next)."""
        import gc

        import torch

        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def prepare(self, items: Sequence[Item], task: str | None = None,
                prompts: Sequence[Prompt] | None = None, role: str = "query") -> tuple[Any, list[Prompt]]:
        """Decode media and run the processor for one batch (runs in a worker thread)."""
        prompts = list(prompts) if prompts is not None else [self.build_prompt(it, task, role) for it in items]
        images = [im for p in prompts for im in p.images]
        videos = [v for p in prompts for v in p.videos]
        enc = self.processor(text=[p.text for p in prompts], images=images or None, videos=videos or None,
                             return_tensors="pt", padding=True, padding_side="right", **call_kwargs(self.cfg, prompts))
        return enc, prompts

    def pool_positions(self, input_ids: Any, attention_mask: Any, prompts: Sequence[Prompt]) -> np.ndarray:
        ids = input_ids.cpu().numpy()
        lengths = attention_mask.sum(dim=1).cpu().numpy()
        pos = np.empty(len(prompts), dtype=np.int64)
        for r, p in enumerate(prompts):
            if p.pool_token is None:
                pos[r] = lengths[r] - 1
            else:
                hits = np.flatnonzero(ids[r, : lengths[r]] == self.token_id(p.pool_token))
                if hits.size == 0:
                    raise UmevalError(f"the prompt has no {p.pool_token} token", "check model.prompt")
                pos[r] = min(hits[-1] + p.pool_after, lengths[r] - 1)
        return pos

    def item_costs(self, items: Sequence[Item]) -> list[int]:
        """Estimated prompt tokens of each item under the model's pixel bounds."""
        cost = declared_cost(self.cfg)  # the family's visual-token arithmetic, as the run handed it over
        return [cost.item(it) for it in items]

    def _batches(self, items: Sequence[Item], order: np.ndarray, task: str | None,
                 costs: Sequence[int] | None = None,
                 role: str = "query") -> Iterator[tuple[np.ndarray, Any, list[Prompt]]]:
        if costs is None:
            chunks = [order[i: i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        else:
            chunks = cost_batches(order, costs, self.batch_size, self.batch_tokens)
        if self.num_workers == 0:
            for idx in chunks:
                t0 = time.perf_counter()
                prepared = self.prepare([items[i] for i in idx], task, role=role)
                self.wait_seconds += time.perf_counter() - t0
                yield (idx, *prepared)
            return
        with ThreadPoolExecutor(self.num_workers, thread_name_prefix="umeval-prep") as pool:
            pending: list[tuple[np.ndarray, Future[Any]]] = []
            it = iter(chunks)
            for idx in it:
                pending.append((idx, pool.submit(self.prepare, [items[i] for i in idx], task, None, role)))
                if len(pending) > self.num_workers:
                    break
            while pending:
                idx, fut = pending.pop(0)
                nxt = next(it, None)
                if nxt is not None:
                    pending.append((nxt, pool.submit(self.prepare, [items[i] for i in nxt], task, None, role)))
                t0 = time.perf_counter()
                prepared = fut.result()
                self.wait_seconds += time.perf_counter() - t0  # the model idles while data is not ready
                yield (idx, *prepared)

    # -------------------------------------------------------------- public

    def position_ids(self, enc: Any) -> Any:
        """The position ids the family's reference code feeds, or None for the checkpoint's own (3-D rope).

        ``sequential``: ``0..L-1`` for every row of the right-padded batch (the language model expands them to its
        three rope sections).  The reference code left-pads and numbers the pads too, which shifts a row's
        positions by a constant; rope attention depends only on position differences, so the two agree.
        """
        if not self.sequential_positions:
            return None
        import torch

        ids = enc["input_ids"]
        return torch.arange(ids.shape[1], device=ids.device).unsqueeze(0).expand(ids.shape[0], -1)

    def hidden_states(self, enc: Any) -> Any:
        """Last-layer (final-norm) hidden states of a processed batch."""
        enc = enc.to(self.device)
        pos = self.position_ids(enc)
        out = self.model.model(**enc, use_cache=False, **({} if pos is None else {"position_ids": pos}))
        return out.last_hidden_state

    def embed(self, items: Sequence[Item], *, task: str | None = None, role: str = "query",
              advance: Advance | None = None) -> np.ndarray:

        costs = self.item_costs(items)

        def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for idx, enc, prompts in self._batches(items, batch_order(items, costs), task, costs, role):
                yield from self._embed_batch(items, idx, enc, prompts, task, costs, role)

        return assemble(self, items, batches(), task, advance)

    def _embed_batch(self, items: Sequence[Item], idx: np.ndarray, enc: Any, prompts: list[Prompt],
                     task: str | None, costs: Sequence[int],
                     role: str = "query") -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Pooled states of one batch; on out-of-memory, the halves one after the other (recursively)."""
        try:
            pos = self.pool_positions(enc["input_ids"], enc["attention_mask"], prompts)
            vec = self.hidden_states(enc)[np.arange(len(prompts)), pos].float().cpu().numpy()
        except (RuntimeError, MemoryError) as e:
            if not _is_oom(e):
                raise
            err = f"{type(e).__name__}: {' '.join(str(e).split())[:160]}"
        else:
            yield idx, vec
            return
        del enc
        self._free_memory()
        if len(idx) == 1:
            it = items[int(idx[0])]
            where = f" (file {it.source[0]}, row {it.source[1]})" if it.source else ""
            raise ItemTooLarge(f"task {task}: item {it.id}{where} does not fit in {self.device} memory alone "
                               f"(~{costs[int(idx[0])]} tokens, {len(it.instruction) + len(it.text)} characters; "
                               f"{err})", "lower model.max_pixels or model.num_frames, or use a larger GPU")
        padded = len(idx) * max(int(costs[int(i)]) for i in idx)
        self.batch_tokens = max(1, min(self.batch_tokens, padded // 2))  # later batches start below what failed
        self.oom_splits += 1
        half = len(idx) // 2
        for part in (idx[:half], idx[half:]):
            enc2, prompts2 = self.prepare([items[int(i)] for i in part], task, role=role)
            yield from self._embed_batch(items, part, enc2, prompts2, task, costs, role)

    def _free_memory(self) -> None:
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # -------------------------------------------------------------- generative (reference backend)

    def stop_ids(self) -> list[int]:
        return stop_ids(self.model.generation_config, self.tokenizer)

    def generate_embed(self, items: Sequence[Item], *, samples: int = 1, base_seed: int = 0,
                       decoding: Any = None, task: str | None = None, role: str = "query",
                       advance: Advance | None = None) -> GenResult:
        """UME-R1 generative embeddings with HF ``generate``: the reference the vLLM backend is tested against.

        Each item is generated alone (no padding can move its tokens) with ``num_return_sequences=samples``
        under a per-item seed; each trace is then read out by one forward pass over prompt + generated token
        ids, truncated by :func:`umeval.encoders.base.gen_readout`.
        """
        import torch

        dec = decoding_dict(decoding if decoding is not None else self.cfg.decoding)
        gen_emb = self.token_id(GEN_TOKEN)
        stops = self.stop_ids()
        vectors: list[np.ndarray] = []
        traces: list[list[Trace]] = []
        for item in items:
            enc, prompts = self.prepare([item], task, role=role)
            enc = enc.to(self.device)
            prompt_ids = enc["input_ids"][0].tolist()
            seed = item_seed(base_seed, item)
            n_ret = samples if dec["do_sample"] else 1
            torch.manual_seed(seed)
            t0 = time.perf_counter()
            kw: dict[str, Any] = {"do_sample": bool(dec["do_sample"]), "max_new_tokens": int(dec["max_new_tokens"]),
                                  "num_return_sequences": n_ret, "eos_token_id": [s for s in stops],
                                  "pad_token_id": self.tokenizer.pad_token_id}
            kw["suppress_tokens"] = [self.token_id(t) for t in VISION_TOKENS]
            if dec["do_sample"]:
                kw.update(temperature=float(dec["temperature"]), top_k=int(dec["top_k"]), top_p=float(dec["top_p"]))
            try:
                out = self.model.generate(**enc, **kw, **self.generate_kwargs)
                secs = (time.perf_counter() - t0) / n_ret
                item_vecs, item_traces = [], []
                gens = []
                for s in range(samples):
                    gen = out[s % n_ret, len(prompt_ids):].tolist()
                    finished = any(t in stops for t in gen)
                    if finished:  # keep the stop token itself, drop the padding after it
                        gen = gen[: next(i for i, t in enumerate(gen) if t in stops) + 1]
                    seq, has_emb = gen_readout(prompt_ids, gen, gen_emb, stops)
                    item_vecs.append(self._readout(enc, seq))
                    gens.append((gen, finished, seq, has_emb))
            except (RuntimeError, MemoryError) as e:
                # Each item is generated alone already, so there is no batch to split: splitting its samples would
                # draw other samples than an unconstrained run.  The task fails naming the item (keep_going goes on).
                if not _is_oom(e):
                    raise
                del enc
                self._free_memory()
                where = f" (file {item.source[0]}, row {item.source[1]})" if item.source else ""
                raise ItemTooLarge(
                    f"task {task}: generating {n_ret} sample(s) of item {item.id}{where} does not fit in "
                    f"{self.device} memory ({type(e).__name__}: {' '.join(str(e).split())[:160]})",
                    "lower gen.samples, model.decoding.max_new_tokens or model.max_pixels, or use backend=vllm") \
                    from None
            for s, (gen, finished, seq, has_emb) in enumerate(gens):
                item_traces.append(Trace(
                    sample=s, seed=seed, text=self.tokenizer.decode(gen, skip_special_tokens=False),
                    n_tokens=len(gen), has_gen_emb=has_emb, finish_reason="stop" if finished else "length",
                    pool_position=len(seq) - 1, seconds=secs, token_ids=tuple(gen)))
            vectors.append(l2_normalise(np.stack(item_vecs), [item] * samples, task))
            traces.append(item_traces)
            self.calls += 1
            if advance:
                advance(1)
        dim = vectors[0].shape[1] if vectors else 0
        return GenResult(vectors=np.stack(vectors) if vectors else np.zeros((0, samples, dim), np.float32),
                         traces=traces)

    def _readout(self, enc: Any, seq: list[int]) -> np.ndarray:
        """Final-norm hidden state at the last position of ``seq`` (prompt ids + generated ids)."""
        import torch

        n_prompt = enc["input_ids"].shape[1]
        ids = torch.tensor([seq], device=self.device)
        extra = {k: v for k, v in enc.items() if k not in ("input_ids", "attention_mask", "mm_token_type_ids")}
        if "mm_token_type_ids" in enc:
            tt = enc["mm_token_type_ids"][:, : min(n_prompt, len(seq))]
            pad = torch.zeros((1, len(seq) - tt.shape[1]), dtype=tt.dtype, device=tt.device)
            extra["mm_token_type_ids"] = torch.cat([tt, pad], dim=1)
        out = self.model.model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False, **extra)
        return out.last_hidden_state[0, -1].float().cpu().numpy()
