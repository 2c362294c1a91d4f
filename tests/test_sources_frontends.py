"""Every front end against a default-config bridge (REST API off, so /colibri/stats answers
404) given by its base URL, and against a simulated Jicofo: the same metric names as a
bridge with the REST API on, one line saying which endpoint is used, Jicofo's numbers
under jitsi_jicofo_* names only.

The bridge's numbers through /metrics lack only what /metrics has no series for
(NOT_IN_METRICS, jitsi-stats.md §6.2); /metrics adds the conference histograms.
"""
from __future__ import annotations

import io
import sys
import urllib.request
from typing import Any, Dict, Iterator, Set, Tuple

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import running_exporter, serving
from fake_collectd import new_collectd, parse_config_text
from jitsi_metrics.cli import main
from jitsi_metrics.collectd_plugin import CollectdPlugin
from jitsi_metrics.config import bridge_options
from jitsi_metrics.simulate import SimulatedBridge
from telegraf_helpers import parse_line_protocol

# /colibri/stats keys /metrics has no series for, by the name each front end gives them.
NOT_IN_METRICS = {"jitsi_version_info", "jitsi_average_participant_stress", "jitsi_release_info", "jitsi_relay_id_info"}
HISTOGRAMS = {"jitsi_conferences_by_size", "jitsi_conferences_by_audio_sender", "jitsi_conferences_by_video_sender"}
META = {"jitsi_up", "jitsi_scrape_duration_seconds"}


@pytest.fixture(scope="module")
def bridges() -> Iterator[Tuple[str, str, str]]:
    """(REST-on /colibri/stats URL, REST-off base URL, Jicofo base URL), one simulation each."""
    with serving(bridge=SimulatedBridge(seed=7)) as on, \
            serving(bridge=SimulatedBridge(seed=7), rest_enabled=False) as off, \
            serving(component="jicofo") as jicofo:
        yield on.url, off.base_url, jicofo.base_url


def prometheus_names(text: str) -> Set[str]:
    families = {f.name: f for f in text_string_to_metric_families(text)}
    up = [s.value for s in families["jitsi_up"].samples]
    assert up and all(v == 1 for v in up), text[:300]
    return set(families)


def assert_same_bridge_names(on: Set[str], off: Set[str]) -> None:
    assert on - off <= NOT_IN_METRICS, on - off
    assert HISTOGRAMS <= off
    assert len(on & off) > 40  # the comparison really compared something


# --- once ---------------------------------------------------------------------------------

def once(url: str, fmt: str = "prometheus") -> Tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    assert main(["once", "--url", url, "--format", fmt], stdout, stderr) == 0
    return stdout.getvalue(), stderr.getvalue()


def test_once_reads_a_default_config_bridge_from_its_base_url(bridges: Tuple[str, str, str]) -> None:
    on_url, off_url, _ = bridges
    on_text, on_err = once(on_url)
    off_text, off_err = once(off_url)
    assert on_err == ""
    assert_same_bridge_names(prometheus_names(on_text), prometheus_names(off_text))
    (line,) = off_err.splitlines()
    assert line.startswith(f'Bridge "{off_url[len("http://"):]}": reading {off_url}/metrics, JVB /metrics')
    assert "REST API off" in line


def test_once_on_jicofo_gives_jicofo_names_only(bridges: Tuple[str, str, str]) -> None:
    text, err = once(bridges[2])
    names = prometheus_names(text)
    assert "jitsi_jicofo_conferences" in names
    assert all(n.startswith("jitsi_jicofo_") for n in names - META), names - META
    assert "Jicofo" in err and "reading" in err


def test_once_given_jicofo_stats_where_a_bridge_was_expected_says_so(bridges: Tuple[str, str, str]) -> None:
    text, err = once(bridges[2] + "/colibri/stats")
    assert "jitsi_conferences " not in text
    # The simulated Jicofo has no /colibri/stats: a 404 that is no JVB's, so check the path.
    assert "HTTP 404" in err and "check it" in err


def test_once_influx_through_metrics_has_the_same_fields(bridges: Tuple[str, str, str]) -> None:
    on = {p.field for p in parse_line_protocol(once(bridges[0], "influx")[0])}
    off = {p.field for p in parse_line_protocol(once(bridges[1], "influx")[0])}
    stripped = {n[len("jitsi_"):] for n in NOT_IN_METRICS}
    assert on - off <= stripped, on - off
    assert {"conferences_by_size_bucket", "conferences_by_size_sum", "conferences_by_size_count"} <= off


