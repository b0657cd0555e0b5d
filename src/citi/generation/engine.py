"""Batched greedy generation: left padding, KV cache, length-sorted batches, stop strings.

One engine serves every benchmark and every model folder ``citi.models.load`` reads
(base, merged LoRA, MOLoRA/CITI checkpoints with remote code). Greedy decoding makes
the output a function of the prompt alone, so a batch gives the same tokens as a
one-prompt ``model.generate`` loop (the tests check this token for token).

``run_predictions`` writes predictions.jsonl and is resumable: each finished batch is
appended (flushed and fsynced) to ``<out>.partial``; a restarted run skips the ids
found there and renames nothing until every record is done.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import RecordError
from ..io import dumps_record, write_jsonl
from ..records import target_index
from .prefix import PrefixStore, lexicographic, static_cache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 128
    batch_size: int = 8
    stop: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {**asdict(self), "stop": list(self.stop), "decoding": "greedy"}


@dataclass
class Output:
    text: str
    prompt_tokens: int
    new_tokens: int
    finish: str  # eos | stop | length
    token_ids: list[int] = field(default_factory=list, repr=False)


def prompt_messages(rec: dict) -> list[dict]:
    """The conversation up to (not including) the record's target assistant turn.

    Records without an assistant turn (prompt-only benchmarks) are prompted whole.
    """
    cut = target_index(rec)
    messages = rec["messages"] if cut is None else rec["messages"][:cut]
    if not messages:
        raise RecordError(f"record {rec.get('id')!r}: nothing before the target turn to prompt with")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def render_prompt(tokenizer, messages: list[dict]) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def truncate_at_stop(text: str, stop: Iterable[str]) -> tuple[str, bool]:
    """``text`` cut before the earliest stop string, and whether one was found."""
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[:min(cuts)], True) if cuts else (text, False)


class _StopStrings:
    """Per-row stopping criterion: a row is done once its new text holds a stop string.

    Only the tail of each row is decoded (a token is at least one character), so a
    check costs O(longest stop string), not O(generated length).
    """

    def __init__(self, tokenizer, stop: tuple[str, ...], prompt_len: int, rows: int):
        self.tokenizer, self.stop, self.prompt_len = tokenizer, stop, prompt_len
        self.window = max(len(s) for s in stop) + 2
        self.done_at: list[int | None] = [None] * rows

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        new = input_ids[:, self.prompt_len:]
        flags = []
        for row in range(new.shape[0]):
            if self.done_at[row] is None:
                tail = self.tokenizer.decode(new[row, -self.window:], skip_special_tokens=True)
                if truncate_at_stop(tail, self.stop)[1]:
                    self.done_at[row] = new.shape[1]
            flags.append(self.done_at[row] is not None)
        return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)


class Engine:
    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer
        gen = model.generation_config
        eos = gen.eos_token_id if gen.eos_token_id is not None else tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else gen.pad_token_id
        self.pad_id = pad if pad is not None else next(iter(self.eos_ids))

    @classmethod
    def from_folder(cls, path: str | Path, dtype=None, device: str = "auto") -> "Engine":
        from ..models import load

        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        model, tokenizer = load(path, dtype=dtype, device=device)
        return cls(model, tokenizer)

    @property
    def device(self):
        return next(self.model.parameters()).device

    def encode(self, prompt: str) -> list[int]:
        # the chat template already wrote every special token the model expects
        return self.tokenizer(prompt, add_special_tokens=False)["input_ids"]

    @staticmethod
    def plan(lengths: list[int], batch_size: int) -> list[list[int]]:
        """Batches of indices, longest prompts first: little padding, and OOM shows up at once."""
        order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]

    @staticmethod
    def plan_dense(lengths: list[int], batch_size: int, min_fill: float = 0.85) -> list[list[int]]:
        """Batches of indices, longest first, each at least ``min_fill`` real tokens (the rest is
        padding): a one-pass scorer computes every padded position, and fixed-size batches of
        HumanEval or tool prompts were half padding."""
        order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
        batches: list[list[int]] = []
        for i in order:
            last = batches[-1] if batches else None
            if (last and len(last) < batch_size
                    and sum(lengths[j] for j in last) + lengths[i] >= min_fill * lengths[last[0]] * (len(last) + 1)):
                last.append(i)
            else:
                batches.append([i])
        return batches

    def generate_ids(self, batch: list[list[int]], settings: GenerationSettings) -> list[Output]:
        """Greedy continuations of already tokenised prompts, as one left-padded batch."""
        import torch
        from transformers import GenerationConfig, StoppingCriteriaList

        width = max(len(ids) for ids in batch)
        input_ids = torch.tensor([[self.pad_id] * (width - len(ids)) + ids for ids in batch], device=self.device)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch], device=self.device)
        config = GenerationConfig(max_new_tokens=settings.max_new_tokens, do_sample=False, num_beams=1,
                                  eos_token_id=sorted(self.eos_ids), pad_token_id=self.pad_id, use_cache=True)
        stopper = _StopStrings(self.tokenizer, settings.stop, width, len(batch)) if settings.stop else None
        with torch.inference_mode():
            cache = (self.ragged_prefill(batch, width, width + settings.max_new_tokens)
                     if len(batch) > 1 and width > 1 else None)
            out = self.model.generate(input_ids=input_ids, attention_mask=mask, generation_config=config,
                                      cache=cache,
                                      stopping_criteria=StoppingCriteriaList([stopper] if stopper else []))
        results = []
        for row, ids in enumerate(batch):
            new = out[row, width:].tolist()
            n, finish = len(new), "length"
            eos_at = next((i for i, t in enumerate(new) if t in self.eos_ids), None)
            if eos_at is not None:
                n, finish = eos_at, "eos"
            if stopper and stopper.done_at[row] is not None and stopper.done_at[row] <= n:
                n, finish = stopper.done_at[row], "stop"
            text, stopped = truncate_at_stop(self.tokenizer.decode(new[:n], skip_special_tokens=True), settings.stop)
            results.append(Output(text, len(ids), n, "stop" if stopped else finish, new[:n]))
        return results

    def ragged_prefill(self, batch: list[list[int]], width: int, capacity: int):
        """The KV cache of every prompt but its last token, each computed alone, then left-padded into
        one batch cache; ``generate`` then runs only the last tokens and the decode steps. A padded
        batch prefill would compute every row at the longest prompt's length: API-Bank-style prompts
        of 250-900 tokens wasted about a third of it. A prompt that starts like another one of the
        batch reuses that one's cache for the shared start (``prefix``). Padded cache slots are zeros
        the attention mask hides; positions follow the mask, as in a padded prefill. The cache is
        preallocated for ``capacity`` tokens (``static_cache``): a growing cache copied itself at
        every decode step, two thirds of a CPU decode's time."""
        import torch

        store = PrefixStore(self.model.get_decoder(), self.device)
        layers: list[list[tuple]] = [[] for _ in batch]  # per row: per layer (keys, values), [1, heads, len - 1, dim]
        for row in lexicographic(batch):
            if len(batch[row]) > 1:  # else nothing before the last token: an all-padding row
                layers[row] = store.kv(batch[row][:-1])
        log.debug("prefill: %d tokens computed, %d reused", store.computed, store.reused)
        template = next(row for row in layers if row)
        padded = []
        for index, (keys, values) in enumerate(template):
            padded_k, padded_v = [], []
            for row in layers:
                k, v = row[index] if row else (keys[:, :, :0], values[:, :, :0])
                pad = width - 1 - k.shape[2]
                padded_k.append(torch.nn.functional.pad(k, (0, 0, pad, 0)))
                padded_v.append(torch.nn.functional.pad(v, (0, 0, pad, 0)))
            padded.append((torch.cat(padded_k), torch.cat(padded_v)))
        return static_cache(self.model.config, padded, capacity)

    def generate(self, prompts: list[str], settings: GenerationSettings, progress: bool = False) -> list[Output]:
        """Continuations of ``prompts`` in their order, generated in length-sorted batches."""
        encoded = [self.encode(p) for p in prompts]
        results: list[Output | None] = [None] * len(prompts)
        for batch in _progress(self.plan([len(e) for e in encoded], settings.batch_size), progress):
            for i, res in zip(batch, self.generate_ids([encoded[i] for i in batch], settings)):
                results[i] = res
        return results


