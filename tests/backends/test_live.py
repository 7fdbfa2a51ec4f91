"""The live backend's requests: sample groups keep repeated questions apart (issue 10,
item 5) while every cache key of a row with a unique text stays what it was."""

from __future__ import annotations

import numpy as np

from iapo_cli.backends import LiveBackend, PromptArm
from iapo_cli.llm import request_fingerprint
from iapo_cli.strategies import STRATEGIES
from iapo_cli.tasks import Dataset, Template

MESSAGES = [{"role": "user", "content": "What is 2 + 3?"}]


def _backend(questions: list[str]) -> LiveBackend:
    rows = tuple({"question": q, "answer": "0"} for q in questions)
    dataset = Dataset(rows, tuple(f"r{i}" for i in range(len(rows))),
                      frozenset({"question", "answer"}))
    arms = [PromptArm("plain", Template("{question}")),
            PromptArm("cot", Template("{question} Think."), "You are careful.",
                      {"temperature": 0.5})]
    return LiveBackend(None, dataset, arms, 8, "answer", "completion_tokens", 1.0,
                       STRATEGIES["majority_vote"]())


def _keys(request) -> set[str]:
    fingerprint = request_fingerprint("m", request.messages, request.decoding,
                                      group=request.group)
    return {f"{fingerprint}:{slot}" for slot in request.slots}


def test_group_zero_keeps_the_keys_of_existing_caches():
    # the key computed before sample groups existed, for this very request
    old = "3ee9eaf62dea797705a6eaf55eda915c897e1fa353273333c28e512dbfde61c0"
    assert request_fingerprint("iapo-sim/arith", MESSAGES, {"temperature": 0.8}) == old
    assert request_fingerprint("iapo-sim/arith", MESSAGES, {"temperature": 0.8},
                               group=0) == old
    assert request_fingerprint("iapo-sim/arith", MESSAGES, {"temperature": 0.8},
                               group=1) != old


def test_repeated_questions_get_groups_in_dataset_order():
    backend = _backend(["a?", "b?", "a?", "c?", "a?", "b?"])
    for prompt in (0, 1):
        assert [backend.group(prompt, x) for x in range(6)] == [0, 0, 1, 0, 2, 1]
    requests = backend.requests([(0, np.arange(6), 3)])
    assert [r.group for r in requests] == [0, 0, 1, 0, 2, 1]
    assert [list(r.slots) for r in requests] == [[0, 1, 2]] * 6
    keys = [_keys(r) for r in requests]
    for i in range(6):  # no two rows share a sample
        for j in range(i):
            assert not keys[i] & keys[j], (i, j)
    # the same row asks for the next slots, under the same group
    again = backend.requests([(0, np.array([2]), 2)])[0]
    assert list(again.slots) == [3, 4] and again.group == 1
    recorded = backend.request(1, 4, range(2))
    assert recorded.group == 2 and recorded.decoding == {"temperature": 0.5}
    assert recorded.messages[0] == {"role": "system", "content": "You are careful."}


def test_rows_with_unique_text_keep_group_zero():
    backend = _backend([f"q{i}?" for i in range(5)])
    assert [r.group for r in backend.requests([(1, np.arange(5), 1)])] == [0] * 5
