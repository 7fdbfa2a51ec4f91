"""``plan``: what a run will cost, before the first call.

Per arm (today one model, so arm = prompt; with several models the arms are (model, prompt)
pairs and ``_arms`` is the one place that enumerates them) it counts the prompt tokens of
the rendered templates, takes the expected completion tokens from a pilot (``pilot`` > 0)
or ``max_tokens``, prices them, and combines that with the algorithm's schedule
(``psst_schedule``: how many completions, rounds and round-1 pulls) into the expected and
worst-case tokens, dollars and wall time of the run. Nothing is sent without a pilot; a
pilot draws its completions through the run's cache at the slots the run asks for first,
so the run reuses them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..algorithms import PSST, Problem
from ..algorithms._budget import round_room, split_budget, times_affordable
from ..algorithms._psst import pooled_schedule
from ..backends._health import OUTCOMES, outcome_of
from ..config import load_config
from ..llm import (
    ChatRequest,
    Completion,
    LiteLLMTransport,
    LLMClient,
    provider_of,
    slot_key,
)
from ..sim import SIM_PROVIDER, token_count
from ._health import extractor_label
from ._resolve import ResolvedRun, resolve

TOKEN_SAMPLE = 500
"""At most this many train queries (evenly spaced) are rendered to count an arm's prompt
tokens: the mean and the largest count are over them (the plan says when it sampled)."""

PILOT_FROM_CACHE = 8
"""Without a pilot, the plan reads this many pilot slots per arm from the cache (free)."""

CHARS_PER_TOKEN = 3
"""The last-resort tokenizer (LiteLLM failed): one token per 3 characters plus 4 per
message, deliberately more than English text needs (~4 characters a token)."""


# -- the algorithm's schedule --------------------------------------------------------------

@dataclass(frozen=True)
class RoundPlan:
    """What PSST will do with ``budget``, known before any pull (what ``PSST.plan`` of the
    engine will return; until then ``psst_schedule`` computes it).

    ``round1_queries`` (P,): queries each prompt is pulled on in the first trimming round
    (the last round adds pulls for the closest races when it is also the first), at
    ``round1_scale`` (P,) (0: not pulled); ``screen_queries`` per prompt at
    ``screen_scale`` when ``screened``. After screening, which prompts survive depends on
    the data: ``round1_prompts`` of them are pulled (each context keeps ``k``; the plan
    assumes the contexts agree, ``exact`` is then False) and ``spread`` gives (trimming
    rounds, round-1 queries per prompt) when they disagree most (None if they cannot)."""

    completions: int
    screened: bool
    screen_scale: int
    screen_queries: int
    rounds: int  # trimming rounds, the screening round not counted
    round1_scale: np.ndarray
    round1_queries: np.ndarray
    round1_prompts: int
    exact: bool = True
    spread: tuple[int, int] | None = None
    pooled: bool = False  # PSST's pooled rounds (``pooled_rounds``), not trimming rounds

    @property
    def total_rounds(self) -> int:
        """Rounds as the run directory's summary.json counts them (screening included)."""
        return self.rounds + int(self.screened)


def _first_round(left: float, top_price: np.ndarray, arms_per_context: int,
                 rounds: int | None) -> tuple[int, np.ndarray]:
    """``trim_rounds``' number of rounds and round-1 queries per prompt (P,) for ``left``
    budget units when the prompts with ``top_price`` > 0 (the price of a pull at their
    largest active scale) are active and a context holds ``arms_per_context`` arms."""
    sweep = top_price.sum()
    if rounds is None:
        wanted = max(1, math.ceil(math.log2(max(arms_per_context, 2))))
        affordable = times_affordable(left, sweep) if sweep > 0 else int(left)
        rounds = min(wanted, max(1, affordable))
    room = round_room(split_budget(left, rounds), 0, left)
    per = times_affordable(room, sweep)
    active = top_price > 0
    if per > 0:
        return int(rounds), np.where(active, per, 0)
    # _rotate: one query for each prompt (in order) while the room lasts
    return int(rounds), (active & (np.cumsum(top_price) <= room)).astype(int)


