"""The dashboard queries only metrics that exist, filters each by the right selector, and
covers every source: bridges (catalogue), the recording rules, Jicofo's /metrics and the
bridge's /metrics histograms.

Names that are not (yet) in the catalogue are taken from what Jicofo and the bridge really
serve (the captures in tests/payloads/jvb-2.3-head-local-build/), not typed in here, except
Jicofo's Jigasi counters, which an idle Jicofo does not register (see PENDING_JIGASI).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest

from conftest import PAYLOADS, REPO
from jitsi_metrics.catalogue import COLIBRI_METRICS, META_METRICS
from test_rules import recording_rules

DASHBOARDS = sorted((REPO / "dashboards").glob("*.json"))
CAPTURES = PAYLOADS / "jvb-2.3-head-local-build"
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "inf", "nan"}
# Jicofo registers the counters of its Jigasi request handler (prefix jigasi_iq_handler, _total
# appended to counters) only once it handles a Jigasi request, so the idle capture lacks them.
PENDING_JIGASI = {"jitsi_jicofo_jigasi_iq_handler_instance_errors_total",
                  "jitsi_jicofo_jigasi_iq_handler_instance_timeouts_total"}


def captured_families(path: Path) -> Dict[str, str]:
    """Family name -> type from the ``# TYPE`` lines of a captured /metrics answer."""
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", path.read_text(encoding="utf-8"), re.M))


def jicofo_names() -> Set[str]:
    """Sample names Jicofo's own /metrics serves (counters carry _total there)."""
    names = set()
    for family, kind in captured_families(CAPTURES / "jicofo-idle.metrics.text-plain.txt").items():
        names.add(family + "_total" if kind == "counter" and not family.endswith("_total") else family)
    return names


def histogram_names() -> Set[str]:
    """The bridge's /metrics histograms under our prefix (jitsi_jvb_x -> jitsi_x), as the
    sources work exports them: _bucket, _sum, _count."""
    names = set()
    for family, kind in captured_families(CAPTURES / "jvb-conference.metrics.text-plain.txt").items():
        if kind == "histogram":
            base = "jitsi_" + family[len("jitsi_jvb_"):]
            names |= {base + "_bucket", base + "_sum", base + "_count"}
    return names


BRIDGE_NAMES = {m.name for m in COLIBRI_METRICS + META_METRICS} | histogram_names()
RECORDED = {rule["record"] for rule in recording_rules()}
JICOFO_NAMES = jicofo_names() | PENDING_JIGASI
KNOWN = BRIDGE_NAMES | RECORDED | JICOFO_NAMES

TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"'                                             # a string
    r"|\[[^\]]*\]"                                                   # a range
    r"|\$\{?\w+\}?"                                                  # a dashboard variable
    r"|\{[^}]*\}"                                                    # matchers without a name
    r"|(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{(?:[^}\"]|\"(?:[^\"\\]|\\.)*\")*\})?\s*(\()?"
)


def selectors(expr: str) -> List[Tuple[str, str]]:
    """(metric name, matchers) of each vector selector in a PromQL expression (or in the
    first argument of a Grafana ``label_values(expr, label)``)."""
    expr = re.sub(r"label_values\((.*),\s*\w+\s*\)", r"\1", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)  # label lists
    found = []
    for match in TOKEN.finditer(expr):
        name, matchers, call = match.group(1), match.group(2), match.group(3)
        if name and not call and name.lower() not in KEYWORDS:
            found.append((name, matchers or ""))
    return found


def metric_names(expr: str) -> Set[str]:
    return {name for name, _ in selectors(expr)}


@pytest.mark.parametrize("expr, names", [
    ("jitsi_up", {"jitsi_up"}),
    ('rate(jitsi_total_bytes_sent{bridge=~"$bridge"}[5m]) * 8', {"jitsi_total_bytes_sent"}),
    ("sum by (instance, bridge) (jitsi_conferences)", {"jitsi_conferences"}),
    ("a / clamp_min(b + c, 1)", {"a", "b", "c"}),
    ('label_values(jitsi_up{instance=~"$instance"}, bridge)', {"jitsi_up"}),
    ('x{le="+Inf"} offset 5m > bool 0', {"x"}),
    ('shard:jitsi_up:sum{job=~"$job"} * 1000', {"shard:jitsi_up:sum"}),
    ('histogram_quantile(0.95, sum by (le) (h_bucket{a="}"}))', {"h_bucket"}),
    ("jitsi_endpoints{a=\"$x\"} or jitsi_participants", {"jitsi_endpoints", "jitsi_participants"}),
], ids=["bare", "rate", "by", "arith", "label_values", "keywords", "recorded", "quantile", "or"])
def test_metric_names_parser(expr: str, names: Set[str]) -> None:
    assert metric_names(expr) == names


def test_selectors_keep_their_matchers() -> None:
    assert selectors('sum(a{x="1",y=~"$y"}) / b') == [("a", '{x="1",y=~"$y"}'), ("b", "")]


