"""Samples -> Prometheus text exposition format 0.0.4. Pure.

Families are written in the order their first sample appears, each with one HELP and
one TYPE line before its samples, so samples of several bridges interleave correctly.
"""
from __future__ import annotations

import math
from typing import Dict, Iterable, List

from ..samples import Number, Sample

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_help(text: str) -> str:
    if "\\" not in text and "\n" not in text:
        return text
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_label_value(value: str) -> str:
    if "\\" not in value and '"' not in value and "\n" not in value:
        return value
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: Number) -> str:
    if type(value) is int:
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    # repr keeps every digit the bridge sent and round-trips through Go's ParseFloat.
    return repr(value)


def _sample_line(sample: Sample) -> str:
    if sample.labels:
        labels = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in sample.labels)
        return f"{sample.name}{{{labels}}} {format_value(sample.value)}"
    return f"{sample.name} {format_value(sample.value)}"


def render_prometheus(samples: Iterable[Sample]) -> str:
    """Text format 0.0.4 ending with a newline; "" for no samples."""
    families: Dict[str, List[Sample]] = {}
    for sample in samples:
        family = families.get(sample.name)
        if family is None:
            families[sample.name] = [sample]
        else:
            family.append(sample)
    lines: List[str] = []
    for name, members in families.items():
        first = members[0]
        if first.help:
            lines.append(f"# HELP {name} {escape_help(first.help)}")
        lines.append(f"# TYPE {name} {first.type}")
        lines.extend(_sample_line(s) for s in members)
    if not lines:
        return ""
    lines.append("")
    return "\n".join(lines)
