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
from dataclasses import dataclass, field
from pathlib import Path

from ..artifacts import RunDir
from ..errors import ConfigError
from ..llm import ChatRequest
from ._evaluate import ArmMap, reopen_run

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
    (None: unpriced); ``samples``: the training pulls behind the estimate."""

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
    """A trained run's policy (``Policy.load(run_dir)``): ``contexts``, ``arm(context)``."""

    def __init__(self, run_dir: Path, arms: dict[str, DeployedArm], status: str):
        self.run_dir, self._arms, self.status = run_dir, arms, status

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
        clients = getattr(backend, "arm_clients", None)
        arms: dict[str, DeployedArm] = {}
        for row in rows:
            name = str(row.get("context"))
            index = int(arm_map.index([row.get("prompt")], [row.get("model")])[0])
            if index < 0:
                raise ConfigError(f"context '{name}' deploys an arm the run's config does "
                                  f"not have ({row.get('prompt')!r}"
                                  + (f" on {row.get('model')!r})" if row.get("model") else ")"),
                                  source=str(files.file(RunDir.POLICY)))
            decoding = {}
            model = None
            if clients is not None:
                client = clients[index]
                decoding = {**client.settings.params,
                            **(backend.prompts[index].decoding or {})}
                model = client.settings.model
            if arm_map.models is not None:
                model = arm_map.models[index]
            usd = row.get("usd_per_query")
            arms[name] = DeployedArm(
                context=name, arm=arm_map.ids[index], prompt=arm_map.prompts[index],
                model=model, n=int(row["n"]), strategy=strategy, decoding=decoding,
                expected_utility=float(row.get("estimated_utility", math.nan)),
                usd_per_query=None if usd is None or (isinstance(usd, float)
                                                      and math.isnan(usd)) else float(usd),
                samples=int(row.get("samples", 0)), weights=dict(row.get("weights") or {}),
                _backend=backend, _index=index)
        return cls(Path(run_dir), arms, str(policy.get("status", "unknown")))

    @property
    def contexts(self) -> tuple[str, ...]:
        """The trained contexts, in the config's order."""
        return tuple(self._arms)

    def arm(self, context: str) -> DeployedArm:
        """What ``context`` deploys; an unknown context is a ConfigError naming the known
        ones."""
        try:
            return self._arms[context]
        except KeyError:
            raise ConfigError(f"unknown context '{context}' (the run has: "
                              f"{', '.join(self._arms)})", field="context") from None
