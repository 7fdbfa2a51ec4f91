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


# Ten well-separated colours (matplotlib's tab10) and ten markers. Series i takes colour
# i % 10 and marker (i + i // 10) % 10, so the first 100 series have distinct (colour,
# marker) pairs and the first 10 differ in both; past 100 the line style changes too.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "<", ">", "h")
LINESTYLES = ("-", "--", "-.", ":")


def series_styles(names) -> dict[str, dict]:
    """Per name (in the order given, duplicates once): ``color``, ``marker`` and
    ``linestyle`` keyword arguments for matplotlib, distinct (colour, marker) pairs for up
    to 100 names."""
    out: dict[str, dict] = {}
    for name in names:
        name = str(name)
        if name in out:
            continue
        i = len(out)
        out[name] = {"color": PALETTE[i % len(PALETTE)],
                     "marker": MARKERS[(i + i // len(PALETTE)) % len(MARKERS)],
                     "linestyle": LINESTYLES[(i // (len(PALETTE) * len(MARKERS)))
                                             % len(LINESTYLES)]}
    return out


def _grid(count: int):
    """Facets for ``count`` panels: up to 3 columns (4 beyond 9 panels, 5 beyond 16, 6
    beyond 25), panels smaller as there are more."""
    plt = pyplot()
    cols = min(count, 3 if count <= 9 else 4 if count <= 16 else 5 if count <= 25 else 6)
    rows = math.ceil(count / cols)
    width, height = (4.2, 3.2) if count <= 9 else (3.4, 2.7)
    fig_w, fig_h = width * cols, height * rows
    fig, axes = plt.subplots(rows, cols, figsize=(fig_w, fig_h), squeeze=False)
    # fixed spacing in inches instead of tight_layout, which costs seconds with many
    # panels: room for tick labels, axis labels and titles between panels
    gap_w, gap_h = 0.75, 0.85
    left, right, bottom, top = 0.6, 0.1, 0.5, 0.35
    axes_w = (fig_w - left - right - gap_w * (cols - 1)) / cols
    axes_h = (fig_h - bottom - top - gap_h * (rows - 1)) / rows
    fig.subplots_adjust(left=left / fig_w, right=1 - right / fig_w, bottom=bottom / fig_h,
                        top=1 - top / fig_h, wspace=gap_w / axes_w, hspace=gap_h / axes_h)
    for ax in axes.ravel()[count:]:
        ax.set_visible(False)
    return fig, list(axes.ravel()[:count])


def _legend_outside(fig, handles: list, title: str | None = None, tight: bool = False
                    ) -> None:
    """One legend for the whole figure, right of every panel (never over one); long
    legends take several columns. Save with ``bbox_inches='tight'`` to keep it.
    ``tight``: lay the panels out with tight_layout first (few panels only: it is slow)."""
    if tight:
        fig.tight_layout()
    ncol = max(1, math.ceil(len(handles) / 28))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7,
               ncol=ncol, title=title, title_fontsize=8, frameon=False)


def _integer_ticks(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _proxy(label: str, **style):
    from matplotlib.lines import Line2D

    return Line2D([], [], label=label, **style)


def utility_vs_n(estimates: pd.DataFrame, policy: pd.DataFrame, contexts: list[str]):
    """Per context (a facet each), the estimated utility against N of every prompt (one
    colour and marker per prompt, the same in every facet); the chosen arm is a star.

    ``estimates``: context, prompt, n, utility and optionally ``trimmed_in_round``
    (estimates.csv): arms trimmed before the last round have hollow markers (filled: still
    in the race in the last round), and those estimated above the chosen arm are labelled
    with the round that cut them (``r0``: the first round), since their estimate rests on
    the data of that round. ``policy``: context, prompt, n (policy.csv). The legend is
    outside the panels; N ticks are integers."""
    fig, axes = _grid(len(contexts))
    chosen = policy.set_index("context")
    styles = series_styles(estimates.prompt)
    trims = "trimmed_in_round" in estimates.columns
    hollow_drawn = False
    # one pass of pandas over all arms (grouping per panel costs seconds at 27 x 20)
    drawn = estimates.dropna(subset=["utility"]).sort_values("n", kind="stable")
    series = {(str(c), str(p)): (rows.n.to_numpy(), rows.utility.to_numpy(dtype=float),
                    rows.trimmed_in_round.to_numpy(dtype=float) if trims
                    else np.full(len(rows), np.nan))
              for (c, p), rows in drawn.groupby(["context", "prompt"], sort=False)}
    last_rounds = (estimates.groupby("context").trimmed_in_round.max() if trims else None)
    for ax, name in zip(axes, contexts, strict=True):
        part = estimates[estimates.context == name]
        last = np.nan if last_rounds is None else last_rounds.get(name, np.nan)
        pick = chosen.loc[name]
        above = np.inf if _missing(pick.get("estimated_utility")) else float(
            pick.get("estimated_utility"))
        for prompt, style in styles.items():
            if (str(name), prompt) not in series:
                continue
            n, utility, cut = series[str(name), prompt]
            early = ~np.isnan(cut) & (cut < last)
            ax.plot(n, utility, linewidth=1, label=prompt,
                    markevery=list(np.nonzero(~early)[0]), markersize=4, **style)
            if early.any():
                hollow_drawn = True
                ax.plot(n[early], utility[early], linestyle="none",
                        marker=style["marker"], markersize=4, markerfacecolor="white",
                        markeredgecolor=style["color"], label=f"_{prompt} trimmed")
                for x, y, r in zip(n[early], utility[early], cut[early], strict=True):
                    if y > above:
                        ax.annotate(f"r{int(r)}", (x, y), textcoords="offset points",
                                    xytext=(3, 3), fontsize=6, color=style["color"])
        _mark_chosen(ax, part, pick, "n", "utility")
        _dress(ax, name, "N (completions per query)", "estimated utility")
        _integer_ticks(ax.xaxis)
    handles = [_proxy(prompt, markersize=5, **style) for prompt, style in styles.items()]
    handles.append(_proxy("chosen arm", marker="*", markersize=10, color="black",
                          linestyle="none"))
    if hollow_drawn:
        handles.append(_proxy("hollow: trimmed before the last round\n(rK: cut in round K, "
                              "shown above the chosen arm)", marker="o", markersize=5,
                              markerfacecolor="white", markeredgecolor="black",
                              linestyle="none"))
    _legend_outside(fig, handles, "prompt")
    return fig


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _mark_chosen(ax, arms: pd.DataFrame, pick, x: str, y: str) -> None:
    """A star at the chosen arm's (x, y) among ``arms`` (none if it has no estimate)."""
    arm = arms[(arms.prompt == pick.prompt) & (arms.n == pick.n)].dropna(subset=[x, y])
    if len(arm):
        ax.plot(arm[x].iloc[:1], arm[y].iloc[:1], marker="*", markersize=16, color="black",
                linestyle="none", label=f"chosen: {pick.prompt} @N={pick.n}", zorder=5)


def _dress(ax, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
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
    """Per context (a facet each), every arm's estimated task utility against its expected
    cost per query (one colour and marker per prompt, as in ``utility_vs_n``); the frontier
    (no arm cheaper and better) is a black step line and the chosen arm a star. The legend
    is outside the panels."""
    known = estimates.dropna(subset=["task_utility", "cost"])
    return _cost_panels(known, policy, contexts, "prompt", "cost", "expected cost per query")


def frontier_axis(estimates: pd.DataFrame) -> tuple[str, str]:
    """(column, axis label) of the frontier figure's x axis: USD per 1000 queries when some
    arm of ``estimates`` is priced (``usd_per_query``), else the expected cost per query in
    the strategy's cost units (``cost``)."""
    if "usd_per_query" in estimates.columns and estimates.usd_per_query.notna().any():
        return "usd_per_1k_queries", "USD per 1000 queries (expected)"
    return "cost", "expected cost per query (cost units; no prices)"


def frontier(estimates: pd.DataFrame, policy: pd.DataFrame, contexts: list[str]):
    """Per context (a facet each), every (model, prompt, N) arm as its estimated task
    utility against its expected dollars per 1000 queries (``frontier_axis``: the cost
    units when nothing is priced; log scale when the costs span a factor of 10 or more),
    one colour and marker per model (a run without a ``model`` column is one model); the
    frontier (no arm cheaper and better) a black step line; the chosen arm per context a
    star. ``estimates``: context, prompt, n, task_utility, cost, optionally model and
    usd_per_query (estimates.csv); ``policy``: context, prompt, n, optionally model. One
    scatter per (panel, model), so thousands of arms stay fast; the legend is outside."""
    x, xlabel = frontier_axis(estimates)
    arms = estimates.copy()
    if "model" not in arms.columns:
        arms["model"] = "the run's model"
    if x == "usd_per_1k_queries":
        arms[x] = 1000 * arms.usd_per_query
    arms["model"] = arms.model.astype(str)
    known = arms.dropna(subset=["task_utility", x])
    positive = known[x].to_numpy(dtype=float)
    positive = positive[positive > 0]
    log_x = len(positive) == len(known) and len(positive) > 0 and (
        positive.max() >= 10 * positive.min())
    return _cost_panels(known, policy, contexts, "model", x, xlabel, log_x)


def _cost_panels(known: pd.DataFrame, policy: pd.DataFrame, contexts: list[str], group: str,
                 x: str, xlabel: str, log_x: bool = False):
    """The figure ``utility_vs_cost`` and ``frontier`` share: per context a panel of the
    arms of ``known`` (rows with task_utility and ``x``), task utility against ``x``, one
    scatter per value of ``group`` (its colour and marker), the frontier as black steps
    and the policy's arm (matched on prompt, n and, when both have it, model) a star."""
    fig, axes = _grid(len(contexts))
    styles = series_styles(known[group])
    chosen = policy.set_index("context")
    points = {(str(c), str(g)): (rows[x].to_numpy(dtype=float),
                                 rows.task_utility.to_numpy(dtype=float))
              for (c, g), rows in known.groupby(["context", group], sort=False)}
    for ax, name in zip(axes, contexts, strict=True):
        part = known[known.context == name]
        for value, style in styles.items():
            if (str(name), value) in points:
                cost, task = points[str(name), value]
                ax.scatter(cost, task, s=12, alpha=0.7, color=style["color"],
                           marker=style["marker"], label=value)
        if len(part):
            front = pareto_front(part[x].to_numpy(dtype=float),
                                 part.task_utility.to_numpy(dtype=float))
            rows = part.iloc[front]
            ax.plot(rows[x], rows.task_utility, drawstyle="steps-post", color="black",
                    linewidth=1, label="frontier")
            pick = chosen.loc[name]
            mine = (part.prompt.astype(str) == str(pick.prompt)) & (part.n == pick.n)
            if "model" in policy.columns and "model" in part.columns:
                mine &= part.model.astype(str) == str(pick.model)
            if mine.any():
                ax.plot(part[x][mine].iloc[:1], part.task_utility[mine].iloc[:1], marker="*",
                        markersize=16, color="black", linestyle="none", zorder=5,
                        label="chosen arm")
        if log_x:
            ax.set_xscale("log")
        _dress(ax, name, xlabel, "estimated task utility")
    handles = [_proxy(value, linestyle="none", color=style["color"], marker=style["marker"],
                      markersize=5) for value, style in styles.items()]
    handles += [_proxy("frontier", color="black", linewidth=1, drawstyle="steps-post"),
                _proxy("chosen arm", marker="*", markersize=10, color="black",
                       linestyle="none")]
    _legend_outside(fig, handles, group)
    return fig


def dodge(count: int, spread: float = 0.6) -> np.ndarray:
    """(count,) horizontal offsets that set ``count`` series side by side within
    ``spread`` around each integer x (0 for a single series)."""
    if count <= 1:
        return np.zeros(max(count, 0))
    return (np.arange(count) - (count - 1) / 2) * spread / (count - 1)


def trimming(log: pd.DataFrame, contexts: list[str]):
    """Arms still in the race at the start of every round, per context (log scale), and
    how many distinct prompts they span; the last point is what the last round kept.

    Contexts are set side by side around each round (``dodge``) with their own colour and
    marker, so contexts with identical counts stay visible; rounds are integer ticks and
    the legend is outside the panels."""
    plt = pyplot()
    fig, (arms_ax, prompts_ax) = plt.subplots(1, 2, figsize=(11, 4))
    styles = series_styles(contexts)
    offsets = dodge(len(contexts))
    for name, offset in zip(contexts, offsets, strict=True):
        part = log[log.context == name]
        if not len(part):
            continue
        kept_flags = part.kept.astype(bool)
        counts = part.groupby("round").size()
        prompts = part.groupby("round").prompt.nunique()
        rounds = np.array([*counts.index, counts.index[-1] + 1], dtype=float) + offset
        final = part["round"] == part["round"].max()
        style = {**styles[str(name)], "markersize": 4, "linewidth": 1}
        arms_ax.plot(rounds, [*counts.to_numpy(), int((final & kept_flags).sum())],
                     label=str(name), **style)
        prompts_ax.plot(rounds, [*prompts.to_numpy(), part[final & kept_flags].prompt.nunique()],
                        label=str(name), **style)
    arms_ax.set_yscale("log")
    arms_ax.set_xlabel("round (the last point: the chosen arm)")
    arms_ax.set_ylabel("(prompt, N) arms considered")
    prompts_ax.set_xlabel("round")
    prompts_ax.set_ylabel("distinct prompts considered")
    for ax in (arms_ax, prompts_ax):
        ax.grid(alpha=0.3)
        _integer_ticks(ax.xaxis)
    _integer_ticks(prompts_ax.yaxis)  # counts
    handles = [_proxy(name, markersize=5, **style) for name, style in styles.items()]
    _legend_outside(fig, handles, "context (side by side in each round)", tight=True)
    return fig


def _against_budget(summary: pd.DataFrame, column: str, ylabel: str, log_y: bool,
                    errors: str | None = None):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    styles = series_styles(summary.algorithm)
    for algo, part in summary.groupby("algorithm", sort=False):
        part = part.sort_values("budget")
        style = styles[str(algo)]
        if errors:
            ax.errorbar(part.budget, part[column], yerr=part[errors], capsize=3,
                        label=str(algo), **style)
        else:
            ax.plot(part.budget, part[column], label=str(algo), **style)
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
