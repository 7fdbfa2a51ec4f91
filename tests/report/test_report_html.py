"""report.html (issue 22, item 6): one self-contained page per run or bench directory,
checked as markup and in a real headless browser (Debian's Chromium driven by Playwright).

The browser tests fail, never skip, when Chromium is missing: `make test` and .ci/run
install it (as root); elsewhere `apt-get install -y chromium`.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from iapo_cli.report import SAMPLE_FIELDS, SampleSet, write_report
from iapo_cli.run import gather_samples, optimize
from tests.conftest import SMALL_SYNTHETIC, run_cli, write_config
from tests.run.sim_project import sim_project
from tests.run.test_live_models import two_models_project

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
"""Without the background-networking flags Chromium's own connections are refused here and
show up as errors."""

EVIL = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
"""A completion (and names) trying to end the data block and run or load something."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Report directories built once: a quickstart run (simulated model, evaluated), a
    two-model run (not evaluated), a tiny bench, an offline run and a run the early
    answer check stopped."""
    tmp = tmp_path_factory.mktemp("html")
    quick = optimize(sim_project(tmp / "quick", budget=300), out=tmp / "quick" / "run").run_dir
    code, _, err = run_cli("evaluate", quick)
    assert code == 0, err
    two = optimize(two_models_project(tmp / "two", rows=30, budget=300),
                   out=tmp / "two" / "run").run_dir
    bench = tmp / "bench"
    code, _, err = run_cli("bench", "--env", "synthetic:bernoulli-mv", "--runs", 3,
                           "--budgets", 200, "--algorithms", "psst,uniform", "--workers", 1,
                           "--out", bench)
    assert code == 0, err
    offline = optimize(write_config(tmp / "small.yaml", SMALL_SYNTHETIC),
                       tmp / "offline").run_dir
    stopped = tmp / "stopped" / "run"
    config = sim_project(tmp / "stopped", answer={"pattern": r"NEVER(\d+)"})
    code, _, err = run_cli("optimize", config, "--out", stopped)
    assert code == 1 and "have no answer" in err
    outs = {}
    for name, path in (("quick", quick), ("two", two), ("bench", bench),
                       ("offline", offline), ("stopped", stopped)):
        code, out, err = run_cli("report", path)
        assert code == 0, err
        outs[name] = out
    return {"quick": Path(quick), "two": Path(two), "bench": bench,
            "offline": Path(offline), "stopped": stopped, "printed": outs}


def page_of(path: Path) -> str:
    return (path / "report.html").read_text(encoding="utf-8")


class Markup(HTMLParser):
    """Every start tag with its attributes, and the text of each <script>."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._in_script: dict | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = dict(attrs)
            self.scripts.append((self._in_script, ""))

    def handle_data(self, data):
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None


def samples_data(text: str) -> list[dict]:
    block = re.search(r'<script type="application/json" id="samples-data">(.*?)</script>',
                      text, re.S)
    return json.loads(block.group(1))["samples"]


