"""``usage.jsonl``: one line per paid provider response, appended and flushed as it
arrives, so accounting survives a killed process and spans resumed attempts; and one line
per request before it is sent (``event: sent``) and when it fails (``event: failed``), so a
request that was sent and never answered stays on record as possibly billed."""

from __future__ import annotations

import json
from pathlib import Path

LEDGER = "usage.jsonl"
_SUMMED = ("completions", "prompt_tokens", "completion_tokens")


class UsageLedger:
    """Appends to a run's usage.jsonl: each line written and flushed before the call
    returns (a killed process loses nothing written), through one handle kept open until
    ``close`` (opening the file per line cost a tenth of a millisecond a request)."""

    def __init__(self, run_dir: Path, attempt: int):
        self.path = Path(run_dir) / LEDGER
        self.attempt = attempt
        self._handle = None

    def __call__(self, kind: str, usage: dict) -> None:
        """Record one paid response (its ``usage``: completions, tokens, cost, request)."""
        self._append({"attempt": self.attempt, "kind": kind, **usage})

    def request(self, kind: str, event: dict) -> None:
        """Record a request's ``event`` (``sent`` before it goes out, ``failed``)."""
        self._append({"attempt": self.attempt, "kind": kind, **event})

    def _append(self, entry: dict) -> None:
        line = json.dumps(entry, sort_keys=True)
        if self._handle is None or self._handle.closed:
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(line + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def read_ledger(run_dir: Path) -> list[dict]:
    """Every complete line (a process killed mid-write leaves at most one broken line)."""
    path = Path(run_dir) / LEDGER
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def ledger_totals(entries: list[dict]) -> dict:
    """Totals per kind over every attempt: each paid completion counted once (request
    events are left out; see ``unreceived_totals``)."""
    totals: dict[str, dict] = {}
    for entry in entries:
        if "event" in entry:
            continue
        kind = totals.setdefault(entry["kind"], {"requests": 0, **dict.fromkeys(_SUMMED, 0),
                                                  "cost": 0.0})
        kind["requests"] += 1
        for key in _SUMMED:
            kind[key] += int(entry.get(key) or 0)
        cost = entry.get("cost")
        kind["cost"] = None if cost is None or kind["cost"] is None else kind["cost"] + cost
    for kind in totals.values():
        if kind["cost"] is not None:
            kind["cost"] = round(kind["cost"], 8)
    return totals


def unreceived_totals(entries: list[dict]) -> dict:
    """Per kind, the requests sent and never answered that the provider may have served and
    billed: no response recorded for them and no failure the provider answered with (the
    process was killed while they were in flight, or they timed out). ``completions`` counts
    what they asked for."""
    settled = {e.get("request") for e in entries
               if "event" not in e or e["event"] == "failed" and not e.get("maybe_billed")}
    totals: dict[str, dict] = {}
    for entry in entries:
        if entry.get("event") == "sent" and entry.get("request") not in settled:
            kind = totals.setdefault(entry["kind"], {"requests": 0, "completions": 0})
            kind["requests"] += 1
            kind["completions"] += int(entry.get("asked") or 0)
    return totals