# --- telegraf (execd) ---------------------------------------------------------------------

def run_telegraf(url: str) -> Tuple[str, str]:
    from jitsi_metrics import telegraf

    stdout, stderr = io.StringIO(), io.StringIO()
    parser = telegraf_parser()
    args = parser.parse_args(["telegraf", "--url", url])
    assert telegraf.cmd_telegraf(args, stdout, stderr, stdin=io.StringIO("\n")) == 0
    return stdout.getvalue(), stderr.getvalue()


def telegraf_parser() -> Any:
    from jitsi_metrics.cli import build_parser

    return build_parser()


def sample_names(text: str) -> Set[str]:
    """Sample names of a text without # TYPE lines (what execd gets), where a histogram's
    _bucket, _sum and _count lines read as families of their own."""
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    assert [s.value for s in samples if s.name == "jitsi_up"] == [1]
    return {s.name for s in samples}


def test_telegraf_reads_a_default_config_bridge_from_its_base_url(bridges: Tuple[str, str, str]) -> None:
    on_text, _ = run_telegraf(bridges[0])
    off_text, off_err = run_telegraf(bridges[1])
    on, off = sample_names(on_text), sample_names(off_text)
    assert on - off <= NOT_IN_METRICS, on - off
    assert {h + part for h in HISTOGRAMS for part in ("_bucket", "_sum", "_count")} <= off
    assert "reading " in off_err and "/metrics, JVB /metrics" in off_err
    assert off_err.count("reading ") == 1


# --- exporter -----------------------------------------------------------------------------

def scrape(url: str, path: str = "/metrics") -> str:
    with urllib.request.urlopen(url + path, timeout=10) as response:
        return str(response.read().decode())


def test_exporter_reads_a_default_config_bridge_and_jicofo(bridges: Tuple[str, str, str]) -> None:
    on_url, off_url, jicofo_url = bridges
    log = io.StringIO()
    with running_exporter([bridge_options(on_url, name="on"), bridge_options(off_url, name="off")],
                          named=True, log=log) as exporter:
        families = list(text_string_to_metric_families(scrape(exporter.url)))
        probed = scrape(exporter.url, "/probe?target=off")
    by_bridge: Dict[str, Set[str]] = {"on": set(), "off": set()}
    for family in families:
        for sample in family.samples:
            by_bridge[sample.labels["bridge"]].add(family.name)
    assert_same_bridge_names(by_bridge["on"], by_bridge["off"])
    assert prometheus_names(probed) == by_bridge["off"]
    assert "reading " in log.getvalue() and "/metrics" in log.getvalue()
    with running_exporter([bridge_options(jicofo_url)], log=io.StringIO()) as exporter:
        names = prometheus_names(scrape(exporter.url))
    assert "jitsi_jicofo_conferences" in names and "jitsi_conferences" not in names


# --- collectd plugin (fake collectd) --------------------------------------------------------

def collectd_instances(fake: Any, *urls: str) -> Dict[str, Set[str]]:
    blocks = "".join(f'<Bridge "b{i}">\n URL "{url}"\n</Bridge>\n' for i, url in enumerate(urls))
    root = parse_config_text(f'<Module "jitsi_metrics.collectd_plugin">\n{blocks}</Module>\n')
    plugin = CollectdPlugin(fake)
    plugin.configure(root.children[0])
    plugin.init()
    try:
        plugin.read()
    finally:
        plugin.shutdown()
    found: Dict[str, Set[str]] = {}
    for value in fake.dispatched:
        found.setdefault(value.plugin_instance, set()).add(f"{value.type}-{value.type_instance}")
    return found


def test_collectd_plugin_reads_a_default_config_bridge_from_its_base_url(
        bridges: Tuple[str, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake = new_collectd()
    monkeypatch.setitem(sys.modules, "collectd", fake)
    found = collectd_instances(fake, bridges[0], bridges[1], bridges[2])
    on, off, jicofo = found["b0"], found["b1"], found["b2"]
    lacking = {i for i in on - off if i.split("-")[1].split("_")[0] in ("version", "release", "relay")
               or i == "gauge-average_participant_stress"}
    assert on - off == lacking, on - off
    assert {"gauge-up", "gauge-conferences_by_size_bucket-2.0", "gauge-conferences_by_size_count"} <= off
    assert "gauge-up" in jicofo and "gauge-participants_current" in jicofo
    notices = [line for level, line in fake.logs if "reading " in line]
    assert len(notices) == 2, fake.logs  # the two base URLs, once each

