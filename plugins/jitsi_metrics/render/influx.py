"""Families -> InfluxDB line protocol. Pure.

Shape: measurement ``jitsi``; tags are the sample labels (``bridge``, ``version``,
``conference_size`` …); one field per family, named after the family without its
``jitsi_`` prefix (the payload key; ``version_info`` for the string ``version``).
Samples that share a label set share one line, and the lines of one bridge stay together:

    jitsi,bridge=meet1 conferences=3i,bit_rate_download=1284.955,healthy=1i
    jitsi,bridge=meet1,version=2.3.168-g28674f78 version_info=1i
    jitsi,bridge=meet1,conference_size=2 conference_sizes=1i
    jitsi,bridge=meet1,le=2.0 conferences_by_size_bucket=1i

A histogram (from JVB's /metrics) gives one field per part: ``<name>_bucket`` on the line
of its ``le`` tag, ``<name>_sum`` and ``<name>_count`` on the bridge's own line.

Integers carry the ``i`` suffix while they fit in int64; larger ones are written as
floats. NaN and infinities cannot be written in line protocol and are left out. No
string field is ever written.

Line protocol cannot carry some characters in a tag or a field key, whatever the
escaping: a control character (newline, CR, tab …) ends or corrupts the line, and a
backslash at the end escapes the separator after it. Those, and lone UTF-16 surrogates
(not UTF-8), become U+FFFD. A tag with an empty value is left out, as line protocol
requires; a family whose field key would be empty is left out.
"""
from __future__ import annotations

import math
import re
from typing import Dict, Iterable, List, Optional

from ..samples import Family, Labels, Number
from . import one_of_each_name

MEASUREMENT = "jitsi"
FIELD_PREFIX = "jitsi_"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_UNWRITABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]" r"|\\\Z")
_SPECIAL_IN_TAG = re.compile("[,= \x00-\x1f\x7f\ud800-\udfff]" r"|\\\Z")


def escape_measurement(text: str) -> str:
    if "," not in text and " " not in text:
        return text
    return text.replace(",", "\\,").replace(" ", "\\ ")


def escape_tag(text: str) -> str:
    """Tag keys and values, and field keys. Telegraf's parser does not turn a doubled
    backslash back into one in tags, so only commas, equals signs and spaces are escaped,
    after what line protocol cannot carry is replaced (see the module docstring)."""
    # Identifiers (every metric name, most label names) are the common case and need nothing.
    if text.isidentifier() or not _SPECIAL_IN_TAG.search(text):
        return text
    text = _UNWRITABLE.sub("\ufffd", text)
    return text.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


escape_field_key = escape_tag


def format_field_value(value: Number) -> Optional[str]:
    if type(value) is int:
        if INT64_MIN <= value <= INT64_MAX:
            return f"{value}i"
        return repr(float(value))
    if math.isnan(value) or math.isinf(value):
        return None
    return repr(value)


def field_name(family_name: str) -> str:
    return family_name[len(FIELD_PREFIX):] if family_name.startswith(FIELD_PREFIX) else family_name


def render_influx(families: Iterable[Family], timestamp_ns: Optional[int] = None) -> str:
    """Line protocol ending with a newline; "" when no field can be written."""
    fields_by_tags: Dict[Labels, List[str]] = {}
    for family in families:
        key = escape_field_key(field_name(family.name))
        if not key:
            continue
        for sample in family.samples:
            text = format_field_value(sample.value)
            if text is not None:
                # A histogram's parts are fields of their own: conferences_by_size_bucket (le tag), _sum, _count.
                field = key + sample.suffix if sample.suffix else key
                fields_by_tags.setdefault(sample.labels, []).append(f"{field}={text}")
    # Families come merged across bridges; ranking each label set by its first label
    # (the bridge, when there are several) keeps every bridge's lines together, in the
    # order a bridge alone would give them.
    rank: Dict[Labels, int] = {}
    for labels in fields_by_tags:
        rank.setdefault(labels[:1], len(rank))
    suffix = f" {timestamp_ns}" if timestamp_ns is not None else ""
    measurement = escape_measurement(MEASUREMENT)
    out: List[str] = []
    for labels in sorted(fields_by_tags, key=lambda labels: rank[labels[:1]]):
        tags = "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(one_of_each_name(labels)) if v != "")
        out.append(f"{measurement}{tags} {','.join(fields_by_tags[labels])}{suffix}")
    if not out:
        return ""
    out.append("")
    return "\n".join(out)
