"""The simulated model: bundled data, determinism per slot, prompt-dependent behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from iapo_cli.sim import SimulatedModel, generate_problems
from iapo_cli.tasks import AnswerExtractor

ROOT = Path(__file__).resolve().parents[2]


def test_bundled_dataset_is_the_generators_output():
    lines = (ROOT / "configs" / "data" / "arithmetic.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [p.row() for p in generate_problems()]
    problems = generate_problems()
    assert len(problems) == 300 and all(p.answer >= 0 and p.trap != p.answer for p in problems)


def _accuracy(model, template, n_problems=60, samples=8, **kwargs):
    extract = AnswerExtractor().extract
    hits = []
    for problem in model.problems[:n_problems]:
        messages = [{"role": "user", "content": template.format(q=problem.question)}]
        texts = model.respond(messages, slot=0, n=samples, **kwargs)
        hits.append([extract(t) == str(problem.answer) for t in texts])
    return np.mean(hits)


def test_same_slot_same_text_distinct_slots_vary():
    model = SimulatedModel()
    messages = [{"role": "user", "content": model.problems[5].question + " Answer:"}]
    first = model.respond(messages, slot=3, n=4)
    assert model.respond(messages, slot=3, n=4) == first
    assert model.respond(messages, slot=5, n=2) == first[2:]
    assert len(set(model.respond(messages, slot=0, n=16))) > 1
    assert len(set(model.respond(messages, temperature=0, slot=0, n=8))) == 1


def test_prompt_cues_change_accuracy_and_length():
    model = SimulatedModel()
    reason = "{q}\nThink step by step, then finish with 'Answer: <number>'."
    brief = "{q}\nReply with only the final answer, as 'Answer: <number>'."
    no_format = "{q}\nWhat is the result?"
    assert _accuracy(model, reason) > _accuracy(model, brief) > _accuracy(model, no_format)
    problem = model.problems[0].question
    long = model.respond([{"role": "user", "content": reason.format(q=problem)}], n=4)
    short = model.respond([{"role": "user", "content": brief.format(q=problem)}], n=4)
    assert min(map(len, long)) > 2 * max(map(len, short))
