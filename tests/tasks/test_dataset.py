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


def _questions(*texts: str):
    from iapo_cli.tasks import Dataset

    rows = tuple({"q": t, "a": str(i), "id": f"r{i}"} for i, t in enumerate(texts))
    return Dataset(rows, tuple(r["id"] for r in rows), frozenset({"q", "a", "id"}))


def test_duplicate_rows_keep_drop_or_error():
    from iapo_cli.tasks import handle_duplicates

    data = _questions("x", "y", "x", "z", "w", "y", "v", "x")
    assert handle_duplicates(data, ["q"], "keep") is data
    kept = handle_duplicates(data, ["q"], "drop")
    assert kept.ids == ("r0", "r1", "r3", "r4", "r6")  # the first of each, in order
    assert [r["a"] for r in kept.rows] == ["0", "1", "3", "4", "6"]
    with pytest.raises(ConfigError) as info:
        handle_duplicates(data, ["q"], "error", source="c.yaml")
    assert str(info.value) == (
        "c.yaml: dataset.duplicates: 3 of 8 rows repeat an earlier row in what the prompts "
        "show (q), e.g. row 'r2' repeats 'r0'; set it to drop (use the first of each) or keep "
        "(each row its own samples)")
    # rows differ when any field the prompts show differs
    assert handle_duplicates(data, ["q", "a"], "error") is data


def test_duplicate_rows_without_duplicates_or_too_few_left():
    from iapo_cli.tasks import handle_duplicates

    unique = _questions("a", "b", "c", "d", "e")
    for policy in ("keep", "drop", "error"):
        assert handle_duplicates(unique, ["q"], policy) is unique
    with pytest.raises(ConfigError, match="dataset.duplicates: 2 distinct rows remain"):
        handle_duplicates(_questions("a", "b", "a", "b", "a"), ["q"], "drop")
    with pytest.raises(ConfigError, match=r"show \(no field at all\)"):
        handle_duplicates(unique, [], "error")  # a template without fields: all the same


def test_a_byte_order_mark_is_not_part_of_the_first_field(tmp_path):
    # issue 10: a CSV saved by Excel read "'id' is not a field" though it was
    path = tmp_path / "d.csv"
    path.write_text("id,q,a\n" + "".join(f"r{i},x{i},{i}\n" for i in range(5)),
                    encoding="utf-8-sig")
    data = load_dataset(path, id_field="id")
    assert data.ids[0] == "r0" and data.fields == frozenset({"id", "q", "a"})
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("".join(json.dumps({"id": f"r{i}"}) + "\n" for i in range(5)),
                     encoding="utf-8-sig")
    assert load_dataset(jsonl, id_field="id").ids[0] == "r0"


def test_quoted_csv_fields_keep_their_newlines(tmp_path):
    # issue 10: csv.DictReader over str.splitlines() dropped the newline inside quotes
    path = tmp_path / "d.csv"
    path.write_text('q,a\n"line one\nline two",1\n' + "".join(f"x{i},{i}\n" for i in range(4)),
                    encoding="utf-8", newline="")
    data = load_dataset(path)
    assert len(data) == 5 and data.rows[0]["q"] == "line one\nline two"
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(b'q,a\r\n"a\r\nb",1\r\n' + b"".join(b"x,%d\r\n" % i for i in range(4)))
    assert load_dataset(crlf).rows[0] == {"q": "a\nb", "a": "1"}  # read as text: \r\n is \n


def test_jsonl_lines_end_at_newline_only(tmp_path):
    # issue 10: str.splitlines() also split at U+2028 inside a JSON string
    path = tmp_path / "d.jsonl"
    rows = [{"q": f"first\u2028second {i}\x85", "a": i} for i in range(5)]
    path.write_bytes("".join(json.dumps(r, ensure_ascii=False) + "\r\n" for r in rows)
                     .encode("utf-8"))
    data = load_dataset(path)
    assert len(data) == 5 and data.rows[1]["q"] == "first\u2028second 1\x85"
