"""What policy.csv/json and estimates.csv say beyond the engine's tables: the round each
arm was trimmed in (from the trimming log) and the inference-agnostic choice in the same
units as the policy's estimate (from the estimates).

Pure pandas on the frames ``Trainer.arm_estimates()``, ``TrimmingLog.frame()`` and
``Policy.frame()`` return (or the same tables read back from a run directory).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

ARM = ["context", "prompt", "n"]


def spend_text(spent, budget, unit: str | None) -> str:
    """'612 of 700 completions', '$0.4871 of $0.5', '98,113 of 100,000 tokens' or
    '41.2 of 42 cost units': a run's spend in its budget's unit (summary.json's ``spent``,
    ``budget`` and ``budget_unit``; no unit is completions, as runs wrote before)."""
    unit = unit or "completions"
    if unit == "usd" and isinstance(spent, int | float) and isinstance(budget, int | float):
        return f"${spent:.4g} of ${budget:g}"
    if unit == "tokens" and isinstance(spent, int | float) and isinstance(budget, int | float):
        return f"{round(spent):,} of {round(budget):,} tokens"
    if unit == "cost" and isinstance(spent, float):
        return f"{spent:.4g} of {budget:g} cost units"
    return f"{spent} of {budget} {unit}"


def trimmed_rounds(estimates: pd.DataFrame, log: pd.DataFrame) -> np.ndarray:
    """(len(estimates),) per arm row of ``estimates`` (context, prompt, n) the trimming-log
    round in which the arm left its context's race; NaN for an arm that was never cut
    (the survivor a policy picks from, every arm of an algorithm that keeps no log, or one
    still in the race when a run stopped).

    An arm is cut in the first round the log shows it with ``kept`` false. A prompt that a
    round drops whole (none of its arms kept in the last round its context considered it)
    also takes with it the arms that round did not list: screening considers the smallest
    N only, so a prompt screened out loses every N there.
    """
    import pandas as pd

    out = np.full(len(estimates), np.nan)
    if not len(log) or not len(estimates):
        return out
    log = log.assign(kept=log["kept"].astype(bool))
    cut = log[~log["kept"]].groupby(ARM)["round"].min()
    arms = pd.MultiIndex.from_frame(estimates[ARM])
    out = cut.reindex(arms).to_numpy(dtype=float)
    last = log.groupby(["context", "prompt"])["round"].transform("max")
    final = log[log["round"] == last].groupby(["context", "prompt"])
    alive = final["kept"].any()
    dropped = final["round"].first()[~alive]
    prompts = pd.MultiIndex.from_frame(estimates[["context", "prompt"]])
    whole = dropped.reindex(prompts).to_numpy(dtype=float)
    return np.where(np.isnan(out), whole, out)


def estimates_table(estimates: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """estimates.csv: ``estimates`` plus ``trimmed_in_round`` (``trimmed_rounds``; the
    round numbers of trimming_log.csv, empty for arms never cut), without the arms that
    have no samples (their rows would be empty: with hundreds of prompts and contexts
    they are 95% of a table of millions of rows; readers take a missing arm as no data)."""
    import pandas as pd

    rounds = trimmed_rounds(estimates, log)  # NaN -> <NA>: an empty CSV cell, not '1.0'
    column = pd.array(np.where(np.isnan(rounds), None, rounds), dtype="Int64")
    table = estimates.assign(trimmed_in_round=column)
    if "samples" in table.columns:
        table = table[table.samples.to_numpy() > 0].reset_index(drop=True)
    return table


def ranking_column(estimates: pd.DataFrame) -> str:
    """The estimates.csv column that choices rank arms by: ``unbiased_utility`` when the
    run wrote it, else ``utility`` (runs from before estimates were clipped)."""
    return "unbiased_utility" if "unbiased_utility" in estimates.columns else "utility"


def agnostic_choice(estimates: pd.DataFrame) -> pd.DataFrame:
    """Per context of ``estimates`` (context, prompt, n, utility): the inference-agnostic
    choice as ``evaluate`` makes it, the prompt with the best estimated utility at the
    grid's smallest N (ties: the first prompt listed; NaN never best), and that utility,
    cost included. The pick ranks by ``unbiased_utility`` when the table has it (runs since
    estimates are clipped: clipping would tie arms at the range's bound), the reported
    value is ``utility``. Columns ``agnostic_prompt``, ``agnostic_n``, ``agnostic_utility``
    (None/NaN for a context without any estimate at that N), indexed by context."""
    import pandas as pd

    smallest = estimates["n"].min()
    first = estimates[estimates["n"] == smallest]
    rows = {}
    for context, part in first.groupby("context", sort=False):
        util = part["utility"].to_numpy(dtype=float)
        rank = part[ranking_column(part)].to_numpy(dtype=float)
        if np.isnan(rank).all():
            rows[context] = (None, int(smallest), np.nan)
            continue
        best = int(np.nanargmax(rank))
        rows[context] = (part["prompt"].iloc[best], int(smallest), float(util[best]))
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=["agnostic_prompt", "agnostic_n", "agnostic_utility"])


def policy_table(policy: pd.DataFrame, estimates: pd.DataFrame) -> pd.DataFrame:
    """policy.csv: ``policy`` (``Policy.frame()``) with the inference-agnostic choice of
    each context (``agnostic_choice``) after ``samples``, so that ``estimated_utility -
    agnostic_utility`` is the estimated gain of choosing N as well, both cost included."""
    choice = agnostic_choice(estimates).reindex(policy["context"])
    at = list(policy.columns).index("samples") + 1 if "samples" in policy.columns else len(
        policy.columns)
    out = policy.copy()
    for offset, column in enumerate(choice.columns):
        out.insert(at + offset, column, choice[column].to_numpy())
    return out
