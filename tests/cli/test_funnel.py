"""`trial-explorer funnel` (explorer.cli.funnel): table, CSV and JSON output, engines, errors."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from explorer.cli.entry import main
from explorer.cohort.synthetic import generate_screening
from explorer.engine import evaluate, final_counts, write_screening
from explorer.trial import load_trial


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["funnel", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("screening")
    write_screening(generate_screening("t1d", 600, seed=8), path)
    return path


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_table_output_on_a_screening_folder(capsys, folder, engine):
    code, out, err = run(capsys, "NCT06196996", "--data", folder, "--engine", engine)
    assert code == 0, err
    expected = final_counts(evaluate(load_trial("NCT06196996"), folder, engine="duckdb"))
    assert "Funnel" in out and "Per-criterion impact" in out
    assert f"Final: {expected['eligible']} eligible, {expected['possibly_eligible']} possibly eligible" in out
    assert "E14" in out and f"screening folder {folder} | engine {engine} | 600 subjects screened" in out


def test_json_and_csv_agree(capsys, folder):
    _, as_json, _ = run(capsys, "NCT01142050", "--data", folder, "--format", "json")
    data = json.loads(as_json)
    assert data["trial"] == "NCT01142050" and data["subjects"] == 600
    assert [row["criterion"] for row in data["funnel"]][0] is None
    assert data["final"]["remaining"] == data["funnel"][-1]["remaining"]
    _, as_csv, _ = run(capsys, "NCT01142050", "--data", folder, "--format", "csv")
    frame = pd.read_csv(io.StringIO(as_csv))
    assert frame["remaining"].tolist() == [row["remaining"] for row in data["funnel"]]
    assert frame["excluded_alone"].dropna().astype(int).tolist() == [row["excluded_alone"] for row in data["impact"]]


def test_small_cells_are_hidden(capsys, folder):
    _, out, _ = run(capsys, "NCT06196996", "--data", folder, "--format", "json", "--min-cell", 11)
    data = json.loads(out)
    counts = [v for row in data["funnel"] + data["impact"] for k, v in row.items()
              if k in ("eligible", "excluded", "failing", "excluded_alone") and v is not None]
    assert all(v == 0 or v >= 11 for v in counts)
    assert data["min_cell"] == 11
    _, table, _ = run(capsys, "NCT06196996", "--data", folder, "--min-cell", 11)
    assert "<11" in table and "counts below 11 are hidden" in table


def test_synthetic_cohort_is_the_trials_population(capsys):
    code, out, err = run(capsys, "NCT01142050", "--synthetic", 300, "--seed", 2, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["source"] == "synthetic t2d n=300 seed=2"
    code, out, err = run(capsys, "NCT06196996", "--synthetic", 300, "--format", "json")
    assert code == 0 and json.loads(out)["source"] == "synthetic t1d n=300 seed=0"
    code, out, err = run(capsys, "NCT06196996", "--synthetic", 300, "--population", "t2d", "--format", "json")
    assert code == 0 and json.loads(out)["source"] == "synthetic t2d n=300 seed=0"


def test_real_data_report_goes_to_stderr_after_success(capsys, tmp_path):
    from explorer.cohort.synthetic import generate_cohort, write_cohort

    write_cohort(generate_cohort("t2d", 50, seed=3), tmp_path / "cohort", format="csv")
    code, out, err = run(capsys, "NCT01142050", "--data", tmp_path / "cohort", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["source"] == f"{tmp_path / 'cohort'} (canonical)"
    assert err.startswith("canonical load of") and "subjects.csv: read 50" in err


def test_errors_become_one_line_and_exit_code_2(capsys, folder, tmp_path):
    code, out, err = run(capsys, "NCT00000000", "--data", folder)
    assert code == 2 and out == "" and err.startswith("error: ") and len(err.splitlines()) == 1
    code, _, err = run(capsys, "NCT06196996", "--data", folder, "--synthetic", 10)
    assert code == 2 and "not allowed with argument" in err and len(err.splitlines()) == 1
    code, _, err = run(capsys, "NCT06196996", "--data", folder, "--format", "xml")
    assert code == 2 and "--format" in err and len(err.splitlines()) == 1
    code, _, err = run(capsys, "NCT06196996", "--data", tmp_path / "missing")
    assert code == 2 and "no such file or folder" in err and len(err.splitlines()) == 1


def test_spark_master_needs_the_spark_engine(capsys, folder):
    code, out, err = run(capsys, "NCT06196996", "--data", folder, "--spark-master", "local[2]")
    assert code == 2 and out == "" and "--spark-master applies to --engine spark only" in err


def test_spark_master_reaches_the_engine(capsys, folder, monkeypatch):
    import explorer.cli.funnel as command
    from explorer.cli import options

    seen = {}

    def fake_evaluate(trial, screening, engine, **engine_options):
        seen.update(engine=engine, screening=screening, **engine_options)
        return evaluate(trial, screening, engine="duckdb")

    monkeypatch.setattr(options, "ENGINES", (*options.ENGINES, "spark"))
    monkeypatch.setattr(command, "evaluate", fake_evaluate)
    # the parser takes its --engine choices from ENGINES when it is built, i.e. on each main()
    code, _, err = run(capsys, "NCT06196996", "--data", folder, "--engine", "spark", "--spark-master", "sc://h:15002")
    assert code == 0, err
    assert seen == {"engine": "spark", "master": "sc://h:15002", "screening": folder}  # the folder, read in place
