from __future__ import annotations

import json

import pytest
from jsonschema import Draft7Validator

from conftest import REPO, load_json
from jitsi_metrics.catalogue import BY_KEY, IGNORE
from jitsi_metrics.check import MAX_TEXT, check_payload, drift, payload_errors, schema_errors
from jitsi_metrics.gen_docs import SCHEMA_PATH
from jitsi_metrics.schema import build_schema, render_schema, shipped_schema
from payload_cases import all_payload_files, case_id

WRONG_VALUES = {
    "string": "12",
    "string []": "[]",
    "null": None,
    "object": {"average": None},
    "boolean": True,
    "array": [1, 2],
    "array of strings": ["1"],
    "number": 3.5,
    "long string": "v" * (MAX_TEXT + 1),
}


def test_shipped_schema_is_generated_from_the_catalogue():
    with open(REPO / SCHEMA_PATH, encoding="utf-8") as handle:
        assert handle.read() == render_schema(build_schema()), "run: python -m jitsi_metrics.gen_docs"
    assert shipped_schema() == build_schema()


def test_schema_is_draft7_with_numbers_never_integers():
    schema = build_schema()
    Draft7Validator.check_schema(schema)
    assert "integer" not in json.dumps(schema)
    assert schema.get("required") is None and schema["additionalProperties"] is True


def test_empty_payload_is_valid():
    assert schema_errors({}) == []


def fast_rejects(payload):
    # The cheap per-poll check alone, before jsonschema has its say: the two must agree.
    return {k for k, v in payload.items() if k in BY_KEY and drift(BY_KEY[k].kind, v) is not None}


def schema_rejects(payload):
    return {e.key for e in schema_errors(payload)}


@pytest.mark.parametrize("path", all_payload_files(), ids=case_id)
def test_fast_check_and_schema_agree_on_every_payload(path):
    payload = load_json(path)
    assert fast_rejects(payload) == schema_rejects(payload)


@pytest.mark.parametrize("wrong", list(WRONG_VALUES), ids=str)
def test_fast_check_and_schema_agree_on_every_wrong_type(wrong):
    # Every known key of the newest fixture gets the same wrong value.
    payload = {key: WRONG_VALUES[wrong] for key, metric in BY_KEY.items() if metric.kind != IGNORE}
    assert fast_rejects(payload) == schema_rejects(payload)
    assert fast_rejects(payload), "each wrong value is wrong for some kind"


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_jackson_non_finite_strings_are_numbers(text):
    assert schema_errors({"rtt_aggregate": text}) == []
    assert schema_errors({"rtt_aggregate": text.lower()}) != []


def test_errors_carry_a_json_pointer_and_what_was_expected():
    errors = schema_errors({"conference_sizes": [1, "x"], "threads": None})
    assert [(e.pointer, e.key) for e in errors] == [
        ("/conference_sizes/1", "conference_sizes"), ("/threads", "threads"),
    ]
    assert errors[1].message == "expected a number, got null"


def test_check_step_rejects_what_the_schema_rejects_and_says_why():
    payload = {"conference_sizes": [1, "x"], "threads": None, "version": "v" * (MAX_TEXT + 1), "conferences": 2}
    verdict = check_payload(payload)
    assert verdict.rejected == schema_rejects(payload) == {"conference_sizes", "threads", "version"}
    assert [p.key for p in verdict.problems] == ["threads", "version", "conference_sizes"]  # catalogue order


@pytest.mark.parametrize("payload, pointer, words", [
    ({"version": "2.3\ud800"}, "/version", "surrogate"),
    ({"conferences": 10**4000}, "/conferences", "4001 digits"),
    ({"future": -10**4000}, "/future", "4001 digits"),
    ({"k" * 5000: 1}, "/" + "k" * 80 + "…", "5000 characters"),
])
def test_validate_names_what_the_schema_cannot_say(payload, pointer, words):
    # Issue 11 item 2: validate called a payload with a lone surrogate valid.
    assert schema_errors(payload) == []
    (finding,) = payload_errors(payload)
    assert finding.pointer == pointer and words in finding.message


def test_validate_calls_a_payload_with_a_lone_surrogate_invalid(tmp_path):
    import io

    from jitsi_metrics.cli import main

    path = tmp_path / "stats.json"
    path.write_bytes(b'{"version": "2.3\\ud800", "conferences": 1}')
    stdout, stderr = io.StringIO(), io.StringIO()
    assert main(["validate", str(path)], stdout=stdout, stderr=stderr) == 1
    out = stdout.getvalue()
    assert "/version" in out and "surrogate" in out and "invalid, 1 problem(s)" in out
    out.encode("utf-8")
