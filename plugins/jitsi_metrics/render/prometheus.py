"""Families -> Prometheus text exposition format 0.0.4. Pure.

Each family is written as given: its ``# HELP`` and ``# TYPE`` lines, then its samples.
Output is always valid UTF-8: a lone UTF-16 surrogate in a label value becomes U+FFFD.
"""
from __future__ import annotations

import math
import re
from typing import Iterable, List, Optional

from ..samples import Family, Labels, Number
from . import one_of_each_name

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_help(text: str) -> str:
    if "\\" not in text and "\n" not in text:
        return text
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_label_value(value: str) -> str:
    if not value.isascii():
        value = _SURROGATE.sub("\ufffd", value)
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


def _label_set(labels: Labels) -> str:
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in one_of_each_name(labels)) + "}"


def render_prometheus(families: Iterable[Family], timestamp_ms: Optional[int] = None, headers: bool = True) -> str:
    """Text format 0.0.4 ending with a newline; "" for no families.

    ``timestamp_ms`` puts that timestamp (milliseconds since the epoch) on every sample
    line; ``headers=False`` leaves out the ``# HELP`` and ``# TYPE`` lines. A histogram
    family gets one header under its own name, then its ``_bucket``/``_sum``/``_count`` lines.
    """
    suffix = "" if timestamp_ms is None else f" {timestamp_ms}"
    lines: List[str] = []
    for family in families:
        name = family.name
        if headers and family.help:
            lines.append(f"# HELP {name} {escape_help(family.help)}\n# TYPE {name} {family.type}")
        elif headers:
            lines.append(f"# TYPE {name} {family.type}")
        for sample in family.samples:
            labels = sample.labels
            full = name + sample.suffix if sample.suffix else name
            if labels:
                lines.append(f"{full}{_label_set(labels)} {format_value(sample.value)}{suffix}")
            else:
                lines.append(f"{full} {format_value(sample.value)}{suffix}")
    if not lines:
        return ""
    lines.append("")
    return "\n".join(lines)
