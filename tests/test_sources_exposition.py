"""The reader of Prometheus 0.0.4 / OpenMetrics text and of the JSON form (exposition.py)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jitsi_metrics.catalogue_jvb_metrics import NAMESPACES
from jitsi_metrics.exposition import ExpositionError, from_json, parse_text

CAPTURES = Path(__file__).resolve().parent / "payloads" / "jvb-2.3-head-local-build"


@pytest.mark.parametrize("name,text,series,expected", [
    ("plain", "jitsi_jvb_conferences 3.0\n", "conferences", [((), 3.0)]),
    ("trailing comma in labels", 'jitsi_jicofo_version_info{version="1.1",} 1.0\n', "jicofo_version_info",
     [((("version", "1.1"),), 1.0)]),
    ("escaped label value", 'x{a="q\\"uo\\\\te\\nnl"} 1\n', "x", [((("a", 'q"uo\\te\nnl'),), 1.0)]),
    ("scientific notation", "jitsi_jvb_startup_time 1.796266011844E12\n", "startup_time", [((), 1.796266011844e12)]),
    ("timestamp after the value", "x 5 1700000000000\n", "x", [((), 5.0)]),
    ("OpenMetrics exemplar", '# TYPE x histogram\nx_bucket{le="+Inf"} 2 # {trace_id="a"} 1\n', "x_bucket",
     [((("le", "+Inf"),), 2.0)]),
    ("positive infinity", 'x{q="+Inf"} +Inf\n', "x", [((("q", "+Inf"),), math.inf)]),
])
def test_parse_text_cases(name, text, series, expected):
    assert parse_text(text, NAMESPACES).series[series] == expected


def test_nan_is_read_as_nan():
    assert math.isnan(parse_text("x NaN\n").series["x"][0][1])


@pytest.mark.parametrize("name,text,line", [
    ("no value", "x\n", 1),
    ("value not a number", "ok 1\nx abc\n", 2),
    ("label set not closed", 'x{a="1" 2\n', 1),
    ("label without quotes", "x{a=1} 2\n", 1),
    ("starts with a digit", "1x 2\n", 1),
])
def test_malformed_text_names_the_line(name, text, line):
    with pytest.raises(ExpositionError) as caught:
        parse_text(text)
    assert caught.value.line_number == line


def test_overlong_line_is_refused():
    with pytest.raises(ExpositionError, match="longer than"):
        parse_text("x" * 5000 + " 1\n")


def test_created_series_are_dropped_in_both_text_forms():
    for form in ("openmetrics", "text-plain"):
        expo = parse_text((CAPTURES / f"jvb-idle.metrics.{form}.txt").read_text(), NAMESPACES)
        assert "conferences_created_total" in expo.series
        assert not [n for n in expo.series if n.endswith("_created")], form


@pytest.mark.parametrize("form", ["openmetrics", "text-plain"])
def test_values_agree_with_the_reference_parser(form):
    """prometheus_client reads the same captured 0.0.4 text to the same numbers."""
    text = (CAPTURES / f"jvb-conference.metrics.{form}.txt").read_text()
    ours = parse_text(text)
    if form == "openmetrics":
        from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families

        families = om_families(text)
    else:
        families = text_string_to_metric_families(text)
    count = 0
    for family in families:
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            labels = tuple(sorted(sample.labels.items()))
            got = {tuple(sorted(lbls)): v for lbls, v in ours.series[sample.name]}
            assert got[labels] == sample.value, sample
            count += 1
    assert count > 150


def test_json_form_histogram_info_and_booleans():
    expo = from_json({"conferences_by_size": {"bucket_le_2.0": 1.0, "bucket_le_+Inf": 1.0, "count": 1.0, "sum": 2.0,
                                              "created": 1.7e9},
                      "region": "eu-1", "healthy": False, "stress": "NaN", "ice_failed_total": 3})
    assert expo.series["conferences_by_size_bucket"] == [((("le", "2.0"),), 1.0), ((("le", "+Inf"),), 1.0)]
    assert expo.value("conferences_by_size_count") == 1.0 and expo.value("conferences_by_size_sum") == 2.0
    assert "conferences_by_size_created" not in expo.series
    assert expo.series["region_info"] == [((("region", "eu-1"),), 1.0)]
    assert expo.value("healthy") == 0.0
    assert math.isnan(expo.value("stress"))
    assert expo.types["ice_failed_total"] == "counter"


def test_json_capture_has_as_many_series_as_the_text():
    text = parse_text((CAPTURES / "jvb-idle.metrics.openmetrics.txt").read_text(), NAMESPACES)
    data = from_json(json.loads((CAPTURES / "jvb-idle.metrics.json").read_text()))
    assert set(text.series) == set(data.series)
