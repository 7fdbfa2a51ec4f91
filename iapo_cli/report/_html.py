"""report.html: one self-contained page per run or study, for a browser.

Contract of every page written here:

* nothing is loaded from anywhere: figures are inline ``data:`` PNGs, style and script are
  inline, and a Content-Security-Policy forbids any other source (only the page's own
  script, by its hash, may run; images only from ``data:``), so the page opens offline and
  a completion that holds markup can neither load nor run anything;
* every text that comes from a run (names, errors, completions) is HTML-escaped where it is
  written into the markup; completions travel as JSON in a ``<script
  type="application/json">`` block with ``<``, ``>`` and ``&`` written as JSON escapes (so
  no text can close the block) and are put on the page by the script through
  ``textContent`` (never parsed as markup);
* the page reads without its script (summary, tables, figures); only the sample browser
  needs it.

This module renders data it is given (frames, dicts, figure files); it reads no run file.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_FIELDS = ("arm", "query", "split", "slot", "text", "answer", "gold", "verdict",
                 "outcome", "finish_reason")
"""The keys of a completion in the sample browser (``SampleSet.records``)."""

OUTCOMES = ("answered", "no_answer", "truncated", "empty", "scorer_failed")
"""Answer-health outcomes, in the order summary.json lists them."""

WARN_UNANSWERED = 0.2
"""An arm whose share of completions without anything to score (every outcome but
``answered``) exceeds this is highlighted in the answer-health table ..."""

BAD_UNANSWERED = 0.5
"""... and marked as failing above this share (the early check's default stop)."""

SAMPLE_PAGE = 100
"""Sample cards the browser draws at a time (more on request): hundreds of long ``<pre>``
blocks at once make filtering sluggish."""


@dataclass(frozen=True)
class SampleSet:
    """Completions for a run page's sample browser: ``records`` (mappings with the keys of
    ``SAMPLE_FIELDS``; values are shown as given, escaped) and ``note``, one sentence on how
    they were chosen or why there are none (an offline run has none)."""

    records: Sequence[Mapping[str, Any]] = ()
    note: str = ""


@dataclass(frozen=True)
class PageFigure:
    """A figure of a page: its heading, a caption and the PNG file to inline."""

    title: str
    caption: str
    path: Path
    anchor: str = ""


@dataclass
class _Page:
    """Sections in order; the navigation lists those with a title."""

    title: str
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # anchor, title, body

    def add(self, anchor: str, title: str, body: str) -> None:
        self.sections.append((anchor, title, body))


def esc(value: Any) -> str:
    """``value`` as text safe anywhere in HTML (element content or a quoted attribute)."""
    return html.escape("" if value is None else str(value), quote=True)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _num(value: Any, digits: int = 4) -> str:
    """A number for a table: fixed ``digits`` decimals; '–' when missing, the escaped text
    when not a number."""
    if _missing(value):
        return "–"
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return esc(value)


def _int(value: Any) -> str:
    return "–" if _missing(value) else f"{int(float(value))}"


def _dollars(value: Any) -> str:
    return "n/a" if _missing(value) else f"${float(value):.4g}"


def _share(part: float, whole: float) -> str:
    return "–" if not whole else f"{part / whole:.0%}" if part in (0, whole) \
        else f"{part / whole:.1%}"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], table_id: str = "",
           row_classes: Sequence[str] | None = None, numeric: Iterable[int] = ()) -> str:
    """An HTML table; ``head`` is plain text (escaped here), every cell of ``rows`` is
    markup already escaped by the caller. ``numeric``: column indices set flush right."""
    right = set(numeric)
    ident = f' id="{esc(table_id)}"' if table_id else ""
    parts = [f"<table{ident}><thead><tr>"]
    parts += [f'<th{" class=num" if i in right else ""}>{esc(h)}</th>'
              for i, h in enumerate(head)]
    parts.append("</tr></thead><tbody>")
    for r, row in enumerate(rows):
        cls = row_classes[r] if row_classes is not None else ""
        parts.append(f'<tr class="{esc(cls)}">' if cls else "<tr>")
        parts += [f'<td{" class=num" if i in right else ""}>{cell}</td>'
                  for i, cell in enumerate(row)]
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _figure(fig: PageFigure) -> str:
    data = base64.b64encode(fig.path.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{esc(fig.title)}">'
            f"<figcaption>{esc(fig.caption)}</figcaption></figure>")


