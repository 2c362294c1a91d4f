"""Samples -> Prometheus text exposition format 0.0.4. Pure.

Families are written in the order their first sample appears, each with one HELP and
one TYPE line before its samples, so samples of several bridges interleave correctly.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Dict, Iterable, List

from ..samples import Labels, Number, Sample

HISTOGRAM = "histogram"
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

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


def _labelled_line(name: str, labels: Labels, value_text: str) -> str:
    pairs = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels)
    return f"{name}{{{pairs}}} {value_text}"


@lru_cache(maxsize=4096)
def _header(name: str, help_text: str, mtype: str) -> str:
    # Memoised: the same families come back on every poll, and building their
    # header costs more than their samples.
    if help_text:
        return f"# HELP {name} {escape_help(help_text)}\n# TYPE {name} {mtype}"
    return f"# TYPE {name} {mtype}"


@lru_cache(maxsize=4096)
def _header_and_name(name: str, help_text: str, mtype: str) -> str:
    return f"{_header(name, help_text, mtype)}\n{name} "


def _histogram_family(name: str) -> str:
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _grouped(samples: Iterable[Sample]) -> List[Sample]:
    """Samples reordered so each family is contiguous, families in first-seen order."""
    families: Dict[str, List[Sample]] = {}
    for sample in samples:
        family = families.get(sample.name)
        if family is None:
            families[sample.name] = [sample]
        else:
            family.append(sample)
    return [s for members in families.values() for s in members]


def render_prometheus(samples: Iterable[Sample]) -> str:
    """Text format 0.0.4 ending with a newline; "" for no samples.

    Samples of one family may come from several bridges, interleaved with other
    families; they are grouped so that each family has one HELP and TYPE block.
    """
    ordered = samples if isinstance(samples, list) else list(samples)
    lines: List[str] = []
    append = lines.append
    seen = set()
    current = None
    for name, value, labels, mtype, help_text, _ in ordered:
        value_text = str(value) if type(value) is int else format_value(value)
        if name != current:
            if name in seen:
                return render_prometheus(_grouped(ordered))
            seen.add(name)
            current = name
            if mtype == HISTOGRAM:
                # _bucket, _sum and _count samples share one header, under the family's name.
                family = _histogram_family(name)
                if family not in seen:
                    seen.add(family)
                    append(_header(family, help_text, mtype))
            elif not labels:
                # The common case, one unlabelled sample: header and name in one piece.
                append(_header_and_name(name, help_text, mtype) + value_text)
                continue
            else:
                append(_header(name, help_text, mtype))
        if labels:
            append(_labelled_line(name, labels, value_text))
        else:
            append(f"{name} {value_text}")
    if not lines:
        return ""
    append("")
    return "\n".join(lines)
