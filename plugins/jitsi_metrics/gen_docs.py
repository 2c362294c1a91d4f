"""Writes the generated files: docs/metrics.md (every metric, with its source(s)) and the shipped JSON schemas.

    python -m jitsi_metrics.gen_docs [REPO_ROOT]

Tests regenerate both in memory and fail when the committed copies differ.
"""
from __future__ import annotations

import os
import sys
from typing import Dict, List

from .catalogue import ARRAY, BOOL, COLIBRI_METRICS, IGNORE, META_METRICS, STRING, Metric
from .check import MAX_KEY, MAX_TEXT
from .gen_docs_sources import generated_source_files, metric_sources, render_sources_metrics_section
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
        "A bridge read through its `/metrics` gives the same names (the sources column; see",
        "[sources.md](sources.md)); Jicofo gives `jitsi_jicofo_*` names only, never a bridge's.",
        "`jitsi_up` and `jitsi_scrape_duration_seconds` are given for every target, bridge or",
        "Jicofo, so one alert on `jitsi_up == 0` covers both (the `bridge` label, or the",
        "Prometheus `instance`, tells them apart).",
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
        "| key | metric | type | unit | sources | JVB versions | help |",
        "|---|---|---|---|---|---|---|",
    ]
    for metric in COLIBRI_METRICS:
        if metric.kind == IGNORE:
            continue
        lines.append(
            f"| `{metric.key}` | {_shape(metric)} | {metric.type} | {_cell(metric.unit or '–')} | "
            f"{_cell(metric_sources(metric.key))} | {_cell(metric.versions)} | {_cell(metric.help)} |"
        )
    ignored = [m for m in COLIBRI_METRICS if m.kind == IGNORE]
    lines += ["", "## Known keys not exported", ""]
    lines += [f"- `{m.key}`: {m.help}." for m in ignored]
    lines += [
        "",
        "## Fields that are skipped, and names that are kept",
        "",
        "Each skipped field costs that field only, with one warning naming the bridge and the key.",
        "",
        "- A known key of the wrong JSON type (the JSON schema has the last word).",
        f"- A string (version, region, release, relay_id) longer than {MAX_TEXT} characters, or holding a",
        "  lone UTF-16 surrogate (not Unicode, so not writable as UTF-8).",
        "- An integer beyond float64 range (±1.8e308), known key or unknown: no format can carry it.",
        "  NaN and ±Infinity (Jackson's strings or bare tokens) are kept; line protocol leaves them out.",
        f"- An unknown key that is empty or longer than {MAX_KEY} characters.",
        "- An unknown key whose `jitsi_<key>` name belongs to this package (`jitsi_up`,",
        "  `jitsi_scrape_duration_seconds`, any catalogue metric such as `jitsi_version_info`, sent or",
        "  not). Unknown keys that give one name (`a b`, `a-b`, `a_b`) keep one: the key that is its own",
        "  name, else the smallest; the others are skipped with a warning naming both keys.",
        "",
        "In line protocol, a control character (newline, CR, tab …), a lone surrogate or a trailing",
        "backslash in a tag value becomes U+FFFD, so that a line is never split or its separator",
        "escaped; no string field is ever written. In the Prometheus text, label values escape `\\`,",
        "`\"` and newlines, and a lone surrogate becomes U+FFFD.",
        "",
        "Versions: JVB 1.x build numbers (785, 1000, …) and 2.x `stable/jitsi-meet_NNNN` tags",
        "(`stable-NNNN`); HEAD is the newest JVB source (2026-08).",
        "",
    ]
    return "\n".join(lines) + render_sources_metrics_section()


def generated_files() -> Dict[str, str]:
    """Every generated file: docs/metrics.md and the JSON schemas (/colibri/stats, Jicofo /stats)."""
    files = {METRICS_DOC: render_metrics_doc(), SCHEMA_PATH: render_schema(build_schema())}
    files.update(generated_source_files())
    return files


def main(argv: List[str]) -> int:
    root = argv[1] if len(argv) > 1 else "."
    for path, text in generated_files().items():
        with open(os.path.join(root, path), "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
