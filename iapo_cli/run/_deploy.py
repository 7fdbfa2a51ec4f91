"""``Policy.load(run_dir)``: a trained run's choice per context, ready to deploy.

The first piece of putting a policy to work (issue 12): what each context deploys — the
arm (prompt, model), its decoding, N, the strategy that turns N completions into one
answer, and what training expects of it (utility, USD per query, the pulls behind it) —
and the messages its template renders for a new row. Loading reads the run directory and
rebuilds its backend offline: it sends nothing and needs no API key.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..artifacts import RunDir
from ..errors import ConfigError
from ..llm import ChatRequest
from ._evaluate import ArmMap, _train_estimates, reopen_run
from ._resolve import context_weights
from ._reweigh import PullHistory

INFERENCE_GROUP = 1 << 40
"""The sample group of deployment requests: their cache keys differ from every training
and test request's (whose groups count repeated dataset rows, far below this), so an
answer never reuses a training or test sample, even for a row of the dataset; asking
again for the same row is served from the cache."""


@dataclass(frozen=True)
class Answer:
    """What ``DeployedArm.answer`` returns: the majority ``answer`` (None when no
    completion had one) with its ``vote_share`` of the N completions and whether it
    ``tied`` with another answer (then the one seen first is taken); the N completion
    texts; how many came from the cache; the tokens billed and USD (None: unpriced)."""

    answer: str | None
    vote_share: float
    tied: bool
    completions: tuple[str, ...]
    cached: int
    prompt_tokens: float
    completion_tokens: float
    usd: float | None


@dataclass(frozen=True)
class DeployedArm:
    """What one context deploys.

    ``arm``: the backend's arm id (``prompt`` or ``prompt@model``); ``model``: the model
    id of a multi-model run, else the backend's model string (None offline); ``decoding``:
    the request parameters the arm's completions were drawn with (its model's ``params``
    under the prompt's ``decoding``); ``expected_utility``: training's estimate at ``n``
    in the context's units; ``usd_per_query``: the expected USD of one query at ``n``
    (None: unpriced); ``samples``: the training pulls behind the estimate; ``weights``,
    ``max_usd`` and ``max_n``: the context's weights and caps (None: no cap)."""

    context: str
    arm: str
    prompt: str
    model: str | None
    n: int
    strategy: str
    decoding: dict
    expected_utility: float
    usd_per_query: float | None
    samples: int
    weights: dict = field(default_factory=dict)
    max_usd: float | None = None
    max_n: int | None = None
    _backend: object = field(default=None, repr=False, compare=False)
    _index: int = field(default=-1, repr=False, compare=False)

    def messages(self, row: dict) -> list[dict]:
        """The chat messages the arm sends for ``row`` (the dataset's fields by name), as
        training rendered them. A missing field is a ConfigError; an offline run has no
        templates (ConfigError)."""
        prompts = getattr(self._backend, "prompts", None)
        if prompts is None:
            raise ConfigError(f"the run's backend is offline: arm '{self.arm}' has no "
                              f"template to render")
        arm = prompts[self._index]
        try:
            user = arm.template.render(row)
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"cannot render the template of '{self.arm}' for this row: "
                              f"{exc}") from None
        system = [{"role": "system", "content": arm.system}] if arm.system else []
        return [*system, {"role": "user", "content": user}]


    def answer(self, row: dict) -> Answer:
        """Sample the arm's N completions for ``row`` through the run's cached client (the
        run's cache; a deployment sample group, ``INFERENCE_GROUP``) and take the majority
        vote of their extracted answers. Majority voting only for now; an offline run or
        another strategy is a ConfigError, a provider failure an ``LLMError``."""
        if self.strategy != "majority_vote":
            raise ConfigError(f"answer() supports majority_vote runs for now, not "
                              f"{self.strategy}")
        messages = self.messages(row)  # an offline run fails here
        backend = self._backend
        client = backend.arm_clients[self._index]
        request = ChatRequest(messages, dict(backend.prompts[self._index].decoding or {}),
                              range(self.n), INFERENCE_GROUP)
        completions = client.complete([request])[0]
        answers = backend.answers(completions)
        counts = Counter(a for a in answers if a is not None)
        top = max(counts.values(), default=0)
        leaders = [a for a in dict.fromkeys(answers) if a is not None and counts[a] == top]
        costs = [c.cost for c in completions]
        return Answer(
            answer=leaders[0] if leaders else None, vote_share=top / self.n,
            tied=len(leaders) > 1, completions=tuple(c.text for c in completions),
            cached=sum(bool(c.cached) for c in completions),
            prompt_tokens=float(sum(c.prompt_tokens for c in completions)),
            completion_tokens=float(sum(c.completion_tokens for c in completions)),
            usd=None if any(c is None for c in costs) else float(sum(costs)))


