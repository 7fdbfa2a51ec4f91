"""Figures for a run directory and for a study, as matplotlib figures (headless).

Each builder returns the figure without saving it, so tests can read back what is drawn.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(count: int, width: float = 4.2, height: float = 3.2):
    plt = pyplot()
    cols = min(3, count)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[count:]:
        ax.set_visible(False)
    return fig, list(axes.ravel()[:count])


def utility_vs_n(estimates: pd.DataFrame, policy: pd.DataFrame, contexts: list[str]):
    """Per context, the estimated utility against N of every prompt; the chosen arm is a
    star. ``estimates``: context, prompt, n, utility; ``policy``: context, prompt, n."""
    fig, axes = _grid(len(contexts))
    chosen = policy.set_index("context")
    for ax, name in zip(axes, contexts, strict=True):
        part = estimates[estimates.context == name]
        for prompt, rows in part.groupby("prompt", sort=False):
            rows = rows.dropna(subset=["utility"]).sort_values("n")
            if len(rows):
                ax.plot(rows.n, rows.utility, marker=".", linewidth=1, label=str(prompt))
        _mark_chosen(ax, part, chosen.loc[name], "n", "utility")
        _dress(ax, name, "N (completions per query)", "estimated utility")
    axes[0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def _mark_chosen(ax, arms: pd.DataFrame, pick, x: str, y: str) -> None:
    """A star at the chosen arm's (x, y) among ``arms`` (none if it has no estimate)."""
    arm = arms[(arms.prompt == pick.prompt) & (arms.n == pick.n)].dropna(subset=[x, y])
    if len(arm):
        ax.plot(arm[x].iloc[:1], arm[y].iloc[:1], marker="*", markersize=16, color="black",
                linestyle="none", label=f"chosen: {pick.prompt} @N={pick.n}")


def _dress(ax, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def pareto_front(cost: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both lower cost and higher value,
    ordered by cost."""
    order = np.lexsort((-value, cost))
    front, best = [], -np.inf
    for i in order:
        if value[i] > best:
            front.append(i)
            best = value[i]
    return np.array(front, dtype=int)


def utility_vs_cost(estimates: pd.DataFrame, policy: pd.DataFrame, contexts: list[str]):
    """Per context, every arm's estimated task utility against its expected cost per query
    (N x cost of one completion); the frontier is drawn and the chosen arm starred."""
    fig, axes = _grid(len(contexts))
    chosen = policy.set_index("context")
    for ax, name in zip(axes, contexts, strict=True):
        part = estimates[estimates.context == name].dropna(subset=["task_utility", "cost"])
        ax.scatter(part.cost, part.task_utility, s=8, alpha=0.4, label="arms")
        if len(part):
            front = pareto_front(part.cost.to_numpy(), part.task_utility.to_numpy())
            rows = part.iloc[front]
            ax.plot(rows.cost, rows.task_utility, drawstyle="steps-post", color="tab:red",
                    linewidth=1.2, label="frontier")
        _mark_chosen(ax, part, chosen.loc[name], "cost", "task_utility")
        _dress(ax, name, "expected cost per query", "estimated task utility")
    axes[0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def trimming(log: pd.DataFrame, contexts: list[str]):
    """Arms still in the race at the start of every round, per context (log scale), and
    how many distinct prompts they span."""
    plt = pyplot()
    fig, (arms_ax, prompts_ax) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name in contexts:
        part = log[log.context == name]
        counts = part.groupby("round").size()
        prompts = part.groupby("round").prompt.nunique()
        rounds = list(counts.index)
        final = part[part["round"] == part["round"].max()]
        kept = int(final.kept.sum())
        arms_ax.plot([*rounds, rounds[-1] + 1], [*counts.to_numpy(), kept], marker="o",
                     label=name)
        kept_prompts = final[final.kept].prompt.nunique()
        prompts_ax.plot([*rounds, rounds[-1] + 1], [*prompts.to_numpy(), kept_prompts],
                        marker="o", label=name)
    arms_ax.set_yscale("log")
    arms_ax.set_xlabel("round (the last point: the chosen arm)")
    arms_ax.set_ylabel("(prompt, N) arms considered")
    prompts_ax.set_xlabel("round")
    prompts_ax.set_ylabel("distinct prompts considered")
    for ax in (arms_ax, prompts_ax):
        ax.grid(alpha=0.3)
    if len(contexts) <= 10:
        arms_ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _against_budget(summary: pd.DataFrame, column: str, ylabel: str, log_y: bool,
                    errors: str | None = None):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for algo, part in summary.groupby("algorithm", sort=False):
        part = part.sort_values("budget")
        if errors:
            ax.errorbar(part.budget, part[column], yerr=part[errors], marker="o", capsize=3,
                        label=str(algo))
        else:
            ax.plot(part.budget, part[column], marker="o", label=str(algo))
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("budget T (completions)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


def acr_vs_budget(summary: pd.DataFrame):
    """Mean test ACR (error bars: one standard error) against budget per algorithm."""
    return _against_budget(summary, "mean_acr", "mean test ACR (± sem)", False, "sem_acr")


def regret_vs_budget(summary: pd.DataFrame):
    """Mean regret against budget per algorithm, both axes logarithmic."""
    return _against_budget(summary, "mean_regret", "mean regret (log scale)", True)
