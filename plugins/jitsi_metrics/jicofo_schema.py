"""The JSON schema (Draft 7) of Jicofo's /stats, generated from catalogue_jicofo.

The shipped file schema/jicofo-stats.schema.json is ``render_schema(build_jicofo_schema())``;
a test fails when the two differ. Like the bridge's schema it requires nothing and allows
unknown keys: every Jicofo era adds and drops some.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Dict, List

from .catalogue import BOOL, STRING
from .catalogue_jicofo import JICOFO_METRICS

SCHEMA_FILE = "jicofo-stats.schema.json"
SCHEMA_ID = "https://jitsi-meet-metrics.invalid/schema/jicofo-stats.schema.json"

_NUMBER = {"anyOf": [{"type": "number"}, {"enum": ["-Infinity", "Infinity", "NaN"]}]}
_COUNTS = {"type": "object", "additionalProperties": {"type": "number"}}
_DYNAMIC: Dict[str, Any] = {
    "conference_sizes": {
        "description": "An array of 22 counts indexed by size until stable-7287, a bucket object since stable-7416.",
        "oneOf": [
            {"type": "array", "items": {"type": "number"}},
            {"type": "object", "properties": {"buckets": _COUNTS}},
        ],
    },
    "jingle": {
        "description": "Jingle stanzas by action, received and sent.",
        "type": "object",
        "properties": {"received": _COUNTS, "sent": _COUNTS},
    },
}


def _leaf(kind: str, help_text: str) -> Dict[str, Any]:
    if kind == BOOL:
        return {"type": "boolean", "description": help_text}
    if kind == STRING:
        return {"type": "string", "description": help_text}
    return {**_NUMBER, "description": help_text}


def build_jicofo_schema() -> Dict[str, Any]:
    properties: Dict[str, Any] = dict(_DYNAMIC)
    for metric in JICOFO_METRICS:
        if metric.kind not in ("number", BOOL, STRING):
            continue
        for path in metric.paths:
            node = properties
            for part in path[:-1]:
                holder = node.setdefault(part, {"type": "object", "properties": {}})
                node = holder.setdefault("properties", {})
            node[path[-1]] = _leaf(metric.kind, f"{metric.help_text} Exported as {metric.name}.")
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_ID,
        "title": "Jicofo /stats",
        "description": "Statistics of one Jicofo, any era since 2019. No key is required and unknown keys are allowed.",
        "type": "object",
        "properties": properties,
        "additionalProperties": True,
    }


def render_schema(schema: Dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


@lru_cache(maxsize=1)
def shipped_jicofo_schema() -> Dict[str, Any]:
    from importlib import resources

    text = resources.files("jitsi_metrics.schema").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def jicofo_schema_errors(payload: Any) -> List[str]:
    """``/pointer: message`` for every problem, in document order."""
    from jsonschema import Draft7Validator  # type: ignore[import-untyped,unused-ignore]

    errors = []
    for error in Draft7Validator(shipped_jicofo_schema()).iter_errors(payload):
        pointer = "".join(f"/{part}" for part in error.absolute_path) or "/"
        errors.append(f"{pointer}: {error.message[:200]}")
    return sorted(errors)
