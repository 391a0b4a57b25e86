"""The command line's error contract (README, "Command line"): every subcommand given bad input exits with
status 2, prints nothing on stdout and exactly one line on stderr, `error: ...`, never a traceback;
--debug adds the traceback and the expression with its caret."""

from __future__ import annotations

import subprocess
import sys

import pytest

from explorer.cli.entry import EXIT_INPUT, EXIT_INTERNAL, build_parser, main, one_line
from explorer.errors import ExpressionError

BAD_RULE = "id: X\ntitle: t\ncriteria:\n- {id: I1, kind: inclusion, text: t, expression: 'sex >= 3'}\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Bad inputs of every kind: a trial file whose rule does not type-check, a registry record that is not
    one, a screening folder (it has no visits for outcomes), and paths that do not exist."""
    from explorer.cohort.synthetic import generate_screening
    from explorer.engine import write_screening

    root = tmp_path_factory.mktemp("bad")
    (root / "bad_rule.yaml").write_text(BAD_RULE)
    (root / "not_a_record.json").write_text('{"hello": "world"}')
    write_screening(generate_screening("t1d", 50, seed=1), root / "screening")
    return root


# (subcommand, arguments, words the one line must hold); {root} is the folder of the files fixture
CASES = [
    ("trials", ["--format", "xml"], "invalid choice"),
    ("show", ["NCT00000000"], "neither a bundled trial"),
    ("show", ["{root}/bad_rule.yaml"], "criterion I1"),
    ("check", ["{root}/bad_rule.yaml"], "criterion I1"),
    ("check", ["{root}/missing.yaml"], "missing.yaml"),
    ("schema", ["extra"], "unrecognized arguments"),
    ("variables", ["--trial", "{root}/bad_rule.yaml"], "criterion I1"),
    ("funnel", ["NCT06196996", "--data", "{root}/missing"], "no such file or folder"),
    ("funnel", ["NCT06196996", "--synthetic", "0"], "synthetic size 0"),
    ("funnel", ["NCT06196996", "--synthetic", "10", "--engine", "abacus"], "invalid choice"),
    ("funnel", ["NCT06196996", "--synthetic", "10", "--min-cell", "-1"], "--min-cell"),
    ("funnel", ["{root}/bad_rule.yaml", "--synthetic", "10"], "criterion I1"),
    ("funnel", ["NCT06196996"], "one of the arguments --synthetic --data is required"),
    ("outcomes", ["NCT06196996", "--data", "{root}/screening"], "no visits"),
    ("outcomes", ["NCT06196996", "--synthetic", "0"], "synthetic size 0"),
    ("outcomes", ["NCT06196996", "--synthetic", "3000", "--by", "shoe_size"], "no subgroup 'shoe_size'"),
    ("synth", ["--population", "t1d", "--n", "0", "--out", "{root}/out"], "--n must be at least 1"),
    ("synth", ["--population", "t3d", "--n", "5", "--out", "{root}/out"], "invalid choice"),
    ("import", ["{root}/missing.xml"], "no such file"),
    ("import", ["{root}/not_a_record.json"], "not_a_record.json"),
    ("dashboard", ["--notebook", "{root}/missing.ipynb"], "cannot find the dashboard notebook"),
]


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_subcommand_has_a_bad_input_case():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert set(commands) == {command for command, _, _ in CASES}


@pytest.mark.parametrize("command, arguments, words", CASES, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_bad_input_is_one_line_on_stderr(capsys, files, command, arguments, words):
    code, out, err = run(capsys, [command, *(a.format(root=files) for a in arguments)])
    assert code == EXIT_INPUT
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and words in err and "Traceback" not in err


def test_no_command_is_a_one_line_usage_error(capsys):
    code, out, err = run(capsys, [])
    assert code == EXIT_INPUT and out == "" and len(err.splitlines()) == 1 and "required: COMMAND" in err


def test_an_expression_error_is_one_line_and_keeps_its_column(capsys, files):
    code, _, err = run(capsys, ["show", str(files / "bad_rule.yaml")])
    assert code == EXIT_INPUT
    assert err.count("\n") == 1 and "(at column" in err and "^" not in err


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback_and_the_caret(capsys, files, where):
    argv = ["show", str(files / "bad_rule.yaml")]
    code, out, err = run(capsys, ["--debug", *argv] if where == "before" else [*argv, "--debug"])
    assert code == EXIT_INPUT and out == ""
    assert "Traceback" in err
    lines = err.splitlines()
    caret = next(i for i, line in enumerate(lines) if line.strip() == "^")
    assert lines[caret - 1].strip() == "sex >= 3"
    column = int(err.split("(at column ")[1].split(")")[0])
    assert lines[caret].index("^") - lines[caret - 1].index("sex") == column - 1  # under the column named


def test_one_line_joins_other_multi_line_messages():
    assert one_line(ValueError("first\n  second\n")) == "first second"
    error = ExpressionError("unknown name 'hba1', did you mean 'hba1c'?", expression="hba1 > 7", position=0,
                            criterion="I2")
    assert "\n" in str(error)
    assert one_line(error) == "criterion I2, field 'expression': unknown name 'hba1', did you mean 'hba1c'? (at column 1)"


def test_a_bug_is_one_line_with_exit_code_1(capsys, monkeypatch):
    from explorer.cli import definitions

    def broken(args):
        raise KeyError("oops\nsecond line")

    monkeypatch.setattr(definitions, "run_schema", broken)
    code, out, err = run(capsys, ["schema"])
    assert code == EXIT_INTERNAL and out == "" and len(err.splitlines()) == 1
    assert "internal error (KeyError" in err and "--debug" in err


def test_console_script_has_no_traceback_on_error():
    result = subprocess.run([sys.executable, "-m", "explorer.cli", "show", "missing.yaml"],
                            capture_output=True, text=True)
    assert result.returncode == EXIT_INPUT and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr and "missing.yaml" in result.stderr


def test_library_warnings_never_break_the_one_line(capsys, monkeypatch):
    import warnings

    from explorer.cli import definitions

    def noisy(args, fail: bool):
        warnings.warn("overflow encountered in multiply\n  (twice)", RuntimeWarning, stacklevel=1)
        warnings.warn("overflow encountered in multiply\n  (twice)", RuntimeWarning, stacklevel=1)
        if fail:
            raise ExpressionError("no such variable 'x'", expression="x > 1", position=0, criterion="I1")
        print("done")

    monkeypatch.setattr(definitions, "run_schema", lambda args: noisy(args, fail=True))
    code, out, err = run(capsys, ["schema"])
    assert code == EXIT_INPUT and err.startswith("error: ") and len(err.splitlines()) == 1

    monkeypatch.setattr(definitions, "run_schema", lambda args: noisy(args, fail=False))
    code, out, err = run(capsys, ["schema"])
    assert code == 0 and out == "done\n"
    assert err == "warning: overflow encountered in multiply (twice)\n"  # shown once, on one line
