"""Compare every CGM metric of explorer.clinical with iglu-python on the real traces in ../shared/data/cgm.

Prints, per trace file and metric, the largest absolute difference over subjects between our value and
iglu-python's (NaN on both sides counts as agreement; NaN on one side is reported as "nan mismatch").
The output goes into docs/outcomes.md ("Agreement with iglu").

    .venv/bin/python scripts/compare_cgm_iglu.py                 # both trace files (about a minute)
    .venv/bin/python scripts/compare_cgm_iglu.py --files example_data_5_subject.csv
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

from explorer.clinical.cgm import cgm_metrics  # noqa: E402
from explorer.clinical.cgm_episodes import glycaemic_episodes  # noqa: E402
from explorer.clinical.glycaemic_variability import variability_metrics  # noqa: E402

TRACES = {
    "example_data_5_subject.csv": ROOT.parent / "shared/data/cgm/iglu_r_package/example_data_5_subject.csv",
    "example_data_1_subject.csv": ROOT.parent / "shared/data/cgm/iglu_r_package/example_data_1_subject.csv",
    "shanghai_cgm_long.csv": ROOT.parent / "shared/data/cgm/shanghai_t1dm_t2dm/shanghai_cgm_long.csv",
}


def read_trace(path: Path) -> pd.DataFrame:
    data = pd.read_csv(path, usecols=["id", "time", "gl"])
    data["time"] = pd.to_datetime(data["time"])
    data["id"] = data["id"].astype(str)
    return data.dropna(subset=["gl"]).sort_values(["id", "time"], kind="stable").reset_index(drop=True)


def ours(data: pd.DataFrame) -> pd.DataFrame:
    cgm = data.rename(columns={"id": "subject_id", "gl": "glucose"})
    frames = [variability_metrics(cgm), glycaemic_episodes(cgm), cgm_metrics(cgm)[["subject_id", "cgm_mean"]]]
    merged = frames[0]
    for frame in frames[1:]:
        merged = merged.merge(frame, on="subject_id")
    return merged.set_index("subject_id")


def iglu_values(data: pd.DataFrame) -> pd.DataFrame:
    import iglu_python as iglu

    def column(result: pd.DataFrame, name: str) -> pd.Series:
        return result.set_index("id")[name].astype(float)

    out = pd.DataFrame({
        "lbgi": column(iglu.lbgi(data.copy()), "LBGI"),
        "hbgi": column(iglu.hbgi(data.copy()), "HBGI"),
        "adrr": column(iglu.adrr(data.copy()), "ADRR"),
        "grade": column(iglu.grade(data.copy()), "GRADE"),
        "j_index": column(iglu.j_index(data.copy()), "J_index"),
        "gri": column(iglu.gri(data.copy()), "GRI"),
        "modd": column(iglu.modd(data.copy()), "MODD"),
        "conga": column(iglu.conga(data.copy(), n=1), "CONGA"),
        "mag": column(iglu.mag(data.copy()), "MAG"),
        "mage": column(iglu.mage(data.copy()), "MAGE"),
    })
    with contextlib.redirect_stdout(io.StringIO()):  # iglu prints warnings about durations
        episodes = iglu.episode_calculation(data.copy())
    for name, kind, level in (("hypo_54", "hypo", "lv2"), ("hypo_70", "hypo", "lv1"),
                              ("hyper_250", "hyper", "lv2")):
        rows = episodes[(episodes["type"] == kind) & (episodes["level"] == level)].set_index("id")
        out[f"{name}_episodes"] = rows["total_episodes"].astype(float)
        out[f"{name}_per_week"] = rows["avg_ep_per_day"].astype(float) * 7
    return out


def compare(ours_table: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for metric in reference.columns:
        a = ours_table[metric].reindex(reference.index).to_numpy(dtype=float)
        b = reference[metric].to_numpy(dtype=float)
        one_sided = int((np.isnan(a) != np.isnan(b)).sum())
        both = ~np.isnan(a) & ~np.isnan(b)
        rows.append({"metric": metric, "subjects": len(b), "compared": int(both.sum()),
                     "max_abs_difference": float(np.max(np.abs(a[both] - b[both]))) if both.any() else np.nan,
                     "nan_mismatch": one_sided})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", nargs="*", default=list(TRACES), choices=list(TRACES))
    args = parser.parse_args(argv)
    for name in args.files:
        path = TRACES[name]
        if not path.exists():
            print(f"{name}: not found at {path}; ../shared/data is needed", file=sys.stderr)
            return 1
        data = read_trace(path)
        table = compare(ours(data), iglu_values(data))
        print(f"\n{name}: {data['id'].nunique()} subjects, {len(data):,} readings")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
