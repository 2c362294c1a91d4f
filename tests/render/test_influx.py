from __future__ import annotations

import pytest

from conftest import load_json
from jitsi_metrics.mapping import map_payload, meta_families
from jitsi_metrics.render import render
from jitsi_metrics.render.influx import (
    INT64_MAX,
    INT64_MIN,
    escape_field_key,
    escape_measurement,
    escape_tag,
    format_field_value,
    render_influx,
)
from jitsi_metrics.samples import GAUGE, UNTYPED, Family, Sample, merge_families
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
    families = [
        Family("jitsi_conferences", GAUGE, "", [Sample((("bridge", "meet 1"),), 3)]),
        Family("jitsi_bit_rate_download", GAUGE, "", [Sample((("bridge", "meet 1"),), 1284.955)]),
        Family("jitsi_version_info", GAUGE, "", [Sample((("bridge", "meet 1"), ("version", "2.3,x")), 1)]),
    ]
    assert render_influx(families, timestamp_ns=17) == (
        "jitsi,bridge=meet\\ 1 conferences=3i,bit_rate_download=1284.955 17\n"
        "jitsi,bridge=meet\\ 1,version=2.3\\,x version_info=1i 17\n"
    )


def test_nan_only_gives_no_line():
    assert render_influx([Family("jitsi_rtt_aggregate", GAUGE, "", [Sample((), float("nan"))])]) == ""


@pytest.mark.parametrize("path", all_payload_files(), ids=case_id)
def test_round_trip_through_a_strict_parser(path):
    labels = (("bridge", "meet 1,a=b"),)
    families = meta_families(True, 0.5, labels) + map_payload(load_json(path), labels).families
    points = parse(render_influx(families))
    got = {}
    for point in points:
        assert point.measurement == "jitsi"
        extra = tuple(sorted((k, v) for k, v in point.tags.items() if k != "bridge"))
        assert point.tags["bridge"] == "meet 1,a=b"
        for field, value in point.fields.items():
            got[(field, extra)] = value
    expected = {
        (f.name[len("jitsi_"):], tuple(label for label in s.labels if label[0] != "bridge")): s.value
        for f in families for s in f.samples
    }
    assert got == expected


def test_lines_of_one_bridge_stay_together_when_families_are_merged():
    def bridge(name, version):
        labels = (("bridge", name),)
        return meta_families(True, 0.1, labels) + map_payload({"conferences": 1, "version": version}, labels).families

    text = render(merge_families([bridge("a", "1"), bridge("b", "2")]), "influx")
    assert [line.split(" ")[0] for line in text.splitlines()] == [
        "jitsi,bridge=a", "jitsi,bridge=a,version=1", "jitsi,bridge=b", "jitsi,bridge=b,version=2",
    ]


# Issue 11, item 6: what line protocol cannot carry in a tag never splits or corrupts a line.
@pytest.mark.parametrize("value, shown", [
    ("2.3\n168", "2.3\ufffd168"), ("eu\r\n", "eu\ufffd\ufffd"), ("a\tb", "a\ufffdb"),
    ("trailing\\", "trailing\ufffd"), ("x\ud800", "x\ufffd"), ("in\\side", "in\\side"),
])
@pytest.mark.parametrize("key", ["version", "region", "release", "relay_id"])
def test_hostile_tag_values_never_split_a_line(key, value, shown):
    labels = (("bridge", "b"),)
    # Mapping drops a string with a surrogate; the renderer stands on its own too.
    family = Family(f"jitsi_{key}_info", GAUGE, "", [Sample(labels + ((key, value),), 1)])
    text = render([family, Family("jitsi_threads", GAUGE, "", [Sample(labels, 4)])], "influx", 9)
    text.encode("utf-8")
    points = parse(text)
    assert len(points) == 2 and len(text.splitlines()) == 2
    assert points[0].tags == {"bridge": "b", key: shown} and points[1].fields == {"threads": 4}


def test_trailing_backslash_in_a_tag_never_escapes_the_separator():
    assert escape_tag("c:\\") == "c:\ufffd"
    assert escape_tag("a\\ b") == "a\\\\ b"  # a backslash inside stays, the space is escaped


def test_empty_field_key_never_appears():
    families = [Family("jitsi_", UNTYPED, "", [Sample((), 1)]), Family("jitsi_threads", GAUGE, "", [Sample((), 2)])]
    assert render(families, "influx") == "jitsi threads=2i\n"
    # and mapping never makes one from an unknown "" key
    assert render(map_payload({"": 5, "threads": 2}).families, "influx") == "jitsi threads=2i\n"


# Issue 11, items 3, 6 and 7 through the whole core: a hostile payload still gives lines a
# strict parser reads back, each series once.
def test_hostile_payload_renders_parseable_line_protocol():
    labels = (("bridge", "b"),)
    payload = {"up": 0, "scrape_duration_seconds": 99, "version_info": 7, "a b": 1, "a_b": 2, "": 3,
               "conferences": 10**4000, "future": -10**4000, "version": "2.3\n\\", "region": "eu\\",
               "k" * 5000: 1, "threads": 5}
    families = meta_families(True, 0.5, labels) + map_payload(payload, labels).families
    text = render(families, "influx", 1)
    text.encode("utf-8")
    points = parse(text)
    fields = [(tuple(sorted(p.tags.items())), k) for p in points for k in p.fields]
    assert len(fields) == len(set(fields))
    main = next(p for p in points if p.tags == {"bridge": "b"})
    assert main.fields == {"up": 1, "scrape_duration_seconds": 0.5, "threads": 5, "a_b": 2}
    assert {p.tags.get("version") for p in points} - {None} == {"2.3\ufffd\ufffd"}
    assert {p.tags.get("region") for p in points} - {None} == {"eu\ufffd"}
