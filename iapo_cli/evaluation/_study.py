"""Studies in the paper's protocol: repeated 80/20 splits, training under a budget, exact
test ACR, regret against the test oracle, Wilcoxon signed-rank tests paired by run."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .. import errors
from ..algorithms import Problem, Trainer, make_algorithm, train
from ..backends import Environment
from ._exact import ExactTable, score_policy

if TYPE_CHECKING:
    import pandas as pd


class StudyInterrupted(errors.Interrupted):
    """Ctrl-C during a study (exit 130); ``partial`` holds the runs that finished."""

    def __init__(self, partial: pd.DataFrame):
        self.partial = partial
        super().__init__(f"interrupted after {partial['run'].nunique() if len(partial) else 0}"
                         " complete runs")


@dataclass(frozen=True)
class AlgorithmSpec:
    name: str
    params: tuple[tuple[str, object], ...] = ()

    @property
    def label(self) -> str:
        if not self.params:
            return self.name
        return self.name + "(" + ",".join(f"{k}={v}" for k, v in self.params) + ")"

    def build(self):
        return make_algorithm(self.name, **dict(self.params))


def split_queries(n_queries: int, seed: int, run: int, test_fraction: float = 0.2
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The run's random train/test split (the same for every algorithm and budget)."""
    rng = np.random.default_rng([seed, run, 0])
    order = rng.permutation(n_queries)
    cut = int(round((1.0 - test_fraction) * n_queries))
    return np.sort(order[:cut]), np.sort(order[cut:])


_STATE: dict = {}


def _init_worker(env, table, scales, algorithms, budgets, seed, credit_tables=None,
                 budget_unit="completions"):
    _STATE.update(env=env, table=table, scales=scales, algorithms=algorithms, budgets=budgets,
                  seed=seed, budget_unit=budget_unit)
    if credit_tables:  # built once in the parent; a fresh worker would rebuild them
        from ..strategies import adopt_credit_tables

        adopt_credit_tables(credit_tables)


def _run_one(run: int) -> list[dict]:
    env: Environment = _STATE["env"]
    table: ExactTable = _STATE["table"]
    scales = _STATE["scales"]
    seed = _STATE["seed"]
    train_queries, test = split_queries(env.backend.n_queries, seed, run)
    problem = Problem(env.backend, train_queries, scales, env.contexts)
    q_test = table.q(test)
    rows = []
    for spec in _STATE["algorithms"]:
        for budget in _STATE["budgets"]:
            # common random numbers: every algorithm sees the same stream in a (run, budget)
            unit = _STATE["budget_unit"]
            stream = budget if unit == "completions" else int(round(budget * 1e6))
            rng = np.random.default_rng([seed, run, 1 if unit == "completions" else 2, stream])
            trainer = Trainer(problem, budget, rng, unit=unit)
            start = time.perf_counter()
            result = train(spec.build(), trainer)
            seconds = time.perf_counter() - start
            score = score_policy(q_test, result.policy, scales, env.contexts.probabilities)
            rows.append({
                "algorithm": spec.label, "budget": budget, "run": run, "acr": score.acr,
                "oracle": score.oracle, "regret": score.regret, "spent": result.spent,
                "seconds": seconds,
            })
    return rows


def run_study(env: Environment, algorithms: Sequence[AlgorithmSpec], budgets: Sequence[int],
              runs: int, seed: int = 0, scales: np.ndarray | None = None,
              workers: int | None = None,
              progress: Callable[[int, int], None] | None = None,
              budget_unit: str = "completions") -> pd.DataFrame:
    """One row per (algorithm, budget, run). Exact values and vote credit tables are computed
    once, here, and handed to the worker processes, which start while they are computed.
    ``budget_unit``: ``completions`` or ``cost`` (the environment's per-completion costs,
    ``Trainer`` metering)."""
    scales = np.arange(1, env.backend.n_max + 1) if scales is None else np.asarray(scales)
    workers = workers or min(os.cpu_count() or 1, runs)
    rows: list[dict] = []
    pool = _start_pool(workers) if workers > 1 else None
    try:
        precompute = getattr(env.backend, "precompute_exact", None)
        if pool is not None and precompute is not None:  # exact values on every core
            precompute(pool.map)
        table = ExactTable(env.backend, env.contexts)
        credit_tables = {}
        strategy = env.backend.strategy
        if getattr(strategy, "table", None):
            from ..strategies import credit_table

            credit_tables[tuple(strategy.table)] = credit_table(
                *strategy.table, map_parts=pool.map if pool is not None else map)
        args = (env, table, scales, list(algorithms), list(budgets), seed, credit_tables,
                budget_unit)
        if pool is None:
            _init_worker(*args)
            for i in range(runs):
                rows.extend(_run_one(i))
                if progress:
                    progress(i + 1, runs)
        else:
            _run_in_pool(pool, args, runs, rows, progress)
            pool.close()
            pool.join()
            pool = None
    except KeyboardInterrupt:
        raise StudyInterrupted(_frame(rows)) from None
    finally:
        if pool is not None:  # any failure: no worker is left behind
            pool.terminate()
            pool.join()
    return _frame(rows)