# --- the markup ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["quick", "two", "bench", "offline", "stopped"])
def test_every_page_is_self_contained(runs, name):
    text = page_of(runs[name])
    assert "http://" not in text and "https://" not in text  # nothing to load, no link out
    markup = Markup(text)
    names = {tag for tag, _ in markup.tags}
    assert not names & {"link", "iframe", "object", "embed", "base", "form", "audio",
                        "video", "source"}
    images = [attrs for tag, attrs in markup.tags if tag == "img"]
    assert bool(images) == (name != "stopped")  # stopped before any estimate: no figure
    assert all(a["src"].startswith("data:image/png;base64,") for a in images)
    for tag, attrs in markup.tags:
        assert not ({"srcset", "poster", "action", "background"} & set(attrs)), tag
        if "href" in attrs:
            assert attrs["href"].startswith("#"), (tag, attrs)
        if "src" in attrs:
            assert tag == "img" and attrs["src"].startswith("data:"), (tag, attrs)
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)  # no inline handlers
    assert all("src" not in attrs for attrs, _ in markup.scripts)
    csp = next(a["content"] for t, a in markup.tags
               if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "img-src data:" in csp


def test_the_run_page_has_every_section(runs):
    text = page_of(runs["quick"])
    policy = json.loads((runs["quick"] / "policy.json").read_text())["contexts"]
    rows = re.findall(r'<tr class="policy-row">(.*?)</tr>', text, re.S)
    assert len(rows) == len(policy) == 3
    for row, record in zip(rows, policy, strict=True):
        assert f"<td>{record['context']}</td><td>{record['prompt']}</td>" in row
        assert f"{record['estimated_utility']:.4f}" in row
        assert f"{record['agnostic_prompt']} at N=1" in row
    for section in ("summary", "policy", "figures", "trimming", "evaluation", "health",
                    "samples"):
        assert f'<section id="{section}">' in text
    assert 'id="evaluation-table"' in text and "inference-agnostic choice" in text
    assert 'id="trimming-table"' in text and 'id="health-table"' in text
    # the arm without a format instruction answers rarely: highlighted
    health = re.search(r'<table id="health-table">.*?</table>', text, re.S).group(0)
    assert re.search(r'<tr class="bad"><td>no-format</td>', health)
    assert "complete" in text and "300 of 300 completions" in text
    # report.md and the PNGs as before
    assert (runs["quick"] / "report.md").is_file()
    assert (runs["quick"] / "utility_vs_n.png").is_file()


def test_the_samples_are_per_arm_plus_unparsed_and_wrong(runs):
    records = samples_data(page_of(runs["quick"]))
    assert records and all(set(r) == set(SAMPLE_FIELDS) for r in records)
    arms = ["direct", "concise-expert", "step-by-step", "brainstorm", "double-check",
            "no-format"]
    assert list(dict.fromkeys(r["arm"] for r in records)) == arms  # grouped, in arm order
    keys = [(r["arm"], r["split"], r["query"], r["slot"]) for r in records]
    assert len(keys) == len(set(keys))
    assert any(r["outcome"] != "answered" for r in records)
    assert any(r["verdict"] == "wrong" for r in records)
    again = gather_samples(runs["quick"], per_arm=2, findable=3)
    counts = {arm: sum(r["arm"] == arm for r in again.records) for arm in arms}
    assert all(2 <= c for c in counts.values())
    assert sum(r["outcome"] != "answered" for r in again.records) >= 3
    assert "the first 3 unparsed ones" in again.note


def test_an_evaluation_is_asked_for_until_there_is_one(runs):
    text = page_of(runs["two"])
    assert "id='not-evaluated'" in text and f"iapo evaluate {runs['two']}" in text
    assert "USD / 1000 queries" in text and "small, large" in text


def test_offline_runs_say_they_have_no_samples(runs):
    text = page_of(runs["offline"])
    assert 'id="samples-data"' not in text and "<script>" not in text  # nothing to run
    assert "No completions to show" in text and "not a live model" in text
    assert "No answer health" in text


def test_a_stopped_run_gets_a_page_with_its_error_and_what_the_model_wrote(runs):
    text = page_of(runs["stopped"])
    summary = json.loads((runs["stopped"] / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert '<span class="badge failed">failed</span>' in text
    assert "have no answer (100%)" in text and "Why the run stopped" in text
    records = samples_data(text)
    assert records and all(r["verdict"] == "no answer" for r in records)
    assert (runs["stopped"] / "report.md").is_file()


def test_the_bench_page(runs):
    text = page_of(runs["bench"])
    rows = re.findall(r"<tr><td>(psst|uniform)</td><td class=num>200</td>", text)
    assert rows == ["psst", "uniform"]
    assert "p vs psst" in text and " ± " in text
    assert text.count("data:image/png;base64,") == 2


def test_the_command_prints_the_page(runs):
    for name in ("quick", "bench"):
        assert f"wrote {runs[name] / 'report.html'}" in runs["printed"][name].replace("\n", "")


def evil_records(count: int = 3) -> list[dict]:
    return [{"arm": f"p{i}{EVIL}", "query": f"q{i}{EVIL}", "split": "train", "slot": i,
             "text": f"line one\n{EVIL}\n<!-- & &amp; \u2028", "answer": EVIL, "gold": None,
             "verdict": "no answer", "outcome": "no_answer", "finish_reason": "length"}
            for i in range(count)]


@pytest.fixture(scope="module")
def evil_page(runs, tmp_path_factory):
    """The quickstart run's page with completions that try to break out of it."""
    copy = tmp_path_factory.mktemp("evil") / "run"
    shutil.copytree(runs["quick"], copy)
    write_report(copy, SampleSet(evil_records(), f"note {EVIL}"))
    return copy / "report.html"


def test_a_completion_cannot_break_the_page(evil_page):
    text = evil_page.read_text(encoding="utf-8")
    assert text.count("</script>") == 2  # the data block's and the script's own end tags
    assert "<script>alert" not in text and "<img src=x" not in text
    assert samples_data(text) == evil_records()  # read back unchanged
    markup = Markup(text)
    assert [a.get("type") for a, _ in markup.scripts] == ["application/json", None]


# --- a real browser -----------------------------------------------------------------------


def chromium_path() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium"
                                         if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        pytest.fail("Chromium is not installed: these tests open report.html in a real "
                    "headless browser. Install Debian's package as root: apt-get update && "
                    "apt-get install -y chromium (make test and .ci/run do this when run "
                    "as root).", pytrace=False)
    return found


@pytest.fixture(scope="module")
def browser(runs, evil_page):
    """One Chromium for the module, started after every run it shows is built: Playwright's
    sync API keeps an event loop running in this thread while the browser is open, and a
    run (``optimize``) needs to run its own."""
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: pip install -e '.[dev]' (it drives the "
                    "system Chromium; no browser download is needed)", pytrace=False)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Opened:
    """A page opened from a file, with every console error, page error, dialog and request
    it made recorded."""

    def __init__(self, browser, path: Path):
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        page = self.page
        page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        page.goto(self.url)
        page.wait_for_load_state("load")

    def check_clean(self) -> None:
        assert self.errors == [] and self.dialogs == []
        assert self.requests == [self.url]  # the file itself, nothing else
        broken = self.page.evaluate(
            "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
            ".length")
        assert broken == 0

    def screenshot_not_blank(self, path: Path) -> None:
        from matplotlib.image import imread

        png = self.page.screenshot(full_page=False)
        path.write_bytes(png)
        pixels = imread(io.BytesIO(png), format="png")[..., :3]
        background = pixels[0, 0]
        drawn = np.any(np.abs(pixels - background) > 0.05, axis=-1).mean()
        assert drawn > 0.02, f"the screenshot is nearly blank ({drawn:.1%} drawn)"

    def cards(self) -> list[dict]:
        return self.page.eval_on_selector_all(
            "#sample-list article.sample",
            "els => els.map(e => ({arm: e.dataset.arm, outcome: e.dataset.outcome, "
            "verdict: e.dataset.verdict, text: e.querySelector('pre').textContent}))")

    def close(self) -> None:
        self.page.close()


def test_the_quickstart_page_in_a_browser(browser, runs, tmp_path):
    opened = Opened(browser, runs["quick"] / "report.html")
    page = opened.page
    rows = page.locator("#policy-table tr.policy-row")
    assert rows.count() == 3
    assert all(rows.nth(i).is_visible() for i in range(3))
    assert rows.nth(0).locator("td").nth(0).inner_text() == "accuracy-first"
    assert page.locator("#evaluation-table").is_visible()
    assert page.locator("#health-table tr.bad").count() == 1
    cards = opened.cards()
    assert cards and page.locator("#sample-list article.sample").first.is_visible()
    total = len(samples_data(page_of(runs["quick"])))
    assert total > 100 and len(cards) == 100  # drawn a hundred at a time
    assert page.locator("#sample-count").inner_text().startswith(
        f"{total} of {total} completions")
    page.click("#sample-more")
    assert len(opened.cards()) == min(total, 200)
    page.select_option("#f-outcome", "unparsed")
    unparsed = opened.cards()
    assert unparsed and all(c["outcome"] != "answered" for c in unparsed)
    page.select_option("#f-outcome", "")
    page.fill("#f-text", "I get")  # the simulator's unformatted answers
    found = opened.cards()
    assert found and all("i get" in c["text"].lower() for c in found)
    page.fill("#f-text", "")
    page.select_option("#f-outcome", "")
    opened.screenshot_not_blank(tmp_path / "quick.png")
    opened.check_clean()
    opened.close()


def test_the_two_model_page_in_a_browser(browser, runs, tmp_path):
    opened = Opened(browser, runs["two"] / "report.html")
    page = opened.page
    assert page.locator("#policy-table tr.policy-row").count() == 4
    assert page.locator("#policy-table tr.policy-row").first.is_visible()
    assert page.locator("#not-evaluated").is_visible()
    arms = {c["arm"] for c in opened.cards()}
    assert {"direct@small", "direct@large"} <= arms
    page.select_option("#f-arm", "concise-expert@large")
    assert {c["arm"] for c in opened.cards()} == {"concise-expert@large"}
    page.select_option("#f-arm", "")
    # the health table's link shows one arm's unparsed completions
    page.locator('#health-table a.show-arm[data-arm="step-by-step@small"]'
                 '[data-outcome="unparsed"]').click()
    shown = opened.cards()
    assert shown and {c["arm"] for c in shown} == {"step-by-step@small"}
    assert all(c["outcome"] != "answered" for c in shown)
    opened.screenshot_not_blank(tmp_path / "two.png")
    opened.check_clean()
    opened.close()


def test_the_bench_page_in_a_browser(browser, runs, tmp_path):
    opened = Opened(browser, runs["bench"] / "report.html")
    rows = opened.page.locator("#study-table tbody tr")
    assert rows.count() == 2 and rows.first.is_visible()
    assert opened.page.locator("figure img").count() == 2
    opened.screenshot_not_blank(tmp_path / "bench.png")
    opened.check_clean()
    opened.close()


def test_the_stopped_run_page_in_a_browser(browser, runs, tmp_path):
    opened = Opened(browser, runs["stopped"] / "report.html")
    assert opened.page.locator(".error").is_visible()
    assert opened.page.locator("#policy-table tr.policy-row").count() == 3
    cards = opened.cards()
    assert cards and all(c["verdict"] == "no answer" for c in cards)
    opened.check_clean()
    opened.close()


def test_a_completion_cannot_break_the_page_in_a_browser(browser, evil_page):
    opened = Opened(browser, evil_page)
    cards = opened.cards()
    assert [c["text"] for c in cards] == [r["text"] for r in evil_records()]
    assert opened.page.locator("#sample-list img").count() == 0  # shown as text, not markup
    assert opened.page.locator("script").count() == 2
    opened.check_clean()  # no alert, nothing requested (the CSP would stop it anyway)
    opened.close()