def psst_schedule(problem: Problem, budget: float, price: np.ndarray | None = None,
                  algorithm: PSST | None = None) -> RoundPlan:
    """PSST's plan for ``budget`` on ``problem``, mirroring ``PSST.run`` and
    ``trim_rounds`` (algorithms/_psst.py) without pulling: the screening decision and its
    pulls, the number of trimming rounds and the pulls of round 1. ``price`` (P, n_max):
    the budget charge of one query of prompt p at scale k+1; None: completions (k+1, and
    ``completions`` is ``budget``: PSST spends all of it). A float ``budget`` is metered
    (tokens, USD): it starts with ``Trainer.probe_prices``' pull of every prompt at the
    smallest scale, and ``completions`` is what ``_allocation`` expects it to buy.
    ``algorithm``: the configured PSST (its rounds, schedule, screen, rho, k); default
    ``PSST()``."""
    algorithm = PSST() if algorithm is None else algorithm
    scales = problem.scales
    n_prompts = problem.n_prompts
    metered = isinstance(budget, float)
    n_max = int(problem.backend.n_max)
    price = np.broadcast_to(np.arange(1, n_max + 1), (n_prompts, n_max)) if price is None \
        else np.asarray(price)
    grid = price[:, scales - 1]  # (P, S)
    left = budget
    if metered:  # the price probe: one query of every prompt at the smallest scale
        left = budget - float(grid[:, 0].sum())
    if algorithm.pooled(problem):
        plan = _pooled_schedule(problem, budget, left, price, algorithm)
    else:
        plan = _trimming_schedule(problem, budget, left, price, grid, algorithm)
    if metered:  # the completions the budget buys, as allocated
        alloc = _allocation(plan, budget, price, scales, probe=True)
        plan = replace(plan, completions=int(round(sum(q * n for _, n, q in alloc))))
    return plan


def _pooled_schedule(problem: Problem, budget: float, left: float, price: np.ndarray,
                     algorithm: PSST) -> RoundPlan:
    """``pooled_rounds``' schedule: every prompt at the pooled pull size in round 1."""
    n_prompts = problem.n_prompts
    rounds, size = pooled_schedule(problem, algorithm.rounds, algorithm.votes)
    room = round_room(split_budget(left, rounds), 0, left)
    top_price = price[:, size - 1]
    per = times_affordable(room, top_price.sum())
    queries = np.full(n_prompts, per) if per > 0 else \
        (np.cumsum(top_price) <= room).astype(int)  # _rotate
    completions = int(budget) if not isinstance(budget, float) else 0
    return RoundPlan(completions, False, int(problem.scales[0]), 0, int(rounds),
                     np.full(n_prompts, size), queries.astype(int), n_prompts, pooled=True)


def _trimming_schedule(problem: Problem, budget: float, left: float, price: np.ndarray,
                       grid: np.ndarray, algorithm: PSST) -> RoundPlan:
    """``trim_rounds``' schedule, after screening when PSST screens."""
    scales, n_prompts = problem.scales, problem.n_prompts
    metered = isinstance(budget, float)
    screened = bool(algorithm.wants_screen(problem, budget, price))
    screen_queries, survivors, most = 0, n_prompts, n_prompts
    if screened:
        sweep = grid[:, 0].sum()
        share = algorithm.rho * budget if metered else int(algorithm.rho * budget)
        screen_queries = times_affordable(share, sweep)
        if screen_queries == 0 and sweep <= left:
            screen_queries = 1
        left -= sweep * screen_queries
        # each context keeps k prompts; the first round pulls every prompt some context
        # kept: k when the contexts agree (usual), up to min(P, C * k)
        survivors = min(algorithm.k, n_prompts)
        most = min(n_prompts, len(problem.contexts) * survivors)

    def first_round(count: int) -> tuple[int, np.ndarray]:
        # which prompts survive is unknown: the first ``count`` stand for them
        top_price = np.where(np.arange(n_prompts) < count, grid[:, -1], 0)
        return _first_round(left, top_price, survivors * len(scales), algorithm.rounds)

    rounds, queries = first_round(survivors)
    spread = None
    if most > survivors:
        spread_rounds, spread_queries = first_round(most)
        spread = (spread_rounds, int(spread_queries.max()))
    per_prompt = np.full(n_prompts, int(queries.max()) if survivors < n_prompts else 0)
    if survivors == n_prompts:
        per_prompt = queries
    top = np.where(per_prompt > 0, int(scales[-1]), 0)
    return RoundPlan(int(budget) if not metered else 0, screened, int(scales[0]),
                     screen_queries, rounds, top, per_prompt, survivors,
                     exact=survivors == n_prompts, spread=spread)


