"""Reports people can look at: PNG figures (matplotlib, headless) and report.md."""

from ._figures import (
    acr_vs_budget,
    frontier,
    frontier_axis,
    pareto_front,
    regret_vs_budget,
    trimming,
    utility_vs_cost,
    utility_vs_n,
)
from ._report import Report, markdown_table, run_report, study_report, write_report

__all__ = [
    "Report",
    "acr_vs_budget",
    "frontier",
    "frontier_axis",
    "markdown_table",
    "pareto_front",
    "regret_vs_budget",
    "run_report",
    "study_report",
    "trimming",
    "utility_vs_cost",
    "utility_vs_n",
    "write_report",
]
