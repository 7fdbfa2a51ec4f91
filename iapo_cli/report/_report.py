"""``report``: PNG figures, a report.md that embeds them and a self-contained report.html,
for a run or a study."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import __version__
from ..artifacts import RunDir, StudyDir, spend_text, trimmed_rounds
from ..errors import ConfigError
from . import _figures as figures
from . import _html as html
from ._html import PageFigure, SampleSet

if TYPE_CHECKING:
    import pandas as pd


Samples = SampleSet | Callable[[], SampleSet] | None
"""What a run page's sample browser is given (``run_report``)."""

MAX_PANELS = 36
"""Contexts shown in a run's per-context figures (one facet each); beyond 36 facets a
figure stops being readable, and report.md says how many it leaves out."""


@dataclass
class Report:
    kind: str  # "run" or "study"
    path: Path  # report.md
    figures: list[Path]
    html: Path | None = None  # report.html


def markdown_table(frame: pd.DataFrame, floats: str = "{:.4f}") -> str:
    """A markdown table; floats formatted with ``floats``, non-finite ones as '–'."""
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append("–" if not np.isfinite(v) else floats.format(v))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _dollars(value: float | None) -> str:
    """A dollar amount for a person ('n/a' when unknown)."""
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"${value:.4g}"


def _per_arm(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``prompt`` as 'prompt@model' when it has a ``model`` column, so the
    per-prompt figures draw one series per (prompt, model) instead of merging models."""
    if "model" not in frame.columns:
        return frame
    return frame.assign(prompt=frame.prompt.astype(str) + "@" + frame.model.astype(str))


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")  # keeps the legends outside the panels
    figures.pyplot().close(fig)
    return path


def run_report(run_dir: Path | RunDir, samples: Samples = None) -> Report:
    """Figures of a run directory: utility against N, the cost frontier, the trimming,
    and for a run with several models or prices the frontier of every (model, prompt, N)
    arm in dollars per 1000 queries, with dollars in the policy and evaluation tables;
    report.md embedding them and report.html holding all of it in one page, with
    ``samples`` in its sample browser: a ``SampleSet``, or a function returning one,
    called once every file of the run has been read, before anything is written (so a bad
    run directory is refused before a cache is opened); None: the page says none were
    gathered. A missing or unreadable file is a ConfigError, as in ``evaluate``; a run that
    did not complete (failed, interrupted) may lack estimates, and is reported without
    what they give."""
    import pandas as pd

    files = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir, flag="PATH")
    run_dir = files.path
    summary = files.read_summary()
    policy_data = files.read_policy()
    policy = pd.DataFrame(policy_data["contexts"])
    if "context" not in policy.columns:
        raise ConfigError("lists no contexts", source=str(files.file(RunDir.POLICY)))
    contexts = [str(c) for c in policy.context]
    complete = summary.get("status") in (None, "complete")
    problems: list[str] = []
    try:
        estimates = files.read_estimates(["context", "prompt", "n", "utility",
                                          "task_utility", "cost"])
    except ConfigError as exc:
        if complete:
            raise
        # a run stopped before its first estimate (the early answer check) still deserves
        # a page: it says why it stopped, and its samples show what the model wrote
        estimates, problems = None, [f"the training estimates ({exc})"]
    log = files.read_trimming_log(["round", "context", "prompt", "n", "kept"])
    if estimates is not None and "trimmed_in_round" not in estimates.columns:
        estimates["trimmed_in_round"] = trimmed_rounds(estimates, log)  # an older run
    evaluation = files.read_evaluation()
    if callable(samples):
        samples = samples()
    shown = contexts[:MAX_PANELS]
    by_n, by_cost, trimmed = (files.file(name) for name in RunDir.FIGURES)
    made: list[Path] = []
    page_figures: list[PageFigure] = []
    # runs with several models or prices (issue 11); older runs report as before
    money = estimates is not None and ("model" in estimates.columns or (
        "usd_per_query" in estimates.columns and estimates.usd_per_query.notna().any()))
    if estimates is not None:
        arms, chosen = _per_arm(estimates), _per_arm(policy)
        made += [_save(figures.utility_vs_n(arms, chosen, shown), by_n),
                 _save(figures.utility_vs_cost(arms, chosen, shown), by_cost)]
        page_figures += [PageFigure("Estimated utility against N", CAPTIONS["by_n"], by_n),
                         PageFigure("Utility against cost", CAPTIONS["by_cost"], by_cost)]
    if money:
        axis = figures.frontier_axis(estimates)[1]
        made.append(_save(figures.frontier(estimates, policy, shown),
                          files.file(RunDir.FRONTIER)))
        page_figures.append(PageFigure("Frontier: task utility against dollars",
                                       CAPTIONS["frontier"].format(axis=axis), made[-1]))
    if len(log):
        made.append(_save(figures.trimming(log, contexts), trimmed))
        page_figures.append(PageFigure("Trimming", CAPTIONS["trimming"], trimmed,
                                       anchor="trimming-figure"))
    if "usd_per_query" in policy.columns and policy.usd_per_query.notna().any():
        policy["usd_per_1k_queries"] = [_dollars(1000 * u) for u in policy.usd_per_query]
    cols = [c for c in ("context", "prompt", "model", "n", "estimated_utility",
                        "usd_per_1k_queries", "samples", "agnostic_prompt",
                        "agnostic_utility", "fallback", "over_cap")
            if c in policy.columns]
    spend = spend_text(summary.get("spent"), summary.get("budget"), summary.get("budget_unit"))
    text = [f"# Run report: {summary.get('name', run_dir.name)}", "",
            f"Algorithm `{summary.get('algorithm')}` on `{summary.get('environment')}` "
            f"({summary.get('strategy')}), spent {spend} in {summary.get('rounds')} rounds; "
            f"status: {summary.get('status')}.", ""]
    if summary.get("error"):
        text += [f"Stopped: {summary['error']}", ""]
    text += [f"Not shown: {problem}." for problem in problems] + ([""] if problems else [])
    text += ["## Policy", "", markdown_table(policy[cols]), ""]
    if estimates is not None and len(shown) < len(contexts):
        text += [f"The figures show the first {len(shown)} of {len(contexts)} contexts.", ""]
    if estimates is not None:
        text += ["## Estimated utility against N", "", CAPTIONS["by_n"], "",
                 f"![utility vs N]({by_n.name})", "", "## Utility against cost", "",
                 CAPTIONS["by_cost"], "", f"![utility vs cost]({by_cost.name})", ""]
    if money:
        text += ["## Frontier: task utility against dollars", "",
                 CAPTIONS["frontier"].format(axis=axis), "",
                 f"![frontier]({RunDir.FRONTIER})", ""]
    if len(log):
        text += ["## Trimming", "", CAPTIONS["trimming"], "", f"![trimming]({trimmed.name})",
                 ""]
    if evaluation is not None:
        data = evaluation
        priced = any("usd_per_1k_queries" in c for c in data["comparisons"])
        rows = pd.DataFrame([{"comparison": c["name"], "ACR": c["acr"], "sem": c["acr_sem"],
                              **({"USD / 1k queries": _dollars(c.get("usd_per_1k_queries"))}
                                 if priced else {}),
                              "regret": np.nan if c["regret"] is None else c["regret"],
                              "oracle gain": np.nan if c["gain_captured"] is None
                              else c["gain_captured"]}
                             for c in data["comparisons"]])
        text += ["## Test evaluation", "", f"{data['test_queries']} test queries, "
                 f"{data['method']} values (`iapo evaluate`).", "", markdown_table(rows), ""]
    path = files.write_report("\n".join(text))
    page = html.run_page(html.RunData(
        summary=summary, policy=policy, log=log, evaluation=evaluation,
        figures=page_figures, samples=samples, run_dir=run_dir, version=__version__,
        problems=problems, shown_contexts=len(shown) if estimates is not None else None),
        spend)
    return Report("run", path, made, files.write_report_html(page))


CAPTIONS = {
    "by_n": "Training estimates per prompt (one colour and marker each) and the chosen arm "
            "(star). Hollow markers are arms trimmed before the last round; their estimates "
            "rest on the few samples of the rounds they took part in, so one can lie above "
            "the chosen arm (labelled rK: cut in round K; the column trimmed_in_round of "
            "estimates.csv).",
    "by_cost": "Every arm's estimated task utility against its expected cost per query; the "
               "black steps are the frontier (no arm is both cheaper and better).",
    "frontier": "Every (model, prompt, N) arm's estimated task utility against its {axis}, "
                "one colour per model; the black steps are the frontier (no arm is both "
                "cheaper and better), the star the arm chosen for the context.",
    "trimming": "How many arms (and prompts) each context still considered at every round "
                "(contexts side by side within a round).",
}
"""The figures' captions, the same in report.md and report.html."""


def study_report(bench_dir: Path | StudyDir) -> Report:
    """Figures of a study (``iapo bench``): ACR and regret against budget, Wilcoxon table."""
    files = bench_dir if isinstance(bench_dir, StudyDir) else StudyDir(bench_dir, flag="PATH")
    summary = files.read_summary(["algorithm", "budget", "mean_acr", "sem_acr",
                                  "mean_regret"])
    by_acr, by_regret = (files.file(name) for name in StudyDir.FIGURES)
    made = [_save(figures.acr_vs_budget(summary), by_acr),
            _save(figures.regret_vs_budget(summary), by_regret)]
    reference = next((c.removeprefix("p_vs_") for c in summary.columns
                      if c.startswith("p_vs_")), None)
    regret = summary.pivot(index="algorithm", columns="budget", values="mean_regret")
    regret = regret.reset_index()
    regret.columns = [str(c) for c in regret.columns]
    runs = int(summary.runs.max()) if "runs" in summary else None
    text = ["# Study report", "", f"{runs} runs per algorithm and budget (random 80/20 "
            "splits; exact test values).", "", "## Mean test ACR against budget", "",
            f"![ACR vs budget]({by_acr.name})", "", "## Mean regret against budget", "",
            f"![regret vs budget]({by_regret.name})", "", markdown_table(regret), ""]
    if reference:
        pvals = summary.pivot(index="algorithm", columns="budget",
                              values=f"p_vs_{reference}").reset_index()
        pvals.columns = [str(c) for c in pvals.columns]
        text += [f"## Wilcoxon signed-rank p-values against {reference}", "",
                 f"Test ACR paired by run; – for {reference} itself.", "",
                 markdown_table(pvals, "{:.2g}"), ""]
    path = files.write_report("\n".join(text))
    results = files.read_results() if files.has(StudyDir.RESULTS) else None
    page = html.study_page(
        summary, results,
        [PageFigure("Mean test ACR against budget", "Mean ACR on the test queries ± its "
                    "standard error, per algorithm.", by_acr),
         PageFigure("Mean regret against budget", "The oracle's ACR minus the algorithm's, "
                    "averaged over runs (log scales).", by_regret)],
        files.path, __version__)
    return Report("study", path, made, files.write_report_html(page))


def write_report(path: str | Path, samples: Samples = None) -> Report:
    """A run directory (policy.json) or a study directory (summary.csv): figures,
    report.md and report.html. ``samples``: the completions a run page's sample browser
    shows, or a function giving them (``run_report``; gathered by the caller: this
    package reads no cache); ignored for a study."""
    path = Path(path)
    run, study = RunDir(path, flag="PATH"), StudyDir(path, flag="PATH")
    if run.has(RunDir.POLICY):
        return run_report(run, samples)
    if study.has(StudyDir.SUMMARY):
        return study_report(study)
    raise ConfigError(f"{path} is neither a run directory ({RunDir.POLICY}) nor a bench "
                      f"directory ({StudyDir.SUMMARY})", field="PATH")
