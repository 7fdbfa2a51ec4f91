"""``iapo infer``: a trained run's chosen arm answers every row of an input file.

Rows go out in chunks through the run's cached client (its deployment sample group: a
rerun, or a rerun after Ctrl-C, is served from the cache and pays nothing twice); each
chunk is checked against the caps at its worst case before it is sent (``max_usd``: every
completion at ``max_tokens`` and one request per completion billed the prompt's token
bound), so the caps are ceilings on what this command pays. One JSON line per row.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .. import errors
from ..backends import max_completion_tokens
from ..errors import ConfigError, IapoError
from ..llm import LLMError
from ..tasks import load_dataset
from ._deploy import Answer, DeployedArm, Policy

CHUNK_ROWS = 64
"""Rows sent together at most (more when the concurrency is higher): a Ctrl-C or a cap
stops between chunks, and the output is written per chunk."""


class InferInterrupted(errors.Interrupted):
    """Ctrl-C or ``kill`` (exit 130): the rows answered so far are written; rerunning the
    command answers them again from the cache and goes on."""

    def __init__(self, answered: int, total: int, out: str):
        super().__init__(f"interrupted after {answered} of {total} rows (written to {out}); "
                         f"rerun the same command to finish: completions already received "
                         f"come from the cache")


class CapReached(IapoError):
    """A cap (``--max-usd``, ``--max-completions``) stopped the command before every row
    was answered (exit 1); the rows answered are written (``lines`` holds them when they
    go to stdout)."""


@dataclass
class InferOutcome:
    """What ``infer`` did: the arm used, rows answered of the input's, completions paid
    (``fresh``) and served from the cache, tokens and USD paid (None: unpriced), where the
    lines went (None: ``lines`` holds them for stdout)."""

    arm: DeployedArm
    rows: int
    answered: int
    fresh: int
    cached: int
    prompt_tokens: int
    completion_tokens: int
    usd: float | None
    out: Path | None
    lines: list[str]
    unanswered: int = 0  # rows whose answer is null (no completion gave one)


def _line(row_id: str, arm: DeployedArm, answer: Answer, with_completions: bool) -> str:
    record = {"id": row_id, "answer": answer.answer}
    if answer.vote_share is not None:
        record["vote_share"] = answer.vote_share
    if answer.score is not None:
        record["score"] = answer.score
    record.update({"tied": answer.tied, "n": arm.n, "cached": answer.cached,
                   "prompt_tokens": round(answer.prompt_tokens, 6),
                   "completion_tokens": round(answer.completion_tokens, 6),
                   "usd": answer.usd})
    if with_completions:
        record["completions"] = list(answer.completions)
    return json.dumps(record, ensure_ascii=False)


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_file():
        raise ConfigError(f"{out} is not a file", field="--out")
    if not out.parent.is_dir():
        raise ConfigError(f"the directory {out.parent} does not exist", field="--out")
    if not os.access(out.parent, os.W_OK):
        raise ConfigError(f"cannot write in {out.parent}", field="--out")


def _worst_usd(arm: DeployedArm, fresh: int, messages: list[dict]) -> float:
    """USD a row with ``fresh`` completions not in the cache can cost at most: each at
    the arm's ``max_tokens`` and, at worst, in a request of its own billed the prompt's
    token bound."""
    client = arm.client
    price_in, price_out = client.prices()
    cap = max_completion_tokens(arm.decoding)
    return fresh * (cap * price_out + client.prompt_tokens_bound(messages) * price_in)


def infer(run_dir: str | Path, input_path: str | Path, *, context: str | None = None,
          weights: dict[str, float] | None = None, out: str | Path | None = None,
          max_usd: float | None = None, max_completions: int | None = None,
          concurrency: int | None = None, with_completions: bool = False,
          progress: Callable[[int, int], None] | None = None) -> InferOutcome:
    """Answer every row of ``input_path`` (.jsonl, .csv or .parquet, or a directory a
    Hugging Face dataset's save_to_disk wrote: ``tasks.load_dataset``; a row's ``id``
    field, when every row has one, names it, else its 0-based position) with the arm
    ``context`` (or ``weights``, see ``Policy.arm``) deploys; write one JSON line per row to
    ``out`` (None: return them in ``InferOutcome.lines``). ``progress(rows done, rows)``.

    Every check runs before a completion is paid: a bad run directory, context, weights,
    input file, row (its template cannot render) or flag is a ConfigError (exit 2).
    ``CapReached`` (exit 1) when a cap stops it before the end, ``InferInterrupted`` (exit
    130) on Ctrl-C: in both cases the rows answered so far are written.
    """
    if max_usd is not None and not (math.isfinite(max_usd) and max_usd > 0):
        raise ConfigError(f"must be a positive number of USD, got {max_usd}", field="--max-usd")
    if max_completions is not None and max_completions < 1:
        raise ConfigError(f"must be at least 1, got {max_completions}",
                          field="--max-completions")
    if concurrency is not None and concurrency < 1:
        raise ConfigError(f"must be at least 1, got {concurrency}", field="--concurrency")
    out_path = None if out is None else Path(out)
    if out_path is not None:
        _check_out(out_path)
    policy = Policy.load(run_dir)
    arm = policy.arm(context, weights=weights)
    source = str(input_path)
    dataset = load_dataset(input_path, source=source, field="--input", min_rows=1)
    ids = [r["id"] for r in dataset.rows] if "id" in dataset.fields else list(dataset.ids)
    if len(set(ids)) != len(ids):
        raise ConfigError("'id' values repeat", source=source, field="--input")
    messages = []
    for i, row in enumerate(dataset.rows):
        try:
            arm.request(row)
            messages.append(arm.messages(row))
        except ConfigError as exc:
            raise ConfigError(f"row {ids[i]}: {exc.detail}", source=source,
                              field="--input") from None
    if max_usd is not None:
        if arm.client.prices() is None:
            raise ConfigError(f"the model {arm.model} has no price, so USD cannot be capped",
                              field="--max-usd")
        if max_completion_tokens(arm.decoding) is None:
            raise ConfigError("a USD cap needs max_tokens on the model (its params) or the "
                              "prompt (its decoding): without it one answer can cost "
                              "anything", field="--max-usd")
        if arm.strategy == "best_of_n" and any(
                getattr(scorer, "client", None) is not None for _, scorer in
                getattr(arm._backend, "scorers", ())):
            raise ConfigError("a USD cap does not cover an llm_judge objective's ratings",
                              field="--max-usd")
    client = arm.client
    if concurrency is not None:
        client.settings = replace(client.settings, concurrency=concurrency)
    chunk = max(CHUNK_ROWS, 4 * client.settings.concurrency)
    usage_before = _totals(arm)
    lines: list[str] = []
    spent_usd, spent_completions = 0.0, 0
    part = None if out_path is None else out_path.with_name(out_path.name + ".part")
    handle = None if part is None else open(part, "w", encoding="utf-8")  # noqa: SIM115
    answered = 0
    unanswered = 0
    stopped: str | None = None
    try:
        while answered < len(ids):
            rows = list(range(answered, min(answered + chunk, len(ids))))
            rows, stopped = _within_caps(arm, rows, dataset.rows, messages, max_usd,
                                         max_completions, spent_usd, spent_completions)
            if not rows:
                break
            answers = arm.answer_many([dataset.rows[i] for i in rows])
            for i, answer in zip(rows, answers, strict=True):
                unanswered += answer.answer is None
                line = _line(ids[i], arm, answer, with_completions)
                if handle is not None:
                    handle.write(line + "\n")
                else:
                    lines.append(line)
            answered += len(rows)
            totals = _totals(arm)
            spent_completions = totals["fresh"] - usage_before["fresh"]
            spent_usd = (totals["cost"] or 0.0) - (usage_before["cost"] or 0.0)
            if progress is not None:
                progress(answered, len(ids))
            if stopped:
                break
    except KeyboardInterrupt:
        _close(handle, part, out_path)
        interrupted = InferInterrupted(answered, len(ids), str(out_path or "stdout"))
        interrupted.lines = lines
        raise interrupted from None
    except LLMError as exc:  # the rows answered before the failure are kept
        _close(handle, part, out_path)
        exc.lines = lines
        raise
    _close(handle, part, out_path)
    totals = _totals(arm)
    outcome = InferOutcome(
        arm=arm, rows=len(ids), answered=answered,
        fresh=totals["fresh"] - usage_before["fresh"],
        cached=totals["cached"] - usage_before["cached"],
        prompt_tokens=totals["prompt_tokens"] - usage_before["prompt_tokens"],
        completion_tokens=totals["completion_tokens"] - usage_before["completion_tokens"],
        usd=None if totals["cost"] is None else totals["cost"] - (usage_before["cost"] or 0.0),
        out=out_path, lines=lines, unanswered=unanswered)
    if answered < len(ids):
        where = str(out_path) if out_path is not None else "stdout"
        error = CapReached(f"stopped at {stopped}: {answered} of {len(ids)} rows answered "
                           f"(written to {where}); raise the cap and rerun: completions "
                           f"already received come from the cache")
        error.lines = lines
        raise error
    return outcome


def _within_caps(arm: DeployedArm, rows: list[int], data: tuple[dict, ...],
                 messages: list[list[dict]], max_usd: float | None,
                 max_completions: int | None, spent_usd: float, spent_completions: int
                 ) -> tuple[list[int], str | None]:
    """The leading part of ``rows`` whose worst case (completions the cache does not hold
    yet) fits the caps, and which cap cut it (None: all fit)."""
    if max_usd is None and max_completions is None:
        return rows, None
    completions = 0
    worst = 0.0
    for k, i in enumerate(rows):
        fresh = arm.n - arm.cached(data[i])
        completions += fresh
        if max_completions is not None and spent_completions + completions > max_completions:
            return rows[:k], f"--max-completions {max_completions}"
        if max_usd is not None:
            worst += _worst_usd(arm, fresh, messages[i])
            if spent_usd + worst > max_usd:
                return rows[:k], f"--max-usd {max_usd:g}"
    return rows, None


def _totals(arm: DeployedArm) -> dict:
    """The completion usage of the arm's client so far (``Usage`` counters)."""
    usage = arm.client.usage.get("completion")
    if usage is None:
        return {"fresh": 0, "cached": 0, "prompt_tokens": 0, "completion_tokens": 0,
                "cost": 0.0}
    return {"fresh": usage.fresh, "cached": usage.cached, "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens, "cost": usage.cost}


def _close(handle, part: Path | None, out: Path | None) -> None:
    """Close the output and give it its name: it holds whole lines only."""
    if handle is None:
        return
    handle.close()
    os.replace(part, out)