def _progress(batches: list, enabled: bool, initial: int = 0, total: int | None = None):
    if not enabled:
        return batches
    from tqdm.auto import tqdm

    return tqdm(batches, desc="generate", unit="batch", initial=initial, total=total, mininterval=5)


def run_predictions(engine: Engine, records: list[dict], out: str | Path, settings: GenerationSettings,
                    fingerprint: dict | None = None, progress: bool = True) -> list[dict]:
    """Generate one prediction per record into ``out`` (JSONL, in record order); resumable.

    ``fingerprint`` (model, settings, ...) is stored in the partial file's first line; a
    partial file written under another fingerprint is discarded rather than mixed in.
    """
    out = Path(out)
    ids = [rec["id"] for rec in records]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise RecordError(f"record id {dup!r} appears more than once; predictions are keyed by id")
    header = {"_partial": {"settings": settings.as_dict(), **(fingerprint or {})}}
    partial = Path(f"{out}.partial")
    done = _resume(partial, header, set(ids))
    encoded = [engine.encode(render_prompt(engine.tokenizer, prompt_messages(rec))) for rec in records]
    batches = engine.plan([len(e) for e in encoded], settings.batch_size)
    todo = [b for b in batches if not all(ids[i] in done for i in b)]
    if done:
        log.info("resuming %s: %d of %d predictions already in %s", out, len(done), len(ids), partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    with open(partial, "a", encoding="utf-8") as f:
        if f.tell() == 0:
            _append(f, [header])
        for batch in _progress(todo, progress, initial=len(batches) - len(todo), total=len(batches)):
            rows = [{"id": ids[i], "prediction": res.text, "prompt_tokens": res.prompt_tokens,
                     "new_tokens": res.new_tokens, "finish": res.finish}
                    for i, res in zip(batch, engine.generate_ids([encoded[i] for i in batch], settings))]
            _append(f, rows)
            done.update((r["id"], r) for r in rows)
    predictions = [done[i] for i in ids]
    write_jsonl(out, predictions)
    partial.unlink()
    return predictions


def _append(f, rows: list[dict]) -> None:
    f.write("".join(dumps_record(r) + "\n" for r in rows))
    f.flush()
    os.fsync(f.fileno())


def _resume(partial: Path, header: dict, wanted: set[str]) -> dict[str, dict]:
    """Predictions already in ``partial``; rewrites it without a torn last line."""
    if not partial.exists():
        return {}
    lines = []
    for raw in partial.read_bytes().split(b"\n"):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:  # killed mid-write inside a character: the lines before it stand
            break
    try:
        first = json.loads(lines[0]) if lines else None
    except json.JSONDecodeError:
        first = None
    if first != json.loads(dumps_record(header)):
        log.warning("%s was written with other settings or a different model; starting over", partial)
        partial.unlink()
        return {}
    done = {}
    for line in lines[1:]:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # the run was killed mid-write: that batch is redone
            break
        if row.get("id") in wanted:
            done[row["id"]] = row
    with open(partial, "w", encoding="utf-8") as f:
        _append(f, [header, *done.values()])
    return done
