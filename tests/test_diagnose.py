"""``jitsi-metrics check``: one paragraph per URL, the fix for each known failure, exit code."""
from __future__ import annotations

import io
import json
import socket

import pytest

from jitsi_metrics.cli import main
from jitsi_metrics.config import bridge_options
from jitsi_metrics.detect import Answer
from jitsi_metrics.diagnose import CONTAINER_HINT, diagnose, render_report
from jitsi_metrics.probe import DNS, REFUSED, TIMEOUT, TLS, ProbeError

OPTIONS = bridge_options("http://127.0.0.1:8080/colibri/stats")


def run_check(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", *argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_default_config_bridge_is_found_through_metrics(server_of):
    bridge = server_of(rest_enabled=False)
    code, out, _ = run_check(bridge.base_url)
    assert code == 0
    assert "JVB 2.3.307-gsimulated answered /about/version" in out
    assert "REST API off" in out and "videobridge.apis.rest.enabled = true" in out and "JVB_ENABLE_APIS=rest" in out
    assert "/metrics: JVB /metrics" in out and "<- used" in out
    assert "Gives metrics through /metrics." in out
    assert "--apis" not in out


def test_colibri_stats_url_with_rest_off_fails_and_names_the_way_out(server_of):
    bridge = server_of(rest_enabled=False)
    code, out, _ = run_check(bridge.url)
    assert code == 1
    assert f"use {bridge.base_url}/metrics" in out


def test_bridge_with_rest_on_uses_colibri_stats(server_of):
    bridge = server_of()
    code, out, _ = run_check(bridge.base_url, "--format", "json")
    (report,) = json.loads(out)
    assert code == 0 and report["uses"] == "/colibri/stats" and report["component"]["name"] == "JVB"
    by_path = {p["path"]: p for p in report["paths"]}
    assert by_path["/colibri/stats"]["metrics"] > 70
    assert by_path["/metrics"]["source"] == "jvb-metrics"
    assert by_path["/stats"]["source"] is None


def test_jicofo_and_a_dead_port_together(server_of):
    jicofo = server_of(component="jicofo")
    dead = f"http://127.0.0.1:{free_port()}"
    code, out, _ = run_check(jicofo.base_url, dead)
    assert code == 1
    paragraphs = out.split("\n\n")
    assert len(paragraphs) == 2
    assert "JiCoFo" in paragraphs[0] and "Gives metrics through /stats." in paragraphs[0]
    assert "not reachable: connection refused" in paragraphs[1] and CONTAINER_HINT in paragraphs[1]


def fake_fetch(answers):
    def fetch(url, options):
        for suffix, answer in answers.items():
            if url.endswith(suffix):
                if isinstance(answer, ProbeError):
                    raise answer
                return answer
        return Answer(404, "text/html", b"")
    return fetch


@pytest.mark.parametrize("name,answers,says", [
    ("{} on old 2.x", {"/colibri/stats": Answer(200, "application/json", b"{}")}, "videobridge.stats.enabled = true"),
    ("503 on 1.x", {"/colibri/stats": Answer(503, "text/html", b"")}, "ENABLE_STATISTICS=true"),
    ("HTML page", {"/colibri/stats": Answer(200, "text/html", b"<html>Jitsi Meet</html>")}, "HTML page"),
    ("login page", {"/colibri/stats": Answer(200, "text/html", b'<input type="password">')}, "login page"),
    ("auth", {"/colibri/stats": Answer(401, "text/html", b"")}, "--password-file"),
])
def test_known_failures_at_a_reachable_host(name, answers, says):
    report = diagnose("http://meet1:8080/colibri/stats", OPTIONS, fake_fetch(answers))
    assert not report.ok, name
    assert says in render_report(report)


@pytest.mark.parametrize("name,kind,host,says,hint", [
    ("TLS", TLS, "meet1", "--ca-file", False),
    ("timeout", TIMEOUT, "meet1", "no answer within 5 s", False),
    ("timeout to localhost", TIMEOUT, "localhost", "no answer within", True),
    ("refused on localhost", REFUSED, "127.0.0.1", "connection refused", True),
    ("DNS", DNS, "meet1", "does not resolve", False),
])
def test_unreachable(name, kind, host, says, hint):
    report = diagnose(f"https://{host}:8080", OPTIONS, fake_fetch({"": ProbeError(kind, "reason")}))
    text = render_report(report)
    assert not report.reachable and says in text, name
    assert (CONTAINER_HINT in text) == hint


def test_json_format_lists_every_url():
    report = diagnose("http://meet1:8080", OPTIONS, fake_fetch({}))
    data = report.as_json()
    assert data["ok"] is False and data["uses"] is None and len(data["paths"]) == 3
