from __future__ import annotations

import json

import pytest

from iapo_cli.errors import ConfigError
from iapo_cli.tasks import Template, load_dataset


def test_jsonl_and_csv_rows(tmp_path):
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("".join(json.dumps({"q": f"x{i}", "a": i}) + "\n" for i in range(6)))
    data = load_dataset(jsonl)
    assert len(data) == 6 and data.rows[2] == {"q": "x2", "a": "2"} and data.ids[0] == "0"
    csv = tmp_path / "d.csv"
    csv.write_text("q,a\n" + "".join(f"x{i},{i}\n" for i in range(5)))
    assert load_dataset(csv, id_field="q").ids == ("x0", "x1", "x2", "x3", "x4")


@pytest.mark.parametrize("content, message", [
    ('{"q": 1}\nnot json\n', "line 2: not JSON"),
    ('[1, 2]\n', "line 1: must be a JSON object"),
    ('{"q": 1}\n', "has 1 rows; at least 5 are needed"),
])
def test_bad_datasets_are_config_errors(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_dataset(path)


def test_braces_in_data_never_break_formatting():
    template = Template("Q: {question}\nUse {{braces}} literally.")
    assert template.fields == ("question",)
    out = template.render({"question": "what is {x} in {0} and {}?"})
    assert out == "Q: what is {x} in {0} and {}?\nUse {braces} literally."


@pytest.mark.parametrize("text, message", [
    ("{a.b}", "plain field name"), ("{a!r}", "plain field name"), ("{a:>3}", "plain field"),
    ("{}", "empty placeholder"), ("{oops", "malformed template"),
])
def test_bad_templates(text, message):
    with pytest.raises(ValueError, match=message):
        Template(text)