def _allocation(schedule: RoundPlan | None, budget: float, price: np.ndarray,
                scales: np.ndarray, probe: bool = False) -> list[tuple[int, int, float]]:
    """(arm, scale, queries) a run is expected to pull with ``budget`` at ``price``
    (P, n_max) per query in the budget's unit (N for completions): ``probe`` (a metered
    run's ``Trainer.probe_prices``: one query of every arm at the smallest scale), the
    screening and round 1 as scheduled, then the rest of the budget in equal queries over
    the round-1 arms at their largest scale (paired, as PSST's rounds are; later rounds
    pull the survivors, which depend on the data). Without a schedule (a baseline): the
    budget in equal queries over every arm at the largest scale."""
    n_arms = price.shape[0]
    first, top = int(scales[0]), int(scales[-1])
    if schedule is None:
        queries = budget / float(price[:, top - 1].sum())
        return [(a, top, queries) for a in range(n_arms)]
    out: list[tuple[int, int, float]] = []
    used = 0.0
    if probe:
        out += [(a, first, 1.0) for a in range(n_arms)]
        used += float(price[:, first - 1].sum())
    if schedule.screened:
        for a in range(n_arms):
            out.append((a, schedule.screen_scale, float(schedule.screen_queries)))
        used += float(price[:, schedule.screen_scale - 1].sum()) * schedule.screen_queries
    pulled = [a for a in range(n_arms) if schedule.round1_scale[a] > 0] or list(range(n_arms))
    share = schedule.round1_prompts / len(pulled) if not schedule.exact else 1.0
    for a in pulled:  # after screening, any prompt may be among those kept
        n, q = int(schedule.round1_scale[a]) or top, schedule.round1_queries[a] * share
        out.append((a, n, float(q)))
        used += float(price[a, n - 1]) * q
    # each pulled arm's expected share of the rest: (budget - used) / sweep queries (with
    # screening, ``share`` of the arms get 1/share of that, which averages to the same)
    sweep = sum(float(price[a, (int(schedule.round1_scale[a]) or top) - 1]) for a in pulled)
    rest = max(budget - used, 0.0) / sweep if sweep > 0 else 0.0
    for a in pulled:
        out.append((a, int(schedule.round1_scale[a]) or top, rest))
    return out

def schedule_for(resolved: ResolvedRun) -> RoundPlan | None:
    """The configured algorithm's schedule; None for algorithms without one (baselines)."""
    if not isinstance(resolved.algorithm, PSST):
        return None
    return psst_schedule(resolved.problem, resolved.budget, algorithm=resolved.algorithm)


# -- per arm ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ArmSource:
    """One (model, prompt) arm of a live backend: where its requests go (``client``, the
    model's settings) and how they are built (``backend.request(prompt, ...)``)."""

    arm: int  # index in the backend's prompt_ids (its arms)
    arm_id: str
    model: str
    prompt_id: str
    prompt: int  # the backend's prompt index to render with
    client: LLMClient
    decoding: dict


def _arms(env) -> Iterator[ArmSource]:
    """The live backend's arms, each on its own model's client (``arm_clients``: one
    client for every arm of a one-model config)."""
    backend = env.backend
    for p, arm in enumerate(backend.prompts):
        client = backend.arm_clients[p]
        yield ArmSource(p, backend.prompt_ids[p], client.settings.model,
                        backend.arm_prompts[p], p, client,
                        {**client.settings.params, **(arm.decoding or {})})


def _prices(source: ArmSource) -> tuple[tuple[float, float] | None, str | None]:
    """USD per prompt token and per completion token of the arm's model, and where they
    come from. Hook for prices given in the config (they take precedence over LiteLLM's
    table once the schema has them)."""
    prices = source.client.prices()
    return (prices, "LiteLLM" if prices is not None else None)


def _max_tokens(decoding: dict) -> int | None:
    value = decoding.get("max_tokens", decoding.get("max_completion_tokens"))
    return None if value is None else int(value)


