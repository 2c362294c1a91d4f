"""Samples -> InfluxDB line protocol. Pure.

Shape: measurement ``jitsi``; tags are the sample labels (``bridge``, ``version``,
``conference_size`` …); one field per metric, named after the metric without its
``jitsi_`` prefix. Samples that share a label set share one line:

    jitsi,bridge=meet1 conferences=3i,bit_rate_download=1284.955,healthy=1i
    jitsi,bridge=meet1,version=2.3.168-g28674f78 version_info=1i
    jitsi,bridge=meet1,conference_size=2 conference_sizes=1i

Integers carry the ``i`` suffix while they fit in int64; larger ones are written as
floats. NaN and infinities cannot be written in line protocol and are left out.
"""
from __future__ import annotations

import math
from typing import Dict, Iterable, List, Optional

from ..samples import Labels, Number, Sample

MEASUREMENT = "jitsi"
FIELD_PREFIX = "jitsi_"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def escape_measurement(text: str) -> str:
    if "," not in text and " " not in text:
        return text
    return text.replace(",", "\\,").replace(" ", "\\ ")


def escape_tag(text: str) -> str:
    """Tag keys and values. Telegraf's parser does not turn a doubled backslash back
    into one in tags, so only commas, equals signs and spaces are escaped."""
    if "," not in text and "=" not in text and " " not in text:
        return text
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


def _field_name(name: str) -> str:
    return name[len(FIELD_PREFIX):] if name.startswith(FIELD_PREFIX) else name


def render_influx(samples: Iterable[Sample], timestamp_ns: Optional[int] = None) -> str:
    """Line protocol ending with a newline; "" when no field can be written."""
    fields_by_tags: Dict[Labels, List[str]] = {}
    for name, value, labels, _, _, _ in samples:
        if type(value) is int and INT64_MIN <= value <= INT64_MAX:
            text: Optional[str] = f"{value}i"
        else:
            text = format_field_value(value)
            if text is None:
                continue
        field = f"{escape_field_key(_field_name(name))}={text}"
        fields = fields_by_tags.get(labels)
        if fields is None:
            fields_by_tags[labels] = [field]
        else:
            fields.append(field)
    suffix = f" {timestamp_ns}" if timestamp_ns is not None else ""
    measurement = escape_measurement(MEASUREMENT)
    out: List[str] = []
    for labels, fields in fields_by_tags.items():
        tags = "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(labels) if v != "")
        out.append(f"{measurement}{tags} {','.join(fields)}{suffix}")
    if not out:
        return ""
    out.append("")
    return "\n".join(out)
