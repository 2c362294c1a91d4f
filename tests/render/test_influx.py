from __future__ import annotations

import pytest

from jitsi_metrics.mapping import map_payload, meta_samples
from jitsi_metrics.render.influx import (
    INT64_MAX, INT64_MIN, escape_field_key, escape_measurement, escape_tag, format_field_value, render_influx,
)
from jitsi_metrics.samples import GAUGE, Sample

from conftest import load_json
from lineproto import parse
from payload_cases import all_payload_files, case_id


@pytest.mark.parametrize("text, escaped", [
    ("meet1", "meet1"), ("a b", "a\\ b"), ("a,b", "a\\,b"), ("a=b", "a\\=b"), ("c:\\x", "c:\\x"),
])
def test_escape_tag(text, escaped):
    assert escape_tag(text) == escaped


@pytest.mark.parametrize("text, escaped", [("jitsi", "jitsi"), ("a b,c", "a\\ b\\,c"), ("a=b", "a=b")])
def test_escape_measurement(text, escaped):
    assert escape_measurement(text) == escaped


def test_escape_field_key():
    assert escape_field_key("odd key=1,2") == "odd\\ key\\=1\\,2"


@pytest.mark.parametrize("value, text", [
    (0, "0i"), (INT64_MAX, f"{INT64_MAX}i"), (INT64_MIN, f"{INT64_MIN}i"),
    (INT64_MAX + 1, "9.223372036854776e+18"), (2**64 - 1, "1.8446744073709552e+19"),
    (1284.955, "1284.955"), (float("nan"), None), (float("inf"), None),
])
def test_format_field_value(value, text):
    assert format_field_value(value) == text


def test_shape_one_line_per_label_set():
    samples = [
        Sample("jitsi_conferences", 3, (("bridge", "meet 1"),), GAUGE),
        Sample("jitsi_bit_rate_download", 1284.955, (("bridge", "meet 1"),), GAUGE),
        Sample("jitsi_version_info", 1, (("bridge", "meet 1"), ("version", "2.3,x")), GAUGE),
    ]
    assert render_influx(samples, timestamp_ns=17) == (
        "jitsi,bridge=meet\\ 1 conferences=3i,bit_rate_download=1284.955 17\n"
        "jitsi,bridge=meet\\ 1,version=2.3\\,x version_info=1i 17\n"
    )


def test_nan_only_gives_no_line():
    assert render_influx([Sample("jitsi_rtt_aggregate", float("nan"))]) == ""


@pytest.mark.parametrize("path", all_payload_files(), ids=case_id)
def test_round_trip_through_a_strict_parser(path):
    labels = (("bridge", "meet 1,a=b"),)
    samples = meta_samples(True, 0.5, labels) + map_payload(load_json(path), labels).samples
    points = parse(render_influx(samples))
    got = {}
    for point in points:
        assert point.measurement == "jitsi"
        extra = tuple(sorted((k, v) for k, v in point.tags.items() if k != "bridge"))
        assert point.tags["bridge"] == "meet 1,a=b"
        for field, value in point.fields.items():
            got[(field, extra)] = value
    expected = {(s.name[len("jitsi_"):], tuple(l for l in s.labels if l[0] != "bridge")): s.value for s in samples}
    assert got == expected