def count_tokens(model: str, messages: list[dict], litellm: bool = True) -> tuple[int, str]:
    """Prompt tokens of ``messages`` and the tokenizer used: the simulator's own for
    ``iapo-sim/...`` (exactly what it bills), else LiteLLM's ``token_counter``
    (``llm.count_prompt_tokens``) unless ``litellm`` is False, else ``CHARS_PER_TOKEN``
    (an overestimate)."""
    if provider_of(model) == SIM_PROVIDER:
        return sum(token_count(str(m.get("content") or "")) for m in messages), SIM_PROVIDER
    if litellm:
        try:
            from ..llm._litellm import count_prompt_tokens

            return count_prompt_tokens(model, messages)
        except Exception:  # a model LiteLLM cannot tokenize: over-count rather than fail
            pass
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    return (math.ceil(chars / CHARS_PER_TOKEN) + 4 * len(messages),
            f"{CHARS_PER_TOKEN} characters per token (estimate)")


def _token_sample(train: np.ndarray) -> np.ndarray:
    if len(train) <= TOKEN_SAMPLE:
        return np.asarray(train)
    return np.asarray(train)[np.linspace(0, len(train) - 1, TOKEN_SAMPLE).astype(int)]


def _requests(scale: int, supports_n: bool, max_n: int) -> int:
    """Requests one query's pull at ``scale`` sends: ceil(scale / max_n) with n support,
    else one per completion."""
    return math.ceil(scale / max_n) if supports_n else scale


@dataclass
class ArmPlan:
    """What one arm costs. Tokens per request/completion are means over the (sampled)
    train queries (prompt tokens counted by ``tokenizer``, or as a pilot's requests were
    billed: ``prompt_from``); ``completion_tokens`` is the pilot's mean or ``max_tokens`` (None:
    unknown), ``completion_from`` says which. Prices in USD per token (None: unpriced)."""

    arm: str
    model: str
    prompt: str
    prompt_tokens: float
    prompt_tokens_max: int
    tokenizer: str
    max_tokens: int | None
    completion_tokens: float | None
    completion_from: str | None
    supports_n: bool
    max_n: int
    concurrency: int
    usd_per_prompt_token: float | None
    usd_per_completion_token: float | None
    price_from: str | None
    latency: float | None = None  # seconds per request (pilot), None unknown
    prompt_from: str = "tokenizer"  # or "pilot": prompt tokens as the model billed them
    pilot: dict | None = None
    per_n: list[dict] = field(default_factory=list)

    def tokens_per_query(self, scale: int, completion: float | None = None) -> float | None:
        completion = self.completion_tokens if completion is None else completion
        if completion is None:
            return None
        return (scale * completion
                + _requests(scale, self.supports_n, self.max_n) * self.prompt_tokens)

    def usd_per_query(self, scale: int) -> float | None:
        if self.usd_per_prompt_token is None or self.completion_tokens is None:
            return None
        return (scale * self.completion_tokens * self.usd_per_completion_token
                + _requests(scale, self.supports_n, self.max_n) * self.prompt_tokens
                * self.usd_per_prompt_token)


def _arm_plan(source: ArmSource, backend, queries: np.ndarray) -> ArmPlan:
    """LiteLLM counts the prompt tokens only when it is the arm's transport: its import
    takes seconds that a run on another transport (``transport: http``, the simulator)
    should not wait for, and for a server it does not know it would only estimate too (a
    pilot then scales the count to what the model bills)."""
    counts, tokenizer = [], SIM_PROVIDER
    litellm = isinstance(source.client.transport, LiteLLMTransport)
    for x in queries:
        count, tokenizer = count_tokens(source.model, backend.messages(source.prompt, int(x)),
                                        litellm)
        counts.append(count)
    prices, price_from = _prices(source)
    settings = source.client.settings
    max_tokens = _max_tokens(source.decoding)
    return ArmPlan(
        source.arm_id, source.model, source.prompt_id, float(np.mean(counts)),
        int(max(counts)), tokenizer, max_tokens, None if max_tokens is None else
        float(max_tokens), None if max_tokens is None else "max_tokens",
        bool(source.client.supports_n()), int(settings.max_n), int(settings.concurrency),
        None if prices is None else float(prices[0]),
        None if prices is None else float(prices[1]), price_from)


# -- the pilot --------------------------------------------------------------------------

