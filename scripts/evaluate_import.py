"""Measure registry import quality on any set of records.

    .venv/bin/python scripts/evaluate_import.py ../shared/data/ctgov/legacy_xml \
        --gold tests/fixtures/registry/gold_thresholds.yaml

Per record: criteria found in the text, criteria made computable, and whether the age limits read from the
text match the registry's structured fields. With a hand-labelled gold file (records: {NCT id: [{variable,
comparator, value, unit}]}), precision and recall of numeric thresholds: an extracted threshold is right when
variable, comparator, value (within 1%) and unit all match a gold one. Two levels are scored: every threshold
the importer read (also readings it judged too uncertain to make computable), and only those in computable
expressions. Writes JSON and a markdown table (default: benchmarks/results/import_quality.{json,md}).
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

from explorer.errors import ExplorerError  # noqa: E402
from explorer.registry import import_trials  # noqa: E402

SUFFIXES = {".xml", ".json", ".txt", ".md"}


def collect(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for pattern in paths:
        matches = [Path(p) for p in glob.glob(pattern)] or [Path(pattern)]
        for path in matches:
            if path.is_dir():
                files += sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
            elif path.is_file():
                files.append(path)
    return sorted(dict.fromkeys(files))


def thresholds(report, *, computable_only: bool) -> list[dict]:
    out = []
    for c in report.text_criteria:
        if computable_only and not (c.computable or c.status == "covered"):
            continue
        for rule in c.rules:
            for t in rule.thresholds:
                if t.variable.startswith("count("):
                    continue  # event counts are scored elsewhere; the gold holds levels
                out.append({"criterion": c.id, "variable": t.variable, "comparator": t.comparator,
                            "value": t.value, "unit": t.unit, "source": rule.source})
    return out


def _same(a: dict, b: dict) -> bool:
    va, vb = float(a["value"]), float(b["value"])
    return (a["variable"] == b["variable"] and a["comparator"] == b["comparator"] and str(a["unit"]) == str(b["unit"])
            and abs(va - vb) <= max(0.01 * abs(vb), 0.011))


def score(extracted: list[dict], gold: list[dict]) -> dict:
    unmatched_gold = list(gold)
    right, wrong = 0, []
    for item in extracted:
        hit = next((g for g in unmatched_gold if _same(item, g)), None)
        if hit is None:
            wrong.append(item)
        else:
            right += 1
            unmatched_gold.remove(hit)
    return {"extracted": len(extracted), "right": right, "gold": len(gold), "wrong": wrong,
            "missed": unmatched_gold}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def evaluate(files: list[Path], gold: dict | None) -> dict:
    rows, totals = [], {"read": [0, 0, 0], "computable": [0, 0, 0]}  # right, extracted, gold
    details = {}
    for path in files:
        try:
            results = import_trials(path)
        except ExplorerError as err:
            rows.append({"record": path.name, "error": str(err)})
            continue
        for trial, report in results:
            s = report.summary()
            row = {"record": trial.id, "file": path.name, "criteria_found": s["criteria_found"],
                   "computable": s["computable"], "age_fields": _limits(report.age.structured_min,
                                                                         report.age.structured_max),
                   "age_text": _limits(report.age.text_min, report.age.text_max),
                   "age_match": report.age.matches}
            if gold is not None and trial.id in gold:
                for level in ("read", "computable"):
                    result = score(thresholds(report, computable_only=level == "computable"), gold[trial.id])
                    totals[level][0] += result["right"]
                    totals[level][1] += result["extracted"]
                    totals[level][2] += result["gold"]
                    row[f"{level}_right"] = f"{result['right']}/{result['extracted']} (gold {result['gold']})"
                    details.setdefault(trial.id, {})[level] = {"wrong": result["wrong"], "missed": result["missed"]}
            rows.append(row)
    summary = {
        "records": len([r for r in rows if "error" not in r]), "errors": len([r for r in rows if "error" in r]),
        "criteria_found": sum(r.get("criteria_found", 0) for r in rows),
        "computable": sum(r.get("computable", 0) for r in rows),
        "age_checked": sum(1 for r in rows if r.get("age_match") is not None),
        "age_matched": sum(1 for r in rows if r.get("age_match") is True),
    }
    if gold is not None:
        for level, (right, extracted, gold_n) in totals.items():
            summary[f"threshold_precision_{level}"] = _ratio(right, extracted)
            summary[f"threshold_recall_{level}"] = _ratio(right, gold_n)
            summary[f"thresholds_{level}"] = {"right": right, "extracted": extracted, "gold": gold_n}
    return {"summary": summary, "records": rows, "threshold_details": details}


def _limits(low, high) -> str:
    if low is None and high is None:
        return "-"
    return f"{'' if low is None else f'{low:g}'}-{'' if high is None else f'{high:g}'}"


def markdown(result: dict) -> str:
    s = result["summary"]
    lines = ["# Registry import quality", "",
             f"{s['records']} records, {s['criteria_found']} criteria found, {s['computable']} made computable; "
             f"age limits checked on {s['age_checked']} records, matching on {s['age_matched']}.", ""]
    if "threshold_precision_read" in s:
        for level in ("read", "computable"):
            t = s[f"thresholds_{level}"]
            lines.append(f"- thresholds {level}: precision {s[f'threshold_precision_{level}']} "
                         f"({t['right']}/{t['extracted']}), recall {s[f'threshold_recall_{level}']} "
                         f"({t['right']}/{t['gold']})")
        lines.append("")
    cols = ["record", "criteria_found", "computable", "age_fields", "age_text", "age_match", "read_right",
            "computable_right"]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in result["records"]:
        if "error" in row:
            lines.append(f"| {row['record']} | error: {row['error']} |")
            continue
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="record files, folders or glob patterns")
    parser.add_argument("--gold", help="hand-labelled thresholds (YAML: records: {id: [...]})")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "import_quality.json"))
    parser.add_argument("--markdown", help="markdown table path (default: --out with .md)")
    args = parser.parse_args(argv)
    files = collect(args.paths)
    if not files:
        parser.error(f"no record files found in {args.paths}")
    gold = None
    if args.gold:
        gold = yaml.safe_load(Path(args.gold).read_text(encoding="utf-8"))["records"]
        gold = {k: v or [] for k, v in gold.items()}
    result = evaluate(files, gold)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    md = Path(args.markdown) if args.markdown else out.with_suffix(".md")
    md.write_text(markdown(result), encoding="utf-8")
    sys.stdout.write(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
