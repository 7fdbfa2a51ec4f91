"""``report`` with what the model said: a run's report.html gets its sample browser from the
run's cache here (the report package renders, it reads no cache)."""

from __future__ import annotations

from pathlib import Path

from ..artifacts import RunDir
from ..errors import ConfigError
from ..report import Report, SampleSet, write_report
from ._samples import RunSamples, SampleFilter, SampleRecord

PER_ARM = 8
"""Completions shown per arm (the first cached ones, query by query): every arm is seen."""

FINDABLE = 200
"""Unparsed and wrong completions added at most, each, so that they can be found even when
the first ``PER_ARM`` of every arm were all answered right."""


def build_report(path: str | Path, per_arm: int = PER_ARM, findable: int = FINDABLE
                 ) -> Report:
    """``iapo report PATH``: figures, report.md and report.html of a run or bench directory
    (``report.write_report``); a live run's page shows ``gather_samples`` in its sample
    browser, read once the run's files passed (a bad directory is a ConfigError naming
    PATH, and its cache is not opened). Sends nothing."""
    path = Path(path)
    return write_report(path, lambda: gather_samples(path, per_arm, findable))


def gather_samples(run_dir: str | Path, per_arm: int = PER_ARM, findable: int = FINDABLE
                   ) -> SampleSet:
    """A live run's cached completions for its report: up to ``per_arm`` of every arm, then
    up to ``findable`` without an answer (unparsed) and up to ``findable`` wrong ones, each
    once, grouped by arm in the run's arm order. A run whose completions cannot be read
    (an offline backend, a config that no longer resolves) gives no records and a note
    saying why: the report is still written."""
    backend = RunDir(run_dir).read_summary().get("backend")
    if backend not in (None, "live"):
        return SampleSet((), f"No completions to show: this run's backend is '{backend}', "
                             "not a live model (nothing was sent to a model).")
    try:
        run = RunSamples(run_dir)
    except ConfigError as exc:  # e.g. its config no longer resolves: the page goes on
        return SampleSet((), f"The completions could not be read: {exc}")
    first = run.per_arm(per_arm)
    unparsed = list(run.select(SampleFilter(unparsed=True), findable))
    wrong = list(run.select(SampleFilter(wrong=True), findable)) if run.extracts else []
    order = {arm: i for i, arm in enumerate(run.arms.ids)}
    seen: dict[tuple, dict] = {}
    for record in (*first, *unparsed, *wrong):
        key = (record.prompt, record.model, record.split, record.query, record.slot)
        seen.setdefault(key, _plain(record))
    records = sorted(seen.values(), key=lambda r: order.get(r["arm"], len(order)))
    found = [f"the first {findable} {what} ones" if len(hits) >= findable
             else f"all {len(hits)} {what} ones" for what, hits in (("unparsed", unparsed),
                                                                   ("wrong", wrong))]
    note = (f"{len(records)} completions from the run's cache (nothing was sent): up to "
            f"{per_arm} per arm, plus {found[0]} and {found[1]} (train and test queries). "
            "Filter by arm, verdict or outcome, or search the text.")
    if not records:
        note = ("No completions in the run's cache: its cache directory was moved or "
                "cleared, or the run stopped before any completion came back.")
    return SampleSet(records, note)


def _plain(record: SampleRecord) -> dict:
    """A record as the report's sample browser takes it (``SAMPLE_FIELDS``)."""
    arm = record.prompt if record.model is None else f"{record.prompt}@{record.model}"
    return {"arm": arm, **record.as_dict()}
