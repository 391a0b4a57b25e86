"""CDISC SDTM loader: DM, LB, VS, MH as CSV and as SAS transport (XPT) files; lab ULNs from LBSTNRHI."""

from __future__ import annotations

import math
import shutil
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.features import screening_features
from explorer.cohort.loaders import load, load_sdtm
from explorer.errors import DataError


@pytest.fixture
def sdtm(fixtures_dir, tmp_path) -> Path:
    target = tmp_path / "sdtm"
    shutil.copytree(fixtures_dir / "cohort" / "sdtm", target)
    return target


def test_sdtm_fixture(sdtm):
    cohort, report = load_sdtm(sdtm)
    s = cohort.subjects.set_index("subject_id")
    assert s.loc["D-001", "index_date"] == pd.Timestamp("2020-01-20")  # RFICDTC
    assert s.loc["D-002", "index_date"] == pd.Timestamp("2020-01-22")  # DMDTC when RFICDTC is blank
    assert s.loc["D-002", "birth_date"] == pd.Timestamp("1955-07-01")  # partial date, imputed mid-year
    assert s.loc["D-001", "diabetes_type"] == "T2D" and s.loc["D-001", "diagnosis_date"] == pd.Timestamp("2010-06-15")
    assert pd.isna(s.loc["D-002", "diabetes_type"])  # "diabetes mellitus" without a type
    assert pd.isna(s.loc["D-003", "diabetes_type"])  # no record: unknown unless mh_complete
    m = cohort.measurements.set_index(["subject_id", "variable"])
    assert m.loc[("D-001", "hba1c"), "value"] == pytest.approx(8.2)  # 0.082 in unit "1"
    assert m.loc[("D-001", "hba1c"), "ref_high"] == pytest.approx(11.2)
    assert m.loc[("D-001", "fasting_glucose"), "value"] == 7.2  # LBFAST = Y
    assert m.loc[("D-002", "random_glucose"), "value"] == 6.1  # fasting not stated
    assert m.loc[("D-002", "fasting_insulin"), "value"] == pytest.approx(12.0)  # 72 pmol/L
    assert m.loc[("D-002", "bilirubin"), "value"] == pytest.approx(1.71)  # "<3.42" -> half the limit
    assert report.tables["lb.csv"].rejected == {"test not mapped to a catalogue variable": 1,
                                                "no result (LBSTRESN/LBSTRESC blank)": 1}
    assert report.unmapped["lb.csv LBTESTCD"] == {"ALB": 1}
    assert report.balanced()
    f = screening_features(cohort).features
    assert f.loc["D-001", "alt"] / f.loc["D-001", "alt_uln"] == pytest.approx(80 / 34)
    assert f.loc["D-001", "bmi"] == pytest.approx(69.9 / 1.651 ** 2)


def test_sdtm_mh_complete_means_none(sdtm):
    s = load_sdtm(sdtm, mh_complete=True).cohort.subjects.set_index("subject_id")
    assert s.loc["D-003", "diabetes_type"] == "none" and pd.isna(s.loc["D-002", "diabetes_type"])


def test_sdtm_contradictory_diabetes_types(sdtm):
    with open(sdtm / "mh.csv", "a") as handle:
        handle.write("DEMO01,MH,D-001,3,T1D,TYPE 1 DIABETES MELLITUS,SIGNIFICANT PRE-EXISTING CONDITION,2010\n")
    with pytest.raises(DataError, match="contradictory diabetes types") as err:
        load_sdtm(sdtm)
    assert "mh.csv" in str(err.value) and "'MHDECOD'" in str(err.value) and "rows 2, 5" in str(err.value)


def test_sdtm_needs_dm(sdtm):
    (sdtm / "dm.csv").unlink()
    with pytest.raises(DataError, match="no DM domain"):
        load_sdtm(sdtm)


def test_sdtm_lab_unit_error_names_row(sdtm):
    text = (sdtm / "lb.csv").read_text().replace("80,80,U/L,6,34", "80,80,IU/mL,6,34")
    (sdtm / "lb.csv").write_text(text)
    with pytest.raises(DataError, match="'alt' is in U/L; cannot convert from 'IU/mL'|unknown unit 'IU/mL'") as err:
        load_sdtm(sdtm)
    assert "lb.csv" in str(err.value) and "rows 2" in str(err.value)


def test_sdtm_age_unit(sdtm):
    text = (sdtm / "dm.csv").read_text().replace(",30,YEARS,M", ",30,DECADES,M")
    (sdtm / "dm.csv").write_text(text)
    with pytest.raises(DataError, match="unknown age unit 'DECADES'") as err:
        load_sdtm(sdtm)
    assert "'AGEU'" in str(err.value) and "rows 4" in str(err.value)


# --- SAS transport (XPT) ------------------------------------------------------------------------------

def _ibm_double(value: float | None) -> bytes:
    """An IBM System/360 double, as SAS XPORT v5 stores numbers (missing = '.' then zeros)."""
    if value is None or math.isnan(value):
        return b"." + b"\x00" * 7
    if value == 0:
        return b"\x00" * 8
    sign, value = (0x80 if value < 0 else 0), abs(value)
    exponent = math.floor(math.log(value, 16)) + 1
    fraction = value / 16.0 ** exponent
    if fraction >= 1:
        fraction, exponent = fraction / 16, exponent + 1
    mantissa = int(round(fraction * 2 ** 56))
    if mantissa >= 2 ** 56:
        mantissa, exponent = mantissa >> 4, exponent + 1
    return bytes([sign | (exponent + 64)]) + mantissa.to_bytes(7, "big")


