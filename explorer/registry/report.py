"""The import report as text: a table for the terminal, markdown for review notes, JSON and CSV for tools."""

from __future__ import annotations

import csv
import io
import json

from explorer.registry.build import ImportReport


def _short(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 3] + "..."


def report_rows(report: ImportReport) -> list[dict]:
    rows = []
    for c in report.criteria:
        rows.append({
            "id": c.id, "kind": c.kind, "status": c.status, "confidence": round(c.confidence, 2),
            "expression": c.expression or (f"(candidate) {c.candidate}" if c.candidate else ""),
            "thresholds": "; ".join(f"{t.variable} {t.comparator} {t.value:g} {t.unit or ''}".rstrip()
                                    + (f" (text: {t.source_value:g} {t.source_unit})"
                                       if t.source_unit and t.source_unit != t.unit else "")
                                    for r in c.rules for t in r.thresholds),
            "notes": " | ".join(c.notes), "text": " ".join(c.text.split()),
        })
    return rows


def render_report(report: ImportReport, fmt: str = "table", *, width: int = 60) -> str:
    """fmt: table | markdown | json | csv."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    rows = report_rows(report)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    summary = report.summary()
    age = report.age
    head = (f"{report.trial_id} ({report.source_format}): {summary['criteria_found']} criteria from the text, "
            f"{summary['computable']} computable; {summary['structured_criteria']} from structured fields. "
            f"Age limits: fields {age.structured_min}-{age.structured_max}, text {age.text_min}-{age.text_max}, "
            f"match: {age.matches}")
    warnings = [f"warning: {w}" for w in report.warnings]
    if fmt == "markdown":
        lines = [f"**{head}**", ""] + [f"- {w}" for w in warnings] + ([""] if warnings else [])
        lines += ["| id | kind | status | conf. | expression | text | notes |", "|---|---|---|---|---|---|---|"]
        for r in rows:
            cells = [r["id"], r["kind"], r["status"], f"{r['confidence']:.2f}", f"`{r['expression']}`"
                     if r["expression"] else "", _short(r["text"], 90),
                     _short(r["notes"], 240) if r["status"] != "structured" else ""]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines) + "\n"
    lines = [head] + warnings
    for r in rows:
        lines.append(f"{r['id']:<5} {r['kind'][:3]:<4} {r['status']:<10} {r['confidence']:.2f}  "
                     f"{_short(r['text'], width)}")
        if r["expression"]:
            lines.append(f"      -> {r['expression']}")
        if r["thresholds"]:
            lines.append(f"         {r['thresholds']}")
        if r["notes"] and r["status"] not in {"structured"}:
            lines.append(f"         note: {_short(r['notes'], 160)}")
    return "\n".join(lines) + "\n"
