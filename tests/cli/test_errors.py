"""Bad input through ``main``: exit 2, one ``error:`` line per problem, nothing written."""

import signal
import sys

from iapo_cli.cli import main
from tests.conftest import SMALL_SYNTHETIC, write_config


def run_main(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["iapo", *map(str, args)])
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # leave pytest's handlers alone
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr()


def test_three_mistakes_are_all_reported(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # where a run directory would go
    text = (SMALL_SYNTHETIC.replace("budget: 600", "budget: -3\ncolour: red")
            .replace("seed: 3}", "seed: 3, model: gpt}"))
    config = write_config(tmp_path / "c.yaml", text)
    for command in ("optimize", "validate"):
        code, out = run_main(monkeypatch, capsys, command, config)
        assert code == 2
        assert out.err.splitlines() == [
            f"error: {config}: backend.model: unknown key for kind 'synthetic'",
            f"error: {config}: budget: input should be greater than 0",
            f"error: {config}: colour: unknown key",
        ]
        assert out.out == ""
        assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_a_wrong_kind_names_the_known_kinds(tmp_path, monkeypatch, capsys):
    text = SMALL_SYNTHETIC.replace("kind: synthetic", "kind: synthetc")
    config = write_config(tmp_path / "c.yaml", text)
    code, out = run_main(monkeypatch, capsys, "validate", config)
    assert code == 2
    assert out.err == (f"error: {config}: backend.kind: unknown kind 'synthetc' (known: "
                       "categorical, synthetic, live, replay)\n")
