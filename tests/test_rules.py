"""The Prometheus rules (prometheus/rules/jitsi.rules.yml) pass promtool's checks and unit
tests (tests/rules/*.test.yml), every alert has a test that fires it, and docs/alerts.md
lists every alert and threshold with the values the file holds.

The helpers at the top are also used by test_dashboards.py and test_expressions.py.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Set

import pytest
import yaml

from conftest import REPO, child_env, require_tool

RULES_FILE = REPO / "prometheus" / "rules" / "jitsi.rules.yml"
UNIT_TESTS = sorted((REPO / "tests" / "rules").glob("*.test.yml"))
ALERTS_DOC = REPO / "docs" / "alerts.md"
THRESHOLD_GROUP = "jitsi-thresholds"
SEVERITIES = {"critical", "warning", "info"}


def rule_groups(path: Path = RULES_FILE) -> List[Dict[str, Any]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]  # type: ignore[no-any-return]


def alerting_rules() -> List[Dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def recording_rules() -> List[Dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"] if "record" in rule]


def thresholds() -> Dict[str, float]:
    """Threshold name (the part after ``jitsi:threshold:``) -> its number."""
    found = {}
    for group in rule_groups():
        for rule in group["rules"]:
            name = rule.get("record", "")
            if name.startswith("jitsi:threshold:"):
                assert group["name"] == THRESHOLD_GROUP, f"{name} outside {THRESHOLD_GROUP}"
                value = re.fullmatch(r"vector\(([0-9.]+)\)", rule["expr"].strip())
                assert value, f"{name}: a threshold is vector(<number>), got {rule['expr']!r}"
                found[name.split(":")[-1]] = float(value.group(1))
    return found


def run_promtool(*args: str) -> "subprocess.CompletedProcess[str]":
    promtool = require_tool("promtool")
    return subprocess.run([promtool, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120, env=child_env(), check=False)


@pytest.mark.integration
def test_promtool_check_rules_is_clean() -> None:
    result = run_promtool("check", "rules", str(RULES_FILE))
    assert result.returncode == 0, result.stdout
    assert "SUCCESS" in result.stdout and "WARNING" not in result.stdout.upper(), result.stdout


@pytest.mark.integration
@pytest.mark.parametrize("path", UNIT_TESTS, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(path: Path) -> None:
    result = run_promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout
    assert "SUCCESS" in result.stdout


@pytest.mark.integration
def test_promtool_reports_a_failing_expectation(tmp_path: Path) -> None:
    """The runner above would notice a failure: a test expecting the wrong alert fails."""
    test = tmp_path / "wrong.test.yml"
    test.write_text(
        f"rule_files: [{RULES_FILE}]\nevaluation_interval: 1m\ntests:\n"
        "  - interval: 1m\n"
        "    input_series:\n"
        "      - series: 'jitsi_up{job=\"jitsi\",instance=\"e:9888\",bridge=\"meet1\"}'\n"
        "        values: '1x10'\n"
        "    alert_rule_test:\n"
        "      - eval_time: 5m\n"
        "        alertname: JitsiBridgeDown\n"
        "        exp_alerts:\n"
        "          - exp_labels: {severity: critical, job: jitsi, instance: 'e:9888', bridge: meet1}\n",
        encoding="utf-8")
    result = run_promtool("test", "rules", str(test))
    assert result.returncode != 0 and "FAILED" in result.stdout, result.stdout


@pytest.mark.integration
def test_a_changed_threshold_changes_the_alert(tmp_path: Path) -> None:
    """Tuning is editing one number: with the stress warning at 0.95, a bridge at 0.9 is quiet."""
    rules = tmp_path / "jitsi.rules.yml"
    text = RULES_FILE.read_text(encoding="utf-8")
    tuned = text.replace("- record: jitsi:threshold:stress_warning\n        expr: vector(0.8)",
                         "- record: jitsi:threshold:stress_warning\n        expr: vector(0.95)")
    assert tuned != text
    rules.write_text(tuned, encoding="utf-8")
    test = tmp_path / "tuned.test.yml"
    test.write_text(
        f"rule_files: [{rules}]\nevaluation_interval: 1m\ntests:\n"
        "  - interval: 1m\n"
        "    input_series:\n"
        "      - series: 'jitsi_stress_level{job=\"jitsi\",instance=\"e:9888\",bridge=\"busy\"}'\n"
        "        values: '0.9x20'\n"
        "    alert_rule_test:\n"
        "      - eval_time: 15m\n"
        "        alertname: JitsiBridgeStressHigh\n"
        "        exp_alerts: []\n",
        encoding="utf-8")
    result = run_promtool("test", "rules", str(test))
    assert result.returncode == 0, result.stdout


def unit_tested_alerts() -> Dict[str, int]:
    """Alert name -> how many unit-test evaluations expect it to fire."""
    firing: Dict[str, int] = {}
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    firing[check["alertname"]] = firing.get(check["alertname"], 0) + 1
    return firing


def test_every_alert_has_a_unit_test_that_fires_it() -> None:
    firing = unit_tested_alerts()
    missing = [rule["alert"] for rule in alerting_rules() if rule["alert"] not in firing]
    assert not missing, f"alerts without a promtool test that fires them: {missing}"


@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda r: r["alert"])
def test_alert_shape(rule: Dict[str, Any]) -> None:
    assert rule["alert"].startswith("Jitsi")
    assert "for" in rule, "every alert says how long it must hold (0m for events)"
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description"}
    assert "check first" in annotations["description"].lower(), "the description says what to check first"


def test_thresholds_live_in_one_group_only() -> None:
    assert thresholds()
    # Outside the threshold group, an alert compares with a threshold series or with 0/1
    # (a definition, such as "went up" or "more than one version"), never a bare number.
    for rule in alerting_rules():
        expr = re.sub(r'"[^"]*"', '""', rule["expr"])
        expr = re.sub(r"\[[^\]]*\]", "", expr)
        for number in re.findall(r"(?:[<>]=?|==|!=)\s*(?:bool\s+)?([0-9.]+)", expr):
            assert float(number) in (0.0, 1.0), f"{rule['alert']}: bare threshold {number}; put it in {THRESHOLD_GROUP}"


def doc_table(heading: str) -> List[List[str]]:
    """Rows of the first Markdown table after ``heading`` in docs/alerts.md."""
    text = ALERTS_DOC.read_text(encoding="utf-8")
    start = text.index(heading)
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("|"):
            cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
            if not set(cells[0]) <= {"-", " "}:
                rows.append(cells)
        elif rows:
            break
    return rows[1:]  # without the header


def test_docs_list_every_alert_with_its_severity_and_duration() -> None:
    rows = {row[0]: row for row in doc_table("## Alerts at a glance")}
    for rule in alerting_rules():
        assert rule["alert"] in rows, f"docs/alerts.md does not list {rule['alert']}"
        row = rows[rule["alert"]]
        assert row[1] == rule["labels"]["severity"], rule["alert"]
        assert row[2] == rule["for"], rule["alert"]
    assert set(rows) == {rule["alert"] for rule in alerting_rules()}
    text = ALERTS_DOC.read_text(encoding="utf-8")
    for rule in alerting_rules():
        assert f"### {rule['alert']}" in text, f"docs/alerts.md has no section for {rule['alert']}"


def test_docs_list_every_threshold_with_its_value() -> None:
    rows = {row[0]: row for row in doc_table("## Thresholds")}
    values = thresholds()
    assert {f"jitsi:threshold:{name}" for name in values} == set(rows)
    for name, value in values.items():
        assert float(rows[f"jitsi:threshold:{name}"][1]) == value, name


def test_recording_rule_names_follow_the_convention() -> None:
    names: Set[str] = set()
    for rule in recording_rules():
        name = rule["record"]
        assert re.fullmatch(r"(jitsi|bridge|shard):[a-z0-9_]+:[a-z0-9_]+", name), name
        assert name not in names, f"{name} recorded twice"
        names.add(name)
    # The shard-wide sums the dashboard uses.
    for needed in ("shard:jitsi_conferences:sum", "shard:jitsi_participants:sum", "shard:jitsi_endpoints:sum",
                   "shard:jitsi_bit_rate_download:sum", "shard:jitsi_bit_rate_upload:sum",
                   "shard:jitsi_ice_failure_ratio:ratio15m"):
        assert needed in names, needed