def pilot_queries(resolved: ResolvedRun, count: int, arm: int, n_arms: int
                  ) -> list[tuple[int, int]]:
    """(query, slot) of the ``count`` pilot completions of arm ``arm`` of ``n_arms``: slot
    0 of queries in the order the run draws them (its trainer draws ``permutation(train)``
    from ``default_rng(seed)`` first and samples slots 0.. of each query it draws), the
    arms interleaved (arm a takes the a-th, (a + n_arms)-th, ... query), so that the pilot
    sees ``count * n_arms`` distinct queries (query difficulty drives completion length)
    and a run with the same seed finds its first pulls' slots in the cache; past the
    training queries, slot 1, ..."""
    order = np.random.default_rng(resolved.seed).permutation(resolved.problem.train)
    picks = [arm + n_arms * i for i in range(count)]
    return [(int(order[j % len(order)]), j // len(order)) for j in picks]


def _pilot_requests(backend, source: ArmSource, slots: list[tuple[int, int]]
                    ) -> list[ChatRequest]:
    return [backend.request(source.prompt, x, range(slot, slot + 1)) for x, slot in slots]


def run_pilot(resolved: ResolvedRun, arms: list[tuple[ArmSource, ArmPlan]], count: int,
              send: bool = True) -> dict | None:
    """``count`` completions per arm (``pilot_queries``) through the arm's client and
    cache; their mean completion tokens and latency replace the arm's estimates (and its
    prompt tokens stay counted). ``send=False`` sends nothing and uses only the pilot
    completions already in the cache (how ``optimize`` reuses an earlier ``plan``).
    Returns the answer health of a pilot that was sent (``PilotHealth.as_dict``), None
    otherwise."""
    backend = resolved.problem.backend
    health = PilotHealth(backend)
    for source, plan in arms:
        slots = pilot_queries(resolved, count, source.arm, len(arms))
        requests = _pilot_requests(backend, source, slots)
        if send:
            before = _usage_copy(source.client)
            completions = [row[0] for row in source.client.complete(requests)]
            after = source.client.usage.get("completion")
            plan.pilot = _pilot_usage(before, after, len(completions))
            for (query, _), completion in zip(slots, completions, strict=True):
                health.add(source, int(query), completion)
        else:
            completions = []
            for request in requests:
                record = source.client.cache.get(
                    slot_key(source.client.fingerprint(request), request.slots[0]))
                if record is not None:
                    completions.append(record)
            completions = [Completion.from_record(r, cached=True) for r in completions]
            if not completions:
                continue
            plan.pilot = {"completions": len(completions), "from_cache": len(completions)}
        plan.completion_tokens = float(np.mean([c.completion_tokens for c in completions]))
        plan.completion_from = "pilot" if send else "cache"
        if send:  # one completion per pilot request: its prompt tokens as the model bills
            # them, which a local tokenizer only approximates (cached records of a run's
            # n-requests hold a share of them, so only a pilot's own count is taken). The
            # train queries' tokenizer mean is scaled by billed / counted on the pilot's
            # queries: a run spreads over many more queries than a pilot sees
            billed = float(np.mean([c.prompt_tokens for c in completions]))
            litellm = "per token" not in plan.tokenizer
            counted = float(np.mean([count_tokens(
                source.model, backend.messages(source.prompt, int(q)), litellm)[0]
                for q, _ in slots]))
            plan.prompt_tokens = plan.prompt_tokens * billed / counted if counted > 0 \
                else billed
            plan.prompt_from = "pilot"
        plan.latency = float(np.mean([c.latency for c in completions]))
    return health.as_dict() if send else None


class PilotHealth:
    """What became of a pilot's completions, per model: counts per outcome (``OUTCOMES``)
    and one example (the first, or the first without an answer when some have none) with
    its extracted answer, the gold and the verdict."""

    def __init__(self, backend):
        self.backend = backend
        self.models: dict[str, dict] = {}

    def add(self, source: ArmSource, query: int, completion: Completion) -> None:
        backend = self.backend
        extracts = backend.extractor is not None
        answer = backend.extractor.extract(completion.text) if extracts else None
        outcome = OUTCOMES[outcome_of(completion.text, completion.finish_reason, answer,
                                      extracts)]
        entry = self.models.setdefault(source.model, {
            "completions": 0, **dict.fromkeys(OUTCOMES, 0), "example": None})
        entry["completions"] += 1
        entry[outcome] += 1
        if entry["example"] is None or (outcome != OUTCOMES[0]
                                        and entry["example"]["outcome"] == OUTCOMES[0]):
            gold = backend.gold(query) if extracts else backend.target(query)
            verdict = ("scored" if not extracts else "no answer" if answer is None else
                       "correct" if answer == gold else "wrong")
            entry["example"] = {"arm": source.arm_id, "query": str(backend.dataset.ids[query]),
                                "text": completion.text, "answer": answer, "gold": gold,
                                "verdict": verdict, "outcome": outcome}

    def as_dict(self) -> dict:
        return {"extractor": extractor_label(self.backend), "models": self.models}


def _usage_copy(client: LLMClient) -> dict:
    usage = client.usage.get("completion")
    return {} if usage is None else dict(vars(usage))


def _pilot_usage(before: dict, after, completions: int) -> dict:
    """What the pilot of one arm asked for and paid (its client's counters, differenced)."""
    now = dict(vars(after))
    diff = {k: (None if now[k] is None or before.get(k, 0) is None
                else now[k] - before.get(k, 0))
            for k in ("cached", "fresh", "requests", "prompt_tokens", "completion_tokens",
                      "cost")}
    return {"completions": completions, "from_cache": diff["cached"], "fresh": diff["fresh"],
            "requests": diff["requests"], "prompt_tokens": diff["prompt_tokens"],
            "completion_tokens": diff["completion_tokens"], "usd": diff["cost"]}


# -- the whole run ----------------------------------------------------------------------

@dataclass
class Plan:
    """The run's plan. Totals are None when unknown (no pilot and no max_tokens; no price;
    no latency); ``warnings`` say why. docs/reference/files.md describes the JSON."""

    config: str
    backend: str
    algorithm: str
    budget: dict
    seed: int
    completions: int
    completions_exact: bool
    schedule: RoundPlan | None
    arms: list[ArmPlan]
    tokens: dict
    usd: dict
    requests: float | None
    wall_seconds: float | None
    pilot: dict | None
    warnings: list[str]
    health: dict | None = None  # a pilot's answer health (``PilotHealth``); None: no pilot

    def as_dict(self) -> dict:
        out = asdict(self)
        schedule = self.schedule
        names = [arm.arm for arm in self.arms] or list(range(len(
            schedule.round1_scale if schedule is not None else ())))
        out["schedule"] = None if schedule is None else {
            "screened": schedule.screened,
            "screening": {"n": schedule.screen_scale,
                          "queries_per_prompt": schedule.screen_queries}
            if schedule.screened else None,
            "estimator": "pooled" if schedule.pooled else "unbiased",
            "rounds": schedule.rounds, "total_rounds": schedule.total_rounds,
            "round1": [{"arm": name, "n": int(n), "queries": int(q)}
                       for name, n, q in zip(names, schedule.round1_scale,
                                             schedule.round1_queries, strict=True)],
            "exact": schedule.exact}
        return out


def build_plan(resolved: ResolvedRun, pilot: int = 0) -> Plan:
    """The plan of ``resolved``'s run (see ``Plan``); ``pilot`` completions per arm
    (``run_pilot``). Without a pilot nothing is sent, and the completions an earlier pilot
    (or run) left in the cache at the pilot's slots (up to ``PILOT_FROM_CACHE`` per arm)
    stand in for one (``completion_from`` "cache")."""
    problem, config = resolved.problem, resolved.config
    unit, amount = resolved.budget_unit, resolved.budget
    metered = unit != "completions"
    schedule = None if metered else schedule_for(resolved)  # metered: needs the prices
    completions = resolved.budget
    warnings: list[str] = []
    live = config.backend.kind == "live"
    scales = problem.scales
    n_arms = problem.n_prompts
    if not isinstance(resolved.algorithm, PSST):
        warnings.append(f"{config.algorithm.name} has no schedule here: it spends at most "
                        f"the budget (nearly all of it), rounds are not planned")
    if not metered and completions < n_arms * int(scales[-1]):
        warnings.append(f"the budget ({completions} completions) cannot sample every arm "
                        f"once at N={scales[-1]} ({n_arms} prompts need "
                        f"{n_arms * int(scales[-1])})")
    if schedule is not None and schedule.spread is not None:
        rounds, per = schedule.spread
        warnings.append(f"after screening each context keeps {schedule.round1_prompts} "
                        f"prompts; the plan assumes they keep the same ones (if not: "
                        f"{rounds} trimming rounds, {per} queries per prompt in round 1)")
    arms: list[ArmPlan] = []
    health = None
    if live:
        queries = _token_sample(problem.train)
        sources = list(_arms(resolved.env))
        arms = [_arm_plan(s, problem.backend, queries) for s in sources]
        if pilot:
            health = run_pilot(resolved, list(zip(sources, arms, strict=True)), pilot)
        else:  # free: what an earlier pilot (or run) left at the pilot's slots
            run_pilot(resolved, list(zip(sources, arms, strict=True)), PILOT_FROM_CACHE,
                      send=False)
        if len(queries) < len(problem.train):
            warnings.append(f"prompt tokens counted on {len(queries)} of "
                            f"{len(problem.train)} training queries")
        _arm_warnings(arms, warnings)
        backend = problem.backend
        if len(backend.clients) > len(set(backend.arm_clients)):  # judges beyond the models
            warnings.append("the judge's requests (llm_judge objectives) are not included")
        for arm in arms:
            arm.per_n = [{"n": int(n),
                          "requests": _requests(int(n), arm.supports_n, arm.max_n),
                          "tokens_per_query": arm.tokens_per_query(int(n)),
                          "usd_per_query": arm.usd_per_query(int(n)),
                          "usd_per_completion": None if arm.usd_per_query(int(n)) is None
                          else arm.usd_per_query(int(n)) / int(n)} for n in scales]
    else:
        warnings.append(f"the {config.backend.kind} backend is offline: no tokens or money "
                        f"are spent")
    if metered:
        price = _unit_prices(resolved, arms, unit)
        if price is None:  # no completion length or no price: what the budget buys is open
            warnings.append(f"what a budget in {unit} buys is unknown without completion "
                            f"tokens and prices: completions not planned")
            alloc, completions = [], 0
        else:
            if isinstance(resolved.algorithm, PSST):
                schedule = psst_schedule(problem, float(amount), price, resolved.algorithm)
            alloc = _allocation(schedule, float(amount), price, scales, probe=True)
            completions = int(round(sum(q * n for _, n, q in alloc)))
            worst_sweep = float(price[:, int(scales[-1]) - 1].sum())
            if amount < worst_sweep:
                warnings.append(f"the budget ({amount:g} {unit}) cannot sample every arm "
                                f"once at N={scales[-1]} (about {worst_sweep:.4g} {unit})")
    else:
        n_max = int(problem.backend.n_max)
        alloc = _allocation(schedule, completions, np.broadcast_to(
            np.arange(1, n_max + 1), (n_arms, n_max)), scales)
    tokens, usd, requests, wall = _totals(arms, schedule, completions, alloc)
    if metered:  # the budget is the ceiling on its own unit; the other is an estimate
        (usd if unit == "usd" else tokens)["worst"] = float(amount)
    pilot_total = _pilot_total(arms) if live and pilot else None
    return Plan(resolved.source, config.backend.kind, config.algorithm.name,
                {"unit": unit, "amount": amount}, resolved.seed, completions,
                schedule is not None and not metered, schedule, arms, tokens, usd,
                requests, wall, pilot_total, warnings, health)


def _unit_prices(resolved: ResolvedRun, arms: list[ArmPlan], unit: str
                 ) -> np.ndarray | None:
    """(P, n_max) expected charge of one query of each arm at each N in the budget's unit
    (USD or tokens: prompt tokens once per request, completion tokens from the pilot or
    max_tokens); None when some arm's is unknown."""
    n_max = int(resolved.problem.backend.n_max)
    rows = []
    for arm in arms:
        row = [arm.usd_per_query(k) if unit == "usd" else arm.tokens_per_query(k)
               for k in range(1, n_max + 1)]
        if any(v is None for v in row):
            return None
        rows.append(row)
    return np.asarray(rows, dtype=float) if rows else None


def _arm_warnings(arms: list[ArmPlan], warnings: list[str]) -> None:
    models = {}
    for arm in arms:
        models.setdefault(arm.model, arm)
    for model, arm in models.items():
        if arm.price_from is None:
            warnings.append(f"{model} has no price: money is not estimated")
        if not arm.supports_n:
            warnings.append(f"{model} does not support n: a pull at N sends N requests")
        if arm.completion_from == "max_tokens":
            warnings.append(f"{model}: completion tokens taken at max_tokens (an upper "
                            f"bound); --pilot K measures them")
        if arm.max_tokens is None:
            warnings.append(f"{model}: no max_tokens, so the worst case is unbounded"
                            + ("" if arm.completion_from is not None else
                               " and completion tokens are unknown (run a --pilot)"))


def _totals(arms: list[ArmPlan], schedule: RoundPlan | None, completions: int,
            alloc: list[tuple[int, int, float]]
            ) -> tuple[dict, dict, float | None, float | None]:
    """Expected and worst-case tokens and USD of the ``alloc``ated pulls (arm, scale,
    queries), expected requests and wall seconds."""
    empty = {"expected": None, "worst": None, "prompt_expected": None,
             "completion_expected": None}
    if not arms or not alloc:
        return empty, {"expected": None, "worst": None}, None, None
    prompt = sum(q * _requests(n, arms[a].supports_n, arms[a].max_n) * arms[a].prompt_tokens
                 for a, n, q in alloc)
    requests = sum(q * _requests(n, arms[a].supports_n, arms[a].max_n) for a, n, q in alloc)
    known = all(arm.completion_tokens is not None for arm in arms)
    completion = sum(q * n * arms[a].completion_tokens for a, n, q in alloc) if known else None
    # worst: every completion at max_tokens, each its own request (a last pull may be at
    # N=1) carrying the longest prompt
    bounded = all(arm.max_tokens is not None for arm in arms)
    worst = completions * max(arm.max_tokens + arm.prompt_tokens_max for arm in arms) \
        if bounded else None
    tokens = {"expected": None if completion is None else prompt + completion,
              "worst": worst, "prompt_expected": prompt, "completion_expected": completion}
    priced = all(arm.usd_per_prompt_token is not None for arm in arms)
    usd = {"expected": None, "worst": None}
    if priced and known:
        usd["expected"] = sum(
            q * (n * arms[a].completion_tokens * arms[a].usd_per_completion_token
                 + _requests(n, arms[a].supports_n, arms[a].max_n) * arms[a].prompt_tokens
                 * arms[a].usd_per_prompt_token) for a, n, q in alloc)
    if priced and bounded:
        usd["worst"] = completions * max(
            arm.max_tokens * arm.usd_per_completion_token
            + arm.prompt_tokens_max * arm.usd_per_prompt_token for arm in arms)
    wall = None
    if all(arm.latency is not None for arm in arms):
        # requests go out concurrently within a round; rounds follow one another
        latency = float(np.mean([arm.latency for arm in arms]))
        rounds = schedule.total_rounds if schedule is not None else 1
        wall = latency * (requests / max(arms[0].concurrency, 1) + rounds)
    return tokens, usd, requests, wall


def _pilot_total(arms: list[ArmPlan]) -> dict:
    keys = ("completions", "from_cache", "fresh", "requests", "prompt_tokens",
            "completion_tokens")
    total = {k: sum(int((a.pilot or {}).get(k) or 0) for a in arms) for k in keys}
    costs = [(a.pilot or {}).get("usd") for a in arms]
    total["usd"] = None if any(c is None for c in costs) else float(sum(costs))
    total["per_arm"] = arms[0].pilot["completions"] if arms and arms[0].pilot else 0
    return total


def plan(config_path, budget: float | None = None, seed: int | None = None,
         pilot: int = 0) -> Plan:
    """``iapo plan``: the cost of the configured run before its first call. Every check
    ``optimize`` makes comes first (bad input raises ``ConfigError`` before anything is
    paid); without ``pilot`` nothing is sent and a missing API key is only a warning."""
    if pilot < 0:
        from ..errors import ConfigError

        raise ConfigError(f"must be >= 0, got {pilot}", field="--pilot")
    config = load_config(config_path)
    resolved = resolve(config, str(config_path), budget, seed, require_keys=pilot > 0)
    out = build_plan(resolved, pilot)
    for field_, problem in resolved.env.info.get("missing_environment", ()):
        out.warnings.append(f"{field_}: {problem}")
    return out


def plan_estimate(resolved: ResolvedRun) -> Plan:
    """The plan ``optimize`` announces (as ``plan`` without a pilot): no request."""
    return build_plan(resolved)