class Policy:
    """A trained run's policy (``Policy.load(run_dir)``): ``contexts``, ``arm(context)``,
    and ``arm(weights=...)`` for contexts training did not have."""

    def __init__(self, run_dir: Path, arms: dict[str, DeployedArm], status: str,
                 history: Callable[[], PullHistory] | None = None):
        self.run_dir, self._arms, self.status = run_dir, arms, status
        self._make_history = history
        self._history: PullHistory | None = None

    @classmethod
    def load(cls, run_dir: str | Path) -> Policy:
        """Read ``run_dir`` (written by ``optimize``): its config, split and policy.json.
        A missing or unreadable file, or a policy row naming an arm the config does not
        have, is a ConfigError; nothing is sent and no key is needed."""
        files = RunDir(run_dir, flag="RUN_DIR")
        resolved, _, policy = reopen_run(files, require_keys=False)
        backend = resolved.problem.backend
        rows = policy.get("contexts", [])
        arm_map = ArmMap.of(backend, any("model" in row for row in rows))
        strategy = str(policy.get("strategy") or backend.strategy.name)
        contexts = resolved.problem.contexts
        caps = {name: (None if contexts.max_usd is None or np.isnan(contexts.max_usd[c])
                       else float(contexts.max_usd[c]),
                       None if contexts.max_n is None or not contexts.max_n[c]
                       else int(contexts.max_n[c]))
                for c, name in enumerate(contexts.names)}
        arms: dict[str, DeployedArm] = {}
        for row in rows:
            name = str(row.get("context"))
            index = int(arm_map.index([row.get("prompt")], [row.get("model")])[0])
            if index < 0:
                raise ConfigError(f"context '{name}' deploys an arm the run's config does "
                                  f"not have ({row.get('prompt')!r}"
                                  + (f" on {row.get('model')!r})" if row.get("model") else ")"),
                                  source=str(files.file(RunDir.POLICY)))
            usd = row.get("usd_per_query")
            arms[name] = _deployed(
                backend, arm_map, index, int(row["n"]), strategy, context=name,
                expected_utility=float(row.get("estimated_utility", math.nan)),
                usd_per_query=None if usd is None or (isinstance(usd, float)
                                                      and math.isnan(usd)) else float(usd),
                samples=int(row.get("samples", 0)), weights=dict(row.get("weights") or {}),
                caps=caps.get(name, (None, None)))

        def history() -> PullHistory:
            usd = _train_estimates(resolved, arm_map, files).usd
            samples = np.array([arm.samples for arm in arms.values()])
            return PullHistory(resolved, files, arm_map.index,
                               None if usd is None else usd[0], samples)

        self = cls(Path(run_dir), arms, str(policy.get("status", "unknown")), history)
        self._resolved, self._arm_map, self._strategy = resolved, arm_map, strategy
        return self

    @property
    def contexts(self) -> tuple[str, ...]:
        """The trained contexts, in the config's order."""
        return tuple(self._arms)

    def arm(self, context: str | None = None, *, weights: dict[str, float] | None = None,
            max_usd: float | None = None, max_n: int | None = None) -> DeployedArm:
        """What ``context`` (a trained context's name) deploys; or, with ``weights``
        (objective name or 'cost' -> weight, as in a config's contexts) and optional caps
        (``max_usd`` per query, ``max_n``), what a context training did not have deploys,
        chosen from the pulls training observed (see ``run/_reweigh.py``; ``samples``
        says how many stand behind it). An unknown context, bad weights or caps are a
        ConfigError; a choice the data cannot support is ``UnsupportedWeights``; a run
        written before pulls were recorded is a ConfigError saying to rerun optimize."""
        if (context is None) == (weights is None):
            raise ConfigError("give a context name or weights, not both or neither",
                              field="context")
        if context is not None:
            try:
                return self._arms[context]
            except KeyError:
                raise ConfigError(f"unknown context '{context}' (the run has: "
                                  f"{', '.join(self._arms)})", field="context") from None
        return self._for_weights(weights, max_usd, max_n)

    def _for_weights(self, weights: dict[str, float], max_usd: float | None,
                     max_n: int | None) -> DeployedArm:
        if not isinstance(weights, dict) or not weights or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in weights.values()):
            raise ConfigError("weights must map objective names (or 'cost') to finite "
                              "numbers", field="weights")
        if max_usd is not None and not (isinstance(max_usd, int | float) and max_usd > 0):
            raise ConfigError(f"must be a positive number of USD, got {max_usd!r}",
                              field="max_usd")
        if max_n is not None and not (isinstance(max_n, int) and max_n >= 1):
            raise ConfigError(f"must be an integer >= 1, got {max_n!r}", field="max_n")
        backend = self._resolved.problem.backend
        task, cost = context_weights(weights, tuple(backend.strategy.objectives), "weights")
        if max_usd is not None and not getattr(backend, "usd_known", False):
            raise ConfigError("a cap in USD needs a run whose models all have prices",
                              field="max_usd")
        if self._history is None:
            self._history = self._make_history()
        choice = self._history.choose(np.array(task), cost, max_usd, max_n)
        label = ",".join(f"{k}={v:g}" for k, v in weights.items())
        usd = self._history.usd
        at = int(np.searchsorted(self._resolved.problem.scales, choice.n))
        usd_value = None if usd is None or np.isnan(usd[choice.prompt, at]) else \
            float(usd[choice.prompt, at])
        return _deployed(backend, self._arm_map, choice.prompt, choice.n, self._strategy,
                         context=label, expected_utility=choice.expected_utility,
                         usd_per_query=usd_value, samples=choice.samples,
                         weights={**weights}, caps=(max_usd, max_n))


def _deployed(backend, arm_map: ArmMap, index: int, n: int, strategy: str, *, context: str,
              expected_utility: float, usd_per_query: float | None, samples: int,
              weights: dict, caps: tuple[float | None, int | None]) -> DeployedArm:
    """The ``DeployedArm`` of arm ``index`` at ``n`` (decoding and model from the run's
    clients when it is live)."""
    decoding, model = {}, None
    clients = getattr(backend, "arm_clients", None)
    if clients is not None:
        client = clients[index]
        decoding = {**client.settings.params, **(backend.prompts[index].decoding or {})}
        model = client.settings.model
    if arm_map.models is not None:
        model = arm_map.models[index]
    return DeployedArm(context=context, arm=arm_map.ids[index], prompt=arm_map.prompts[index],
                       model=model, n=n, strategy=strategy, decoding=decoding,
                       expected_utility=expected_utility, usd_per_query=usd_per_query,
                       samples=samples, weights=weights, max_usd=caps[0], max_n=caps[1],
                       _backend=backend, _index=index)