def _start_pool(workers: int):
    """Worker processes from a fork server, started at once so that their start-up
    overlaps the exact values the parent computes; they get the study's state with their
    first run (``_run_shared``). A CI study once hung in pool teardown after its last run
    (not reproduced here, so the cause is a guess), so both usual suspects are avoided:
    a fork server has no threads whose held locks a plain fork would copy, and on success
    the pool is closed and joined (workers leave on their own) rather than terminated,
    which races with idle workers for the task queue's lock."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    return ctx.Pool(workers, initializer=_ignore_sigint)


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group; the parent alone handles it
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_shared(task: tuple[str, int]) -> list[dict]:
    """``_run_one(run)`` in a worker, after loading the study's state from the file the
    parent wrote (once per worker)."""
    path, run = task
    if _STATE.get("path") != path:
        with open(path, "rb") as file:
            _init_worker(*pickle.load(file))
        _STATE["path"] = path
    return _run_one(run)


def _run_in_pool(pool, args: tuple, runs: int, rows: list[dict],
                 progress: Callable[[int, int], None] | None) -> None:
    """Runs in the pool's workers; the state goes through a temporary file (read once
    per worker) rather than with every task."""
    with tempfile.TemporaryDirectory(prefix="iapo-study-") as tmp:
        path = os.path.join(tmp, "state.pickle")
        with open(path, "wb") as file:
            pickle.dump(args, file, protocol=pickle.HIGHEST_PROTOCOL)
        tasks = [(path, run) for run in range(runs)]
        for i, part in enumerate(pool.imap_unordered(_run_shared, tasks)):
            rows.extend(part)
            if progress:
                progress(i + 1, runs)


def _frame(rows: list[dict]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["algorithm", "budget", "run", "acr", "oracle", "regret",
                                        "spent", "seconds"])
    return frame.sort_values(["algorithm", "budget", "run"], kind="stable").reset_index(drop=True)


def summarize(results: pd.DataFrame, reference: str = "psst") -> pd.DataFrame:
    """Per algorithm and budget: mean ACR, its standard error, mean regret, mean and max
    spend, median seconds, and the Wilcoxon signed-rank p-value of ACR against
    ``reference`` paired by run (NaN for the reference itself or identical samples)."""
    import pandas as pd
    from scipy.stats import wilcoxon  # ~1.5 s of imports, which only a study needs

    rows = []
    for (algo, budget), part in results.groupby(["algorithm", "budget"], sort=False):
        part = part.sort_values("run")
        p_value = np.nan
        ref = results[(results.algorithm == reference) & (results.budget == budget)]
        if algo != reference and len(ref):
            ref = ref.sort_values("run")
            merged = part.merge(ref, on="run", suffixes=("", "_ref"))
            diff = merged.acr - merged.acr_ref
            if np.any(diff != 0):
                p_value = float(wilcoxon(merged.acr, merged.acr_ref).pvalue)
        n = len(part)
        rows.append({
            "algorithm": algo, "budget": budget, "runs": n,
            "mean_acr": part.acr.mean(),
            "sem_acr": part.acr.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan,
            "mean_regret": part.regret.mean(),
            "mean_spent": part.spent.mean(), "max_spent": part.spent.max().item(),
            "median_seconds": part.seconds.median(),
            "p_vs_" + reference: p_value,
        })
    return pd.DataFrame(rows)
