"""Every metric a dashboard panel (or template variable) queries exists in the catalogue."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

from conftest import REPO
from jitsi_metrics.catalogue import COLIBRI_METRICS, META_METRICS

DASHBOARDS = sorted((REPO / "dashboards").glob("*.json"))
KNOWN = {m.name for m in COLIBRI_METRICS + META_METRICS}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "inf", "nan"}


def metric_names(expr: str) -> Set[str]:
    """Metric names in a PromQL expression (or a Grafana ``label_values(expr, label)``)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # strings, e.g. inside matchers
    text = re.sub(r"label_values\((.*),\s*\w+\s*\)", r"\1", text)  # its second argument is a label
    text = re.sub(r"\{[^}]*\}", " ", text)                    # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)                   # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)                   # dashboard variables
    names = set()
    for found in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?", text):
        name, call = found.groups()
        if not call and name.lower() not in KEYWORDS:
            names.add(name)
    return names


@pytest.mark.parametrize("expr, names", [
    ("jitsi_up", {"jitsi_up"}),
    ('rate(jitsi_total_bytes_sent{bridge=~"$bridge"}[5m]) * 8', {"jitsi_total_bytes_sent"}),
    ("sum by (instance, bridge) (jitsi_conferences)", {"jitsi_conferences"}),
    ("a / clamp_min(b + c, 1)", {"a", "b", "c"}),
    ('label_values(jitsi_up{instance=~"$instance"}, bridge)', {"jitsi_up"}),
    ('x{le="+Inf"} offset 5m > bool 0', {"x"}),
], ids=["bare", "rate", "by", "arith", "label_values", "keywords"])
def test_metric_names_parser(expr: str, names: Set[str]) -> None:
    assert metric_names(expr) == names


def queries(dashboard: Dict) -> Iterator[Tuple[str, str]]:
    def panels(items: List[Dict]) -> Iterator[Dict]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            yield "variable " + variable["name"], query["query"] if isinstance(query, dict) else query


def test_there_is_a_dashboard() -> None:
    assert DASHBOARDS


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_queried_metric_is_in_the_catalogue(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    checked = 0
    for where, expr in queries(dashboard):
        names = metric_names(expr)
        assert names, f"{where}: no metric found in {expr!r}"
        unknown = names - KNOWN
        assert not unknown, f"{where}: {sorted(unknown)} not in the catalogue"
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_has_datasource_and_bridge_selectors(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert {"instance", "bridge"} <= set(variables)
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert "$bridge" in target["expr"] and "$instance" in target["expr"], panel["title"]
            assert target["datasource"]["uid"] == "${datasource}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_covers_each_area(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    queried = set().union(*(metric_names(expr) for _, expr in queries(dashboard)))
    areas = {
        "load": {"jitsi_conferences", "jitsi_endpoints", "jitsi_stress_level"},
        "traffic": {"jitsi_bit_rate_download", "jitsi_bit_rate_upload"},
        "quality": {"jitsi_rtt_aggregate", "jitsi_incoming_loss", "jitsi_outgoing_loss"},
        "conference sizes": {"jitsi_largest_conference", "jitsi_conference_sizes"},
        "bridge health": {"jitsi_up", "jitsi_healthy"},
    }
    for area, names in areas.items():
        assert names <= queried, (area, sorted(names - queried))
