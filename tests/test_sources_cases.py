"""Golden cases for every captured non-/colibri/stats source (tests/cases/<case>/input.*).

Each case folder holds the captured answer as ``input.metrics.txt`` / ``input.metrics.json``
(JVB /metrics), ``input.jicofo-stats.json`` (Jicofo /stats) or ``input.jicofo-metrics.*``
(Jicofo /metrics), beside the expected Prometheus text, line protocol, collectd values ("type type-instance
value", one per line, from collectd_plugin.value_spec) and warnings.
JITSI_METRICS_UPDATE_CASES=1 rewrites the expected files; review the diff before committing.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Tuple

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jitsi_metrics.collectd_plugin import value_spec
from jitsi_metrics.detect import JICOFO_METRICS, JICOFO_STATS, JVB_METRICS, Answer, classify
from jitsi_metrics.render import render
from jitsi_metrics.sources import map_answer

CASES = Path(__file__).resolve().parent / "cases"
UPDATE = os.environ.get("JITSI_METRICS_UPDATE_CASES") == "1"
LABELS = (("bridge", "meet1"),)
SOURCE_BY_PREFIX = {
    "input.metrics.": (JVB_METRICS, "/metrics"),
    "input.jicofo-stats.": (JICOFO_STATS, "/stats"),
    "input.jicofo-metrics.": (JICOFO_METRICS, "/metrics"),
}


def source_cases() -> List[Tuple[str, Path, str, str]]:
    found = []
    for folder in sorted(CASES.iterdir()) if CASES.is_dir() else []:
        for path in sorted(folder.glob("input.*")):
            for prefix, (source, endpoint) in SOURCE_BY_PREFIX.items():
                if path.name.startswith(prefix):
                    found.append((folder.name, path, source, endpoint))
    return found


CASE_LIST = source_cases()


def answer_of(path: Path) -> Answer:
    ctype = "application/json" if path.suffix == ".json" else "text/plain; version=0.0.4; charset=utf-8"
    return Answer(200, ctype, path.read_bytes())


def outputs(path: Path, source: str) -> dict:
    mapped = map_answer(source, answer_of(path))
    families = mapped.families
    labelled = [f.with_labels(LABELS) for f in families]
    return {
        "expected.prom": render(labelled, "prometheus"),
        "expected.influx": render(labelled, "influx"),
        # collectd gets a bridge's families unlabelled (its bridge is the plugin instance).
        "expected.collectd": "".join("{} {} {!r}\n".format(*value_spec(f, s)) for f in families for s in f.samples),
        "expected.warnings": "".join(line + "\n" for line in mapped.warnings("meet1")),
    }


def test_every_captured_source_file_has_a_case():
    assert len(CASE_LIST) == 13, [c[0] for c in CASE_LIST]


@pytest.mark.parametrize("name,path,source,endpoint", CASE_LIST, ids=[c[0] for c in CASE_LIST])
def test_case_matches_its_expected_outputs(name, path, source, endpoint):
    got = outputs(path, source)
    for filename, text in got.items():
        expected = path.parent / filename
        if UPDATE:
            expected.write_text(text)
        assert expected.read_text() == text, f"{name}/{filename} differs; JITSI_METRICS_UPDATE_CASES=1 rewrites it"


@pytest.mark.parametrize("name,path,source,endpoint", CASE_LIST, ids=[c[0] for c in CASE_LIST])
def test_case_is_detected_as_its_source(name, path, source, endpoint):
    assert classify(endpoint, answer_of(path)).source == source


@pytest.mark.parametrize("name,path,source,endpoint", CASE_LIST, ids=[c[0] for c in CASE_LIST])
def test_expected_prometheus_text_parses_with_the_reference_parser(name, path, source, endpoint):
    text = (path.parent / "expected.prom").read_text()
    families = list(text_string_to_metric_families(text))
    assert families, name
    names = [f.name for f in families]
    assert len(names) == len(set(names)), "a family appears twice"
    assert all(f.samples for f in families)


def test_the_three_forms_of_one_capture_give_the_same_output():
    for capture in ("jvb-idle", "jvb-conference", "jicofo-idle"):
        forms = sorted(CASES.glob(f"{capture}-metrics-*"))
        assert len(forms) == 3, forms
        texts = {(f / "expected.prom").read_text() for f in forms}
        assert len(texts) == 1, f"{capture}: the OpenMetrics, 0.0.4 and JSON forms disagree"


def test_conference_histogram_is_a_real_histogram():
    text = (CASES / "jvb-conference-metrics-openmetrics" / "expected.prom").read_text()
    family = next(f for f in text_string_to_metric_families(text) if f.name == "jitsi_conferences_by_size")
    assert family.type == "histogram"
    by_name = {}
    for sample in family.samples:
        by_name.setdefault(sample.name, []).append(sample)
    # One conference of two endpoints: nothing up to le=1, one from le=2 on.
    buckets = {s.labels["le"]: s.value for s in by_name["jitsi_conferences_by_size_bucket"]}
    assert buckets["1.0"] == 0 and buckets["2.0"] == 1 and buckets["+Inf"] == 1
    assert by_name["jitsi_conferences_by_size_count"][0].value == 1
    assert by_name["jitsi_conferences_by_size_sum"][0].value == 2


def test_promtool_accepts_the_expected_text(tmp_path):
    import subprocess

    from conftest import require_tool

    promtool = require_tool("promtool")
    for name, path, _, _ in CASE_LIST:
        result = subprocess.run([promtool, "check", "metrics"], input=(path.parent / "expected.prom").read_bytes(),
                                capture_output=True, timeout=60)
        # promtool exits 3 for lint remarks (e.g. counters without _total); 1 means it could not parse.
        assert result.returncode in (0, 3), (name, result.stderr.decode()[:500])


@pytest.mark.parametrize("name,path,source,endpoint", CASE_LIST, ids=[c[0] for c in CASE_LIST])
def test_collectd_names_every_value_once(name, path, source, endpoint):
    """collectd has no labels: each value needs its own type instance."""
    lines = (path.parent / "expected.collectd").read_text().splitlines()
    identities = [tuple(line.split(" ")[:2]) for line in lines]
    assert len(identities) == len(set(identities)), name
