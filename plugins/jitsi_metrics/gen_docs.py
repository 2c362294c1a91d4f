"""Writes the generated files: docs/metrics.md and the shipped JSON schema.

    python -m jitsi_metrics.gen_docs [REPO_ROOT]

Tests regenerate both in memory and fail when the committed copies differ.
"""
from __future__ import annotations

import os
import sys
from typing import Dict, List

from .catalogue import ARRAY, BOOL, COLIBRI_METRICS, IGNORE, META_METRICS, STRING, Metric
from .schema import SCHEMA_FILE, build_schema, render_schema

METRICS_DOC = os.path.join("docs", "metrics.md")
SCHEMA_PATH = os.path.join("plugins", "jitsi_metrics", "schema", SCHEMA_FILE)


def _shape(metric: Metric) -> str:
    if metric.kind == STRING:
        return f'`{metric.name}{{{metric.label}="…"}} 1`'
    if metric.kind == ARRAY:
        return f'`{metric.name}{{{metric.label}="<index>"}}`'
    if metric.kind == BOOL:
        return f"`{metric.name}` (0/1)"
    return f"`{metric.name}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_metrics_doc() -> str:
    lines: List[str] = [
        "# Metrics",
        "",
        "Generated from `plugins/jitsi_metrics/catalogue.py` by `python -m jitsi_metrics.gen_docs`;",
        "do not edit by hand (a test fails when this file is stale).",
        "",
        "Every numeric key of `/colibri/stats` becomes `jitsi_<key>` with the value the bridge sent,",
        "in the bridge's own unit. A key the bridge does not send gives no sample (never a 0).",
        "Booleans are 0/1 gauges; strings become `_info` metrics with the value as a label.",
        "A numeric key not listed here (a newer JVB) is exported as untyped `jitsi_<key>`.",
        "With several bridges, or a bridge given a name, every sample carries a `bridge` label.",
        "",
        "## Per bridge and poll",
        "",
        "| metric | type | unit | help |",
        "|---|---|---|---|",
    ]
    for metric in META_METRICS:
        lines.append(f"| `{metric.name}` | {metric.type} | {metric.unit} | {_cell(metric.help)} |")
    lines += [
        "",
        "## From /colibri/stats",
        "",
        "| key | metric | type | unit | JVB versions | help |",
        "|---|---|---|---|---|---|",
    ]
    for metric in COLIBRI_METRICS:
        if metric.kind == IGNORE:
            continue
        lines.append(
            f"| `{metric.key}` | {_shape(metric)} | {metric.type} | {_cell(metric.unit or '–')} | "
            f"{_cell(metric.versions)} | {_cell(metric.help)} |"
        )
    ignored = [m for m in COLIBRI_METRICS if m.kind == IGNORE]
    lines += ["", "## Known keys not exported", ""]
    lines += [f"- `{m.key}`: {m.help}." for m in ignored]
    lines += [
        "",
        "Versions: JVB 1.x build numbers (785, 1000, …) and 2.x `stable/jitsi-meet_NNNN` tags",
        "(`stable-NNNN`); HEAD is the newest JVB source (2026-08).",
        "",
    ]
    return "\n".join(lines)


def generated_files() -> Dict[str, str]:
    return {METRICS_DOC: render_metrics_doc(), SCHEMA_PATH: render_schema(build_schema())}


def main(argv: List[str]) -> int:
    root = argv[1] if len(argv) > 1 else "."
    for path, text in generated_files().items():
        with open(os.path.join(root, path), "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