def load(path: Path) -> Dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def panels(items: List[Dict[str, Any]]) -> Iterator[Dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def queries(dashboard: Dict[str, Any]) -> Iterator[Tuple[str, str]]:
    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            yield "variable " + variable["name"], query["query"] if isinstance(query, dict) else query


def test_there_is_a_dashboard() -> None:
    assert DASHBOARDS


def test_names_from_the_captures_are_found() -> None:
    # The captures are real; an empty set here would let any name through.
    assert "jitsi_jicofo_bridge_selector_bridge_count_operational" in JICOFO_NAMES
    assert "jitsi_jicofo_participants_moved_total" in JICOFO_NAMES
    assert "jitsi_conferences_by_size_bucket" in BRIDGE_NAMES
    assert "shard:jitsi_conferences:sum" in RECORDED


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_queried_metric_exists(path: Path) -> None:
    checked = 0
    for where, expr in queries(load(path)):
        names = metric_names(expr)
        assert names, f"{where}: no metric found in {expr!r}"
        unknown = names - KNOWN
        assert not unknown, f"{where}: {sorted(unknown)} is neither in the catalogue, the rules nor a capture"
        checked += 1
    assert checked >= 10


def required_matchers(name: str) -> List[str]:
    """The dashboard variables a selector of this metric must filter on."""
    if name.startswith("jitsi:threshold:"):
        return []                                        # one series without labels
    if name.startswith("shard:"):
        return ['job=~"$job"']
    if name in JICOFO_NAMES:
        return ['instance=~"$jicofo"']
    return ['instance=~"$instance"', 'bridge=~"$bridge"']  # a bridge's own or bridge: rules


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_query_follows_the_selectors(path: Path) -> None:
    dashboard = load(path)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert {"job", "instance", "bridge", "jicofo"} <= set(variables)
    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            for name, matchers in selectors(target["expr"]):
                for needed in required_matchers(name):
                    assert needed in matchers, f"{panel['title']}: {name} is not filtered by {needed}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_covers_each_area(path: Path) -> None:
    queried = set().union(*(metric_names(expr) for _, expr in queries(load(path))))
    areas = {
        "load": {"jitsi_conferences", "jitsi_endpoints", "jitsi_stress_level"},
        "traffic": {"jitsi_bit_rate_download", "jitsi_bit_rate_upload"},
        "quality": {"jitsi_rtt_aggregate", "jitsi_incoming_loss", "jitsi_outgoing_loss"},
        "conference sizes": {"jitsi_largest_conference", "jitsi_conference_sizes", "jitsi_conferences_by_size_bucket",
                             "jitsi_conferences_by_audio_sender_bucket", "jitsi_conferences_by_video_sender_bucket"},
        "bridge overview": {"jitsi_up", "jitsi_healthy", "jitsi_drain", "jitsi_version_info", "jitsi_region_info"},
        "shard": {"shard:jitsi_conferences:sum", "shard:jitsi_participants:sum", "shard:jitsi_bit_rate_download:sum",
                  "shard:jitsi_ice_failure_ratio:ratio15m"},
        "jicofo": {"jitsi_jicofo_conferences", "jitsi_jicofo_bridge_selector_bridge_count",
                   "jitsi_jicofo_bridge_selector_bridge_count_operational", "jitsi_jicofo_participants_moved_total",
                   "jitsi_jicofo_jibri_instances_available", "jitsi_jicofo_jibri_recording_failures_total"},
    }
    for area, names in areas.items():
        assert names <= queried, (area, sorted(names - queried))


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_no_panel_draws_endpoints_and_its_alias_twice(path: Path) -> None:
    """participants is the older alias of endpoints: a bridge that sends both must give one line."""
    for panel in panels(load(path)["panels"]):
        exprs = [target["expr"] for target in panel.get("targets", [])]
        with_endpoints = [e for e in exprs if "jitsi_endpoints" in metric_names(e)]
        with_participants = [e for e in exprs if "jitsi_participants" in metric_names(e)]
        for expr in with_participants:
            assert expr in with_endpoints and " or " in expr, (panel["title"], expr)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_bridge_table_merges_state_and_info_per_bridge(path: Path) -> None:
    tables = [p for p in panels(load(path)["panels"]) if p["type"] == "table"]
    assert tables, "no bridge overview table"
    table = tables[0]
    names = [metric_names(t["expr"]) for t in table["targets"]]
    assert {"jitsi_version_info"} in names and {"jitsi_region_info"} in names and {"jitsi_up"} in names
    assert all(t.get("instant") and t.get("format") == "table" for t in table["targets"])
    assert table["transformations"][0]["id"] == "merge"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panels_have_unique_ids_and_do_not_overlap(path: Path) -> None:
    items = list(panels(load(path)["panels"]))
    ids = [p["id"] for p in items]
    assert len(ids) == len(set(ids))
    boxes = [(p["title"], p["gridPos"]) for p in items]
    for i, (title_a, a) in enumerate(boxes):
        assert a["x"] + a["w"] <= 24, title_a
        for title_b, b in boxes[i + 1:]:
            apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
                     or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])
            assert apart, f"{title_a!r} overlaps {title_b!r}"
