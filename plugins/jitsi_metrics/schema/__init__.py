"""The JSON schema (Draft 7) of /colibri/stats payloads, and validation against it.

The shipped file colibri-stats.schema.json is generated from the catalogue by
``build_schema()``; a test fails when the two differ. jsonschema is imported only when
a validation actually runs, so a poll that finds nothing wrong never pays for it.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Dict, List, NamedTuple

from ..catalogue import ARRAY, BOOL, COLIBRI_METRICS, IGNORE, INFO, NUMBER
from ..fields import NON_FINITE_STRINGS
from ..problems import describe_json_value

SCHEMA_FILE = "colibri-stats.schema.json"
SCHEMA_ID = "https://jitsi-meet-metrics.invalid/schema/colibri-stats.schema.json"

_DEFINITIONS: Dict[str, Any] = {
    # "number", never "integer": JVB has sent the same key as int and as float.
    "number": {"anyOf": [{"type": "number"}, {"enum": sorted(NON_FINITE_STRINGS)}]},
    "boolean": {"type": "boolean"},
    "string": {"type": "string"},
    "numberArray": {"type": "array", "items": {"type": "number"}},
}
_REF_BY_KIND = {NUMBER: "number", BOOL: "boolean", INFO: "string", ARRAY: "numberArray"}


def build_schema() -> Dict[str, Any]:
    properties: Dict[str, Any] = {}
    for metric in COLIBRI_METRICS:
        if metric.kind == IGNORE:
            prop: Dict[str, Any] = {}
        else:
            prop = {"$ref": f"#/definitions/{_REF_BY_KIND[metric.kind]}"}
        prop["description"] = metric.help_text
        properties[metric.key] = prop
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_ID,
        "title": "Jitsi Videobridge /colibri/stats",
        "description": (
            "Statistics of one bridge. No key is required: {} is what JVB 2.x answers with "
            "statistics disabled, and every key comes and goes between releases. Unknown keys "
            "are allowed so that new statistics pass."
        ),
        "type": "object",
        "properties": properties,
        "additionalProperties": True,
        "definitions": _DEFINITIONS,
    }


def render_schema(schema: Dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


@lru_cache(maxsize=1)
def shipped_schema() -> Dict[str, Any]:
    from importlib import resources

    text = resources.files(__name__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


class SchemaError(NamedTuple):
    pointer: str
    message: str

    @property
    def key(self) -> str:
        """The top-level payload key the error is about ("" for the payload itself)."""
        return self.pointer.split("/")[1] if self.pointer.count("/") else ""


_TYPE_WORDS = {"number": "a number", "boolean": "a boolean", "string": "a string",
               "array": "an array", "object": "an object"}


def _expected(schema: Dict[str, Any]) -> str:
    if schema.get("anyOf") == _DEFINITIONS["number"]["anyOf"]:
        return "a number"
    kind = schema.get("type")
    if isinstance(kind, str):
        return _TYPE_WORDS.get(kind, kind)
    return "what the schema allows"


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft7Validator

    return Draft7Validator(shipped_schema())


def schema_errors(payload: Any) -> List[SchemaError]:
    """Every problem the schema finds, with its JSON pointer, in document order."""
    errors = []
    for error in _validator().iter_errors(payload):
        pointer = "".join(f"/{part}" for part in error.absolute_path)
        message = f"expected {_expected(error.schema)}, got {describe_json_value(error.instance)}"
        errors.append(SchemaError(pointer or "/", message))
    errors.sort(key=lambda e: e.pointer)
    return errors