def _dl(items: Iterable[tuple[str, str]]) -> str:
    """A definition list; labels plain text, values markup already escaped."""
    return "<dl class=facts>" + "".join(f"<div><dt>{esc(k)}</dt><dd>{v}</dd></div>"
                                        for k, v in items) + "</dl>"


def _json_block(data: Any) -> str:
    """``data`` as JSON text that cannot end its ``<script>`` block or open a comment: the
    characters that could (``<``, ``>``, ``&``) are JSON escapes, which ``JSON.parse`` reads
    back unchanged."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, default=str)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


CSS = """
:root { color-scheme: light; --fg: #1d2329; --muted: #5b6670; --line: #d8dde2;
  --bg: #ffffff; --soft: #f4f6f8; --accent: #1f6fb2; --good: #1d7a3a; --bad: #b3261e;
  --warn: #9a5b00; --warnbg: #fff4df; --badbg: #fde8e6; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--fg); background: var(--bg); }
header.top { padding: 18px 28px 10px; border-bottom: 1px solid var(--line); }
header.top h1 { margin: 0 0 4px; font-size: 22px; }
header.top p { margin: 0; color: var(--muted); }
nav { position: sticky; top: 0; z-index: 2; background: var(--soft);
  border-bottom: 1px solid var(--line); padding: 6px 28px; }
nav a { margin-right: 16px; color: var(--accent); text-decoration: none; font-size: 14px; }
main { padding: 8px 28px 40px; max-width: 1400px; }
section { margin-top: 22px; scroll-margin-top: 40px; }
h2 { font-size: 18px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
p.note { color: var(--muted); margin: 6px 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left;
  vertical-align: top; }
th { background: var(--soft); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
tr.warn td { background: var(--warnbg); }
tr.bad td { background: var(--badbg); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 13px;
  font-weight: 600; background: var(--soft); border: 1px solid var(--line); }
.badge.complete { color: var(--good); border-color: var(--good); }
.badge.failed, .badge.interrupted { color: var(--bad); border-color: var(--bad); }
.error { border: 1px solid var(--bad); background: var(--badbg); padding: 8px 12px;
  border-radius: 4px; white-space: pre-wrap; overflow-wrap: anywhere; }
dl.facts { display: flex; flex-wrap: wrap; gap: 4px 28px; margin: 8px 0; }
dl.facts div { min-width: 190px; }
dl.facts dt { color: var(--muted); font-size: 13px; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
figure { margin: 10px 0 18px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 13px; max-width: 900px; }
details { margin: 6px 0; }
summary { cursor: pointer; color: var(--accent); }
code { background: var(--soft); padding: 0 4px; border-radius: 3px; }
.controls { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: center;
  background: var(--soft); border: 1px solid var(--line); padding: 8px 10px;
  border-radius: 4px; }
.controls label { font-size: 14px; }
.controls input[type=search] { min-width: 260px; }
#sample-count { color: var(--muted); font-size: 14px; }
article.sample { border: 1px solid var(--line); border-left: 5px solid var(--line);
  border-radius: 4px; margin: 10px 0; }
article.sample.v-correct { border-left-color: var(--good); }
article.sample.v-wrong { border-left-color: var(--bad); }
article.sample.v-no-answer { border-left-color: var(--warn); }
.sample-head { background: var(--soft); padding: 4px 10px; font-size: 13px;
  display: flex; flex-wrap: wrap; gap: 2px 14px; }
.sample-head .k { color: var(--muted); }
.sample-head .verdict { font-weight: 600; }
article.sample pre { margin: 0; padding: 8px 10px; white-space: pre-wrap;
  overflow-wrap: anywhere; font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", monospace;
  max-height: 420px; overflow: auto; }
article.sample pre.empty { color: var(--muted); font-style: italic; }
button { font: inherit; font-size: 14px; }
a.show-arm { font-size: 13px; }
footer { color: var(--muted); font-size: 12px; padding: 0 28px 24px; }
"""

SCRIPT = """
(function () {
  "use strict";
  var block = document.getElementById("samples-data");
  var list = document.getElementById("sample-list");
  if (!block || !list) { return; }
  var samples = JSON.parse(block.textContent).samples;
  var byId = function (id) { return document.getElementById(id); };
  var arm = byId("f-arm"), verdict = byId("f-verdict"), outcome = byId("f-outcome"),
      split = byId("f-split"), search = byId("f-text"), count = byId("sample-count"),
      more = byId("sample-more");
  var PAGE = __PAGE__, shown = PAGE;
  function keep(s) {
    if (arm.value && s.arm !== arm.value) { return false; }
    if (verdict.value && s.verdict !== verdict.value) { return false; }
    if (outcome.value === "unparsed") {
      if (s.outcome === "answered") { return false; }
    } else if (outcome.value && s.outcome !== outcome.value) { return false; }
    if (split.value && s.split !== split.value) { return false; }
    var q = search.value.trim().toLowerCase();
    if (q) {
      var hay = [s.text, s.query, s.answer, s.gold, s.arm].join("\\n").toLowerCase();
      if (hay.indexOf(q) < 0) { return false; }
    }
    return true;
  }
  function text(value) {
    return value === null || value === undefined ? "none" : String(value);
  }
  function item(head, key, value, cls) {
    var span = document.createElement("span");
    if (cls) { span.className = cls; }
    if (key) {
      var k = document.createElement("span");
      k.className = "k";
      k.textContent = key + " ";
      span.appendChild(k);
    }
    span.appendChild(document.createTextNode(value));
    head.appendChild(span);
  }
  function card(s) {
    var el = document.createElement("article");
    el.className = "sample v-" + text(s.verdict).replace(/[^a-z]+/g, "-");
    el.setAttribute("data-arm", text(s.arm));
    el.setAttribute("data-verdict", text(s.verdict));
    el.setAttribute("data-outcome", text(s.outcome));
    var head = document.createElement("div");
    head.className = "sample-head";
    item(head, "", text(s.arm), "arm");
    item(head, "query", text(s.query) + " (" + text(s.split) + ")");
    item(head, "slot", text(s.slot));
    item(head, "answer", s.answer === null ? "none" : JSON.stringify(s.answer));
    item(head, "gold", s.gold === null ? "none" : JSON.stringify(s.gold));
    item(head, "", text(s.verdict), "verdict");
    item(head, "outcome", text(s.outcome).replace(/_/g, " "), "outcome");
    if (s.finish_reason !== null && s.finish_reason !== "stop") {
      item(head, "finish", text(s.finish_reason));
    }
    var pre = document.createElement("pre");
    if (s.text) { pre.textContent = s.text; } else {
      pre.textContent = "(empty)";
      pre.className = "empty";
    }
    el.appendChild(head);
    el.appendChild(pre);
    return el;
  }
  function render() {
    var matching = samples.filter(keep);
    var frag = document.createDocumentFragment();
    matching.slice(0, shown).forEach(function (s) { frag.appendChild(card(s)); });
    while (list.firstChild) { list.removeChild(list.firstChild); }
    list.appendChild(frag);
    count.textContent = matching.length + " of " + samples.length + " completions" +
      (matching.length > shown ? " (the first " + shown + " shown)" : "");
    more.hidden = matching.length <= shown;
  }
  function refilter() { shown = PAGE; render(); }
  [arm, verdict, outcome, split].forEach(function (c) {
    c.addEventListener("change", refilter);
  });
  search.addEventListener("input", refilter);
  more.addEventListener("click", function () { shown += PAGE; render(); });
  Array.prototype.forEach.call(document.querySelectorAll("a.show-arm"), function (a) {
    a.addEventListener("click", function () {
      arm.value = a.getAttribute("data-arm");
      outcome.value = a.getAttribute("data-outcome") || "";
      verdict.value = "";
      refilter();
    });
  });
  render();
})();
""".replace("__PAGE__", str(SAMPLE_PAGE))


def _script_hash(script: str) -> str:
    return base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
       f"script-src 'sha256-{_script_hash(SCRIPT)}'; base-uri 'none'; form-action 'none'")
"""Only this module's script runs (by its hash) and nothing is fetched but inline images:
the page stays self-contained even if a text escaped its escaping."""


def _render(page: _Page, subtitle: str, data: Any | None, version: str) -> str:
    nav = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t, _ in page.sections if t)
    body = "".join(f'<section id="{esc(a)}">' + (f"<h2>{esc(t)}</h2>" if t else "") + b
                   + "</section>" for a, t, b in page.sections)
    scripts = ""
    if data is not None:
        scripts = (f'<script type="application/json" id="samples-data">{_json_block(data)}'
                   f"</script><script>{SCRIPT}</script>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(page.title)}</title><style>{CSS}</style></head><body>"
            f'<header class="top"><h1>{esc(page.title)}</h1><p>{subtitle}</p></header>'
            f"<nav>{nav}</nav><main>{body}</main>"
            f"<footer>Written by iapo {esc(version)} (iapo report); self-contained: "
            f"it loads nothing.</footer>{scripts}</body></html>\n")


# --- a run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunData:
    """What a run page shows, as read from the run directory: ``summary`` (summary.json),
    ``policy`` (policy.json's records as a frame, with ``usd_per_query`` where priced),
    ``log`` (trimming_log.csv; empty: none), ``evaluation`` (evaluation.json or None),
    ``figures`` (written PNGs), ``samples`` (None: not gathered, e.g. ``write_report``
    called without them), ``problems`` (files that could not be read, shown on a page
    that goes on without them: a failed run's), ``run_dir`` and ``version``."""

    summary: Mapping[str, Any]
    policy: pd.DataFrame
    log: pd.DataFrame
    evaluation: Mapping[str, Any] | None
    figures: Sequence[PageFigure]
    samples: SampleSet | None
    run_dir: Path
    version: str
    problems: Sequence[str] = ()
    shown_contexts: int | None = None


def _models(summary: Mapping[str, Any]) -> list[str]:
    health = summary.get("answer_health") or {}
    if health.get("models"):
        return [str(m) for m in health["models"]]
    usage = summary.get("usage") or {}
    if usage.get("model"):
        return [str(usage["model"])]
    return []


def _summary_section(data: RunData, spend: str) -> str:
    s = data.summary
    status = str(s.get("status") or "unknown")
    items = [("status", f'<span class="badge {esc(status)}">{esc(status)}</span>'),
             ("spent", esc(spend)),
             ("algorithm", esc(s.get("algorithm"))),
             ("environment", esc(s.get("environment"))),
             ("strategy", esc(s.get("strategy")))]
    models = _models(s)
    if models:
        items.append(("model" if len(models) == 1 else "models", esc(", ".join(models))))
    for key, label in (("rounds", "rounds"), ("prompts", "prompts"), ("contexts", "contexts"),
                       ("train_queries", "train queries"), ("test_queries", "test queries"),
                       ("completions", "completions"), ("seconds", "seconds"),
                       ("seed", "seed")):
        if s.get(key) is not None:
            items.append((label, esc(s[key])))
    items.append(("run directory", f"<code>{esc(data.run_dir)}</code>"))
    out = [_dl(items)]
    if s.get("error"):
        out.append(f"<h3>Why the run stopped</h3><div class=error>{esc(s['error'])}</div>")
        out.append(f"<p class=note>Fix the cause and continue with <code>iapo optimize "
                   f"CONFIG --resume {esc(data.run_dir)}</code>: completions already paid "
                   "for come from the cache.</p>")
    elif status != "complete":
        out.append(f"<p class=note>The run is {esc(status)}: the policy rests on what it "
                   "learned before it stopped.</p>")
    for problem in data.problems:
        out.append(f"<p class=note>Not shown: {esc(problem)}</p>")
    return "".join(out)


def _policy_section(data: RunData) -> str:
    policy = data.policy
    cols = set(policy.columns)
    models = "model" in cols
    priced = "usd_per_query" in cols and policy.usd_per_query.notna().any()
    head = ["context", "prompt", *(["model"] if models else []), "N", "estimated utility",
            "samples", "inference-agnostic choice", *(["USD / 1000 queries"] if priced else []),
            "notes"]
    rows = []
    for rec in policy.to_dict("records"):
        agnostic = "–"
        if not _missing(rec.get("agnostic_prompt")):
            agnostic = (f"{esc(rec['agnostic_prompt'])} at N={_int(rec.get('agnostic_n'))}: "
                        f"{_num(rec.get('agnostic_utility'))}")
        notes = [label for key, label in (("fallback", "fallback (no estimate for the pick)"),
                                          ("over_cap", "over its cap"))
                 if not _missing(rec.get(key)) and bool(rec.get(key))]
        rows.append([esc(rec.get("context")), esc(rec.get("prompt")),
                     *([esc(rec.get("model"))] if models else []), _int(rec.get("n")),
                     _num(rec.get("estimated_utility")), _int(rec.get("samples")), agnostic,
                     *([esc(_dollars(None if _missing(rec.get("usd_per_query"))
                                     else 1000 * float(rec["usd_per_query"])))]
                       if priced else []),
                     esc("; ".join(notes))])
    m = int(models)  # the columns after "model" shift by one when it is there
    numeric = [2 + m, 3 + m, 4 + m] + ([6 + m] if priced else [])
    text = ("<p class=note>Per context, the arm deployed (prompt and N, the completions "
            "sampled and aggregated per query), its estimated utility on the training "
            "queries, and what prompt optimization without inference-awareness would pick "
            "(the best prompt at the smallest N).</p>")
    return text + _table(head, rows, "policy-table", ["policy-row"] * len(rows), numeric)


def _figures_section(figures: Sequence[PageFigure], note: str = "") -> str:
    return (f"<p class=note>{esc(note)}</p>" if note else "") + "".join(
        (f"<h3 id=\"{esc(f.anchor)}\">{esc(f.title)}</h3>" if f.anchor else
         f"<h3>{esc(f.title)}</h3>") + _figure(f) for f in figures)


def _trimming_section(log: pd.DataFrame, figure: PageFigure | None) -> str:
    if log.empty:
        return "<p class=note>No trimming round was logged.</p>"
    kept = log.kept.astype(str).str.lower().isin(("true", "1", "1.0"))
    log = log.assign(kept=kept)
    rows, details = [], []
    for rnd, part in log.groupby("round", sort=True):
        chosen = part[part.kept]
        rows.append([_int(rnd), _int(part.context.nunique()), _int(len(part)),
                     _int(len(chosen)), _int(part.groupby("context").prompt.nunique().sum()),
                     _int(chosen.groupby("context").prompt.nunique().sum())])
        for ctx, cpart in part.groupby("context", sort=False):
            ckept = cpart[cpart.kept]
            details.append([_int(rnd), esc(ctx), _int(len(cpart)), _int(len(ckept)),
                            _int(cpart.prompt.nunique()), _int(ckept.prompt.nunique()),
                            esc(", ".join(sorted(map(str, ckept.prompt.unique())))[:300])])
    out = ["<p class=note>Each round the algorithm estimated the arms (prompt, N) still in "
           "the race and kept the promising ones; arm counts are summed over contexts, "
           "prompts counted per context and summed.</p>",
           _table(["round", "contexts", "arms considered", "arms kept", "prompts considered",
                   "prompts kept"], rows, "trimming-table", numeric=range(6)),
           "<details><summary>per context</summary>",
           _table(["round", "context", "arms considered", "arms kept", "prompts considered",
                   "prompts kept", "prompts kept (ids)"], details, numeric=(0, 2, 3, 4, 5)),
           "</details>"]
    if figure is not None:
        out.append(_figure(figure))
    return "".join(out)


def _evaluation_section(evaluation: Mapping[str, Any] | None, run_dir: Path) -> str:
    if evaluation is None:
        return (f"<p class=note id='not-evaluated'>Not evaluated yet: <code>iapo evaluate "
                f"{esc(run_dir)}</code> scores the policy on the held-out test queries "
                "against its comparisons; run <code>iapo report</code> again after it.</p>")
    comparisons = list(evaluation.get("comparisons") or [])
    priced = any("usd_per_1k_queries" in c for c in comparisons)
    rows = []
    for c in comparisons:
        acr = "–" if _missing(c.get("acr")) else (
            f"{_num(c.get('acr'))} ± {_num(c.get('acr_sem'))}")
        rows.append([esc(c.get("name")), esc(c.get("description", "")), acr,
                     _num(c.get("regret")), _num(c.get("gain_captured")),
                     *([esc(_dollars(c.get("usd_per_1k_queries")))] if priced else [])])
    head = ["comparison", "what it deploys", "ACR ± se", "regret", "oracle gain captured",
            *(["USD / 1000 queries"] if priced else [])]
    out = [f"<p class=note>{esc(evaluation.get('test_queries'))} test queries, "
           f"{esc(evaluation.get('method'))} values (<code>iapo evaluate</code>). ACR: the "
           "average contextual return, the test utility averaged over contexts by their "
           "probability; regret: the oracle's ACR minus this one (– without an oracle); "
           "oracle gain captured: (this − inference-agnostic) / (oracle − "
           "inference-agnostic).</p>"]
    if evaluation.get("partial_note"):
        out.append(f"<p class=note>{esc(evaluation['partial_note'])}</p>")
    out.append(_table(head, rows, "evaluation-table", numeric=(2, 3, 4, 5)))
    contexts = [str(x.get("context")) for x in (comparisons[0].get("contexts") or [])] \
        if comparisons else []
    if contexts:
        cells = []
        for name in contexts:
            row = [esc(name)]
            for c in comparisons:
                per = {str(x.get("context")): x for x in c.get("contexts") or []}.get(name)
                arm = per and (f"{per.get('prompt')}@{per['model']}" if per.get("model")
                               else per.get("prompt"))
                row.append("–" if per is None else
                           f"{esc(arm)} N={_int(per.get('n'))}: {_num(per.get('value'))}")
            cells.append(row)
        out += ["<details><summary>per context</summary>",
                _table(["context", *[str(c.get("name")) for c in comparisons]], cells),
                "</details>"]
    return "".join(out)


def _health_table(health: Mapping[str, Any], table_id: str, links: bool) -> str:
    arms = list(health.get("arms") or [])
    several = len({a.get("model") for a in arms}) > 1
    head = ["arm", *(["model"] if several else []), "completions", "answered", "no answer",
            "cut at max_tokens", "empty", "scorer failed", *(["samples"] if links else [])]
    rows, classes = [], []
    for a in arms:
        total = float(a.get("completions") or 0)
        unanswered = total - float(a.get("answered") or 0)
        share = unanswered / total if total else 0.0
        classes.append("bad" if share > BAD_UNANSWERED else
                       "warn" if share > WARN_UNANSWERED else "")
        link = []
        if links:
            arm = esc(a.get("arm"))
            link = [f'<a class=show-arm href="#samples" data-arm="{arm}" '
                    'data-outcome="unparsed">unparsed</a> · '
                    f'<a class=show-arm href="#samples" data-arm="{arm}" data-outcome="">'
                    "all</a>"]
        rows.append([esc(a.get("arm")), *([esc(a.get("model"))] if several else []),
                     _int(total), *(_share(float(a.get(k) or 0), total) for k in OUTCOMES),
                     *link])
    offset = 1 + several
    return _table(head, rows, table_id, classes, numeric=range(offset, offset + 6))


def _health_section(data: RunData) -> str:
    training = data.summary.get("answer_health")
    if not training:
        return ("<p class=note>No answer health: this run's backend is offline (its "
                "completions were not sent to a model by this run), so there is nothing per "
                "arm to count.</p>")
    links = data.samples is not None and bool(data.samples.records)
    out = [f"<p class=note>Every training completion's outcome, per arm: answered (the "
           f"extractor {esc(training.get('extractor') or '(none)')} found an answer), no "
           "answer, cut at max_tokens, empty, or the scorer failed. Arms where more than "
           f"{WARN_UNANSWERED:.0%} gave nothing to score are highlighted, more than "
           f"{BAD_UNANSWERED:.0%} in red.</p>",
           _health_table(training, "health-table", links)]
    test = ((data.evaluation or {}).get("answer_health") or {}).get("test")
    if test and test.get("arms"):
        out += ["<h3>Test completions (iapo evaluate)</h3>",
                _health_table(test, "health-test-table", False)]
    return "".join(out)


def _options(values: Iterable[str], first: str) -> str:
    return f'<option value="">{esc(first)}</option>' + "".join(
        f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)


def _samples_section(samples: SampleSet | None) -> tuple[str, Any | None]:
    if samples is None or not samples.records:
        note = samples.note if samples is not None else (
            "Completions were not gathered for this page (iapo report gathers them from a "
            "live run's cache).")
        return f"<p class=note id='no-samples'>{esc(note)}</p>", None
    records = [{k: r.get(k) for k in SAMPLE_FIELDS} for r in samples.records]
    arms = list(dict.fromkeys(str(r["arm"]) for r in records))
    verdicts = [v for v in ("correct", "wrong", "no answer", "scored")
                if any(r["verdict"] == v for r in records)]
    outcome_options = ('<option value="">any outcome</option>'
                       '<option value="unparsed">unparsed (anything but answered)</option>'
                       + "".join(f'<option value="{o}">{o.replace("_", " ")}</option>'
                                 for o in OUTCOMES))
    html_ = (f"<p class=note>{esc(samples.note)}</p>"
             "<div class=controls>"
             f'<label>arm <select id="f-arm">{_options(arms, "every arm")}</select></label>'
             f'<label>verdict <select id="f-verdict">{_options(verdicts, "any verdict")}'
             "</select></label>"
             f'<label>outcome <select id="f-outcome">{outcome_options}</select></label>'
             '<label>split <select id="f-split"><option value="">both</option>'
             '<option value="train">train</option><option value="test">test</option>'
             "</select></label>"
             '<label>search <input id="f-text" type="search" '
             'placeholder="text, query id, answer, gold"></label>'
             '<span id="sample-count"></span></div>'
             "<noscript><p class=note>The sample browser needs JavaScript.</p></noscript>"
             '<div id="sample-list"></div><button id="sample-more" type="button" hidden>'
             "show more</button>")
    return html_, {"samples": records}


def run_page(data: RunData, spend: str) -> str:
    """report.html of a run: summary, policy, figures, trimming, evaluation, answer health
    and the sample browser (``spend``: the spent/budget text)."""
    s = data.summary
    name = s.get("name") or data.run_dir.name
    page = _Page(f"Run report: {name}")
    page.add("summary", "Summary", _summary_section(data, spend))
    page.add("policy", "Policy per context", _policy_section(data))
    trim_fig = next((f for f in data.figures if f.anchor == "trimming-figure"), None)
    plots = [f for f in data.figures if f is not trim_fig]
    if plots:
        note = ""
        total = len(data.policy)
        if data.shown_contexts is not None and data.shown_contexts < total:
            note = f"The figures show the first {data.shown_contexts} of {total} contexts."
        page.add("figures", "Estimates and the cost frontier", _figures_section(plots, note))
    page.add("trimming", "Trimming rounds", _trimming_section(data.log, trim_fig))
    page.add("evaluation", "Evaluation", _evaluation_section(data.evaluation, data.run_dir))
    page.add("health", "Answer health per arm", _health_section(data))
    body, samples = _samples_section(data.samples)
    page.add("samples", "Sample browser", body)
    status = str(s.get("status") or "unknown")
    subtitle = (f"{esc(s.get('algorithm'))} on {esc(s.get('environment'))} "
                f"({esc(s.get('strategy'))}) · spent {esc(spend)} · status "
                f'<span class="badge {esc(status)}">{esc(status)}</span>')
    return _render(page, subtitle, samples, data.version)


# --- a study ------------------------------------------------------------------------------


def study_page(summary: pd.DataFrame, results: pd.DataFrame | None,
               figures: Sequence[PageFigure], bench_dir: Path, version: str) -> str:
    """report.html of a study (``iapo bench``): the summary table (algorithm, budget, runs,
    mean ACR ± sem, mean regret, spend, Wilcoxon p-value against the reference), the
    figures, and every run's row of results.csv (collapsed) when given."""
    reference = next((c.removeprefix("p_vs_") for c in summary.columns
                      if c.startswith("p_vs_")), None)
    head = ["algorithm", "budget", "runs", "mean ACR ± sem", "mean regret", "mean spent",
            "max spent", "median seconds", *([f"p vs {reference}"] if reference else [])]
    rows = []
    for rec in summary.to_dict("records"):
        budget = rec.get("budget")
        rows.append([esc(rec.get("algorithm")),
                     "–" if _missing(budget) else esc(f"{float(budget):g}"),
                     _int(rec.get("runs")),
                     f"{_num(rec.get('mean_acr'))} ± {_num(rec.get('sem_acr'))}",
                     _num(rec.get("mean_regret")), _num(rec.get("mean_spent"), 1),
                     _num(rec.get("max_spent"), 1), _num(rec.get("median_seconds"), 3),
                     *([_pvalue(rec.get(f"p_vs_{reference}"))] if reference else [])])
    runs = int(summary.runs.max()) if "runs" in summary and len(summary) else None
    page = _Page("Study report")
    intro = (f"<p class=note>{esc(runs)} runs per algorithm and budget (random 80/20 splits; "
             "exact test values). ACR: the average contextual return on the test queries; "
             "regret: the oracle's ACR minus it."
             + (f" p: Wilcoxon signed-rank test of the test ACR against {esc(reference)}, "
                "paired by run (– for the reference itself)." if reference else "")
             + "</p>")
    page.add("summary", "Summary", intro + _table(head, rows, "study-table",
                                                   numeric=range(1, len(head))))
    page.add("figures", "Figures", _figures_section(figures))
    if results is not None and len(results):
        cols = [c for c in ("algorithm", "budget", "run", "acr", "oracle", "regret", "spent",
                            "seconds") if c in results.columns]
        shown = results.head(MAX_RESULT_ROWS)
        cells = [[esc(v) if c == "algorithm" else _num(v, 0 if c in ("run",) else 4)
                  for c, v in zip(cols, r, strict=True)]
                 for r in shown[cols].itertuples(index=False)]
        more = (f" (the first {MAX_RESULT_ROWS} of {len(results)})"
                if len(results) > MAX_RESULT_ROWS else "")
        page.add("runs", "Runs", f"<details><summary>every run{esc(more)}</summary>"
                 + _table(cols, cells, "results-table", numeric=range(1, len(cols)))
                 + "</details>")
    subtitle = f"<code>{esc(bench_dir)}</code>"
    return _render(page, subtitle, None, version)


MAX_RESULT_ROWS = 2000
"""Rows of results.csv a study page lists (a study of thousands of runs stays light)."""


def _pvalue(value: Any) -> str:
    return "–" if _missing(value) else f"{float(value):.2g}"
