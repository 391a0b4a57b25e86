"""Text tables must be UTF-8 (explorer/cohort/loaders/readers.py): the line and byte named, every engine alike.

A spreadsheet saved in a Windows code page or as "Unicode Text" (UTF-16) is refused with where and how to
save it again, before any engine reads it: pandas stopped with a raw codec error, DuckDB with a page quoting
the file, and Spark read the bytes as U+FFFD without a word.
"""

from __future__ import annotations

import codecs
import shutil
from pathlib import Path

import pytest

from explorer.cohort.loaders import load_canonical
from explorer.cohort.loaders.readers import check_format, read_table, read_text_bytes, utf8_problem
from explorer.cohort.synthetic import generate_screening
from explorer.engine.canonical_sql import canonical_screening_sql
from explorer.engine.histogram import evaluate_histogram
from explorer.engine.layout import write_screening
from explorer.errors import DataError
from explorer.trial import load_trial

LATIN = "subject_id,unit\nA1,mmol/L\nA2,\u00b5mol/L\n"


def test_valid_utf8_split_anywhere_between_chunks_is_text():
    data = "id,unit\nA1,\u00b5mol/L\nA2,M\u00e4nnlich \u2265 \U0001f600\n".encode()
    assert utf8_problem([data]) is None
    assert utf8_problem([codecs.BOM_UTF8 + data]) is None  # Excel's "CSV UTF-8" starts with a BOM
    for cut in range(1, len(data)):
        assert utf8_problem([data[:cut], data[cut:]]) is None, cut


def test_the_first_byte_that_is_not_utf8_is_named_with_its_line():
    data = LATIN.encode("cp1252")
    problem = utf8_problem([data[:12], data[12:]])
    assert problem.startswith("line 3 is not UTF-8 text (byte B5, which Windows-1252 reads as '\u00b5')")
    assert "CSV UTF-8" in problem


def test_text_cut_inside_a_character():
    problem = utf8_problem(["id\nA1,\u00b5".encode()[:-1]])
    assert problem.startswith("the text ends inside a character (line 2")


def test_a_csv_in_a_code_page_is_refused_naming_the_file_and_line(tmp_path):
    path = tmp_path / "measurements.csv"
    path.write_bytes(LATIN.encode("latin-1"))
    with pytest.raises(DataError, match="line 3 is not UTF-8 text") as err:
        read_table(path)
    assert str(path) in str(err.value)
    with pytest.raises(DataError, match="line 3 is not UTF-8 text"):
        read_text_bytes(LATIN.encode("latin-1"), name="member.csv")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_text_is_refused_as_such(tmp_path, encoding):
    path = tmp_path / "subjects.csv"
    path.write_bytes(LATIN.encode(encoding) if encoding != "utf-16-be" else codecs.BOM_UTF16_BE
                     + LATIN.encode(encoding))
    with pytest.raises(DataError, match="is UTF-16 or UTF-32 text .*save it as 'CSV UTF-8'"):
        check_format(path)


def test_a_utf8_csv_passes(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(LATIN, encoding="utf-8-sig")
    assert check_format(path) == "text"
    assert list(read_table(path)["unit"]) == ["mmol/L", "\u00b5mol/L"]


def test_canonical_tables_in_a_code_page_are_refused_alike_by_the_loader_and_in_place(fixtures_dir, tmp_path):
    folder = tmp_path / "canonical"
    shutil.copytree(fixtures_dir / "cohort" / "canonical", folder)
    measurements = folder / "measurements.csv"
    text = measurements.read_text(encoding="utf-8")
    measurements.write_bytes(text.replace("mmol/mol", "\u00b5mol/mol", 1).encode("latin-1"))
    line = text[:text.index("mmol/mol")].count("\n") + 1
    messages = []
    for read in (lambda: load_canonical(folder), lambda: canonical_screening_sql(folder)):
        with pytest.raises(DataError) as err:
            read()
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert f"line {line} is not UTF-8 text (byte B5" in messages[0] and str(measurements) in messages[0]


def screening_folder_in_a_code_page(tmp_path: Path) -> Path:
    folder = write_screening(generate_screening("t1d", 30, seed=3), tmp_path / "screening", format="csv")
    features = folder / "features.csv"
    lines = features.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[4] = lines[4].replace(",", "\u00e9,", 1)  # an accented subject id, saved in Latin-1
    features.write_bytes("".join(lines).encode("latin-1"))
    return folder


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_a_screening_csv_in_a_code_page_is_refused_by_every_engine(tmp_path, engine):
    folder = screening_folder_in_a_code_page(tmp_path)
    with pytest.raises(DataError, match=r"features\.csv: line 5 is not UTF-8 text \(byte E9, which Windows-1252 "
                                        r"reads as '\u00e9'\)"):
        evaluate_histogram(load_trial("NCT06196996"), folder, engine)


def test_spark_refuses_a_screening_csv_in_a_code_page(spark, tmp_path):
    from explorer.engine.spark import SparkBackend
    folder = screening_folder_in_a_code_page(tmp_path)
    with pytest.raises(DataError, match=r"features\.csv: line 5 is not UTF-8 text \(byte E9"):
        SparkBackend(folder, spark=spark)