def write_xpt(path: Path, frame: pd.DataFrame, name: str) -> None:
    """A minimal SAS XPORT v5 file (the SDTM submission format), enough for pandas.read_sas to read."""
    def record(content) -> bytes:
        data = content.encode("latin-1") if isinstance(content, str) else content
        return data.ljust(80, b" ")

    stamp = b"01JAN24:00:00:00"
    parts = [record("HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!000000000000000000000000000000"),
             record(b"SAS     SAS     SASLIB  9.4     X64_7PRO" + b" " * 24 + stamp), record(stamp),
             record("HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!000000000000000001600000000140"),
             record("HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!000000000000000000000000000000"),
             record(b"SAS     " + name.ljust(8).encode() + b"SASDATA 9.4     X64_7PRO" + b" " * 24 + stamp),
             record(stamp + b" " * 64),
             record(f"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!000000{len(frame.columns):04d}"
                    "00000000000000000000")]
    names, position, layout = b"", 0, []
    for number, column in enumerate(frame.columns, 1):
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        length = 8 if numeric else max(1, int(frame[column].fillna("").astype(str).str.len().max()))
        layout.append((column, numeric, length))
        names += struct.pack(">hhhh8s40s8shhh2s8shhl52s", 1 if numeric else 2, 0, length, number,
                             column.ljust(8).encode(), b" " * 40, b" " * 8, 0, 0, 0, b"  ", b" " * 8, 0, 0,
                             position, b"\x00" * 52)
        position += length
    parts.append(names + b" " * (-len(names) % 80))
    parts.append(record("HEADER RECORD*******OBS     HEADER RECORD!!!!!!!000000000000000000000000000000"))
    rows = b""
    for _, row in frame.iterrows():
        for column, numeric, length in layout:
            cell = row[column]
            if numeric:
                rows += _ibm_double(None if pd.isna(cell) else float(cell))
            else:
                rows += ("" if pd.isna(cell) else str(cell)).encode("latin-1").ljust(length, b" ")
    parts.append(rows + b" " * (-len(rows) % 80))
    path.write_bytes(b"".join(parts))


def test_sdtm_xpt_reads_like_csv(sdtm, tmp_path):
    folder = tmp_path / "xpt"
    folder.mkdir()
    for domain in ("dm", "lb", "vs", "mh"):
        frame = pd.read_csv(sdtm / f"{domain}.csv", dtype=str, keep_default_na=False)
        for column in ("AGE", "LBSTRESN", "LBSTNRLO", "LBSTNRHI", "VSSTRESN"):
            if column in frame.columns:  # SDTM numeric variables are numbers in XPT
                frame[column] = pd.to_numeric(frame[column].replace("", np.nan))
        write_xpt(folder / f"{domain}.xpt", frame, domain.upper())
    a = load(sdtm).cohort
    b = load(folder).cohort
    pd.testing.assert_frame_equal(a.subjects, b.subjects)
    pd.testing.assert_frame_equal(a.measurements.drop(columns="visit"), b.measurements.drop(columns="visit"),
                                  check_exact=False)


def test_xpt_that_is_not_xpt(sdtm):
    (sdtm / "dm.csv").rename(sdtm / "dm.xpt")
    with pytest.raises(DataError, match="promises a SAS transport .XPT. file, but the content is a text"):
        load_sdtm(sdtm)


# --- the CDISC pilot (../shared/data) -------------------------------------------------------------------

@pytest.mark.shared
def test_cdisc_pilot(shared_data):
    folder = shared_data / "subjects" / "cdisc_pilot_pharmaversesdtm"
    cohort, report = load(folder)
    assert len(cohort.subjects) == 306
    assert report.tables["lb.csv"].rows_read == 59580 and report.balanced()
    assert report.conversions["LBSTRESC (character result): below_limit"] == 6  # "<3.42" bilirubin, "<2.2204" glucose
    s = screening_features(cohort)
    f = s.features
    assert f["alt_uln"].dropna().isin([32.0, 34.0, 35.0, 43.0]).all()  # per-lab, per-sex upper limits
    ratio = f["alt"] / f["alt_uln"]  # what "ALT >= 2 x ULN" compares
    assert ratio.notna().sum() == 253 and (ratio >= 2).sum() == 1  # one subject at 2.2 x ULN
    assert (f["diabetes_type"] == "T2D").sum() == 5


@pytest.mark.shared
def test_cdisc_pilot_metabolic_domains(shared_data):
    folder = shared_data / "subjects" / "cdisc_pilot_pharmaversesdtm"
    cohort, report = load_sdtm(folder, files={"dm": "dm_metabolic.csv", "lb": "lb_metabolic.csv",
                                              "vs": "vs_metabolic.csv"})
    assert len(cohort.subjects) == 5
    assert report.conversions["unit hba1c: mmol/mol -> %"] == 31
    m = cohort.measurements
    first = m[(m["subject_id"] == "01-701-1015") & (m["variable"] == "hba1c")].sort_values("time")
    assert first["value"].iloc[0] == pytest.approx(7.9, abs=0.01)  # LBORRES 7.9 % -> 62.8 mmol/mol -> 7.9 %


def test_a_blank_lab_result_is_kept_as_measured_without_a_usable_value(sdtm):
    """D-003's ALT of 2020-01-25 has no result: it decides nothing, but ALT was measured (not "never measured")."""
    cohort, _ = load_sdtm(sdtm)
    assert cohort.unusable[["subject_id", "variable"]].astype(str).values.tolist() == [["D-003", "alt"]]
    assert str(cohort.unusable["time"].iloc[0]) == "2020-01-25 09:00:00"
    why = screening_features(cohort).missing_reasons.astype(str).set_index(["subject_id", "variable"])["reason"]
    assert why["D-003", "alt"].startswith("measured in the look-back window, but without a usable value")
