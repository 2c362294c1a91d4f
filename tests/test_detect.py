"""What answered (detect.py): every captured answer, and every known wrong endpoint."""
from __future__ import annotations

from pathlib import Path

import pytest

from jitsi_metrics import detect
from jitsi_metrics.detect import (
    JICOFO_METRICS,
    JICOFO_STATS,
    JVB_COLIBRI,
    JVB_METRICS,
    Answer,
    Component,
    Verdict,
    choose,
    classify,
    mismatch,
    parse_about_version,
)

PAYLOADS = Path(__file__).resolve().parent / "payloads"
LOCAL = PAYLOADS / "jvb-2.3-head-local-build"
JVB = Component("JVB", "2.3.SNAPSHOT")
JICOFO = Component("JiCoFo", "1.1.SNAPSHOT")

OM = "application/openmetrics-text"
# Every file of the local capture: (path asked, status, content type, component, source, problem).
CAPTURED = {
    "jicofo-idle.about-version.json": ("/about/version", 200, "application/json", JICOFO, None, detect.ABOUT_VERSION),
    "jicofo-idle.metrics.json": ("/metrics", 200, "application/json", JICOFO, JICOFO_METRICS, ""),
    "jicofo-idle.metrics.openmetrics.txt": ("/metrics", 200, OM, JICOFO, JICOFO_METRICS, ""),
    "jicofo-idle.metrics.text-plain.txt": ("/metrics", 200, "text/plain", JICOFO, JICOFO_METRICS, ""),
    "jicofo-idle.stats.json": ("/stats", 200, "application/json", JICOFO, JICOFO_STATS, ""),
    "jvb-conference.colibri-stats.json": ("/colibri/stats", 200, "application/json", JVB, JVB_COLIBRI, ""),
    "jvb-conference.metrics.json": ("/metrics", 200, "application/json", JVB, JVB_METRICS, ""),
    "jvb-conference.metrics.openmetrics.txt": ("/metrics", 200, OM, JVB, JVB_METRICS, ""),
    "jvb-conference.metrics.text-plain.txt": ("/metrics", 200, "text/plain", JVB, JVB_METRICS, ""),
    "jvb-idle.about-version.json": ("/about/version", 200, "application/json", JVB, None, detect.ABOUT_VERSION),
    "jvb-idle.colibri-stats.json": ("/colibri/stats", 200, "application/json", JVB, JVB_COLIBRI, ""),
    "jvb-idle.metrics.json": ("/metrics", 200, "application/json", JVB, JVB_METRICS, ""),
    "jvb-idle.metrics.no-accept-header.500.html": ("/metrics", 500, "text/html", JVB, None, detect.NO_ACCEPT_500),
    "jvb-idle.metrics.openmetrics.txt": ("/metrics", 200, OM, JVB, JVB_METRICS, ""),
    "jvb-idle.metrics.text-plain.txt": ("/metrics", 200, "text/plain", JVB, JVB_METRICS, ""),
    "jvb-idle.stats-endpoint.rtcstats.json": ("/stats", 200, "application/json", JVB, None, detect.RTCSTATS),
    "jvb-optional-keys.colibri-stats.json": ("/colibri/stats", 200, "application/json", JVB, JVB_COLIBRI, ""),
    "jvb-optional-keys.metrics.openmetrics.txt": ("/metrics", 200, OM, JVB, JVB_METRICS, ""),
    "jvb-rest-disabled.colibri-stats.404.html": ("/colibri/stats", 404, "text/html", JVB, None, detect.REST_OFF),
}


def test_the_table_covers_every_captured_file():
    assert set(CAPTURED) == {p.name for p in LOCAL.iterdir() if p.name != "SOURCE.md"}


@pytest.mark.parametrize("name", sorted(CAPTURED))
def test_captured_answer(name):
    path, status, ctype, component, source, problem = CAPTURED[name]
    verdict = classify(path, Answer(status, ctype, (LOCAL / name).read_bytes()), component)
    assert (verdict.source, verdict.problem) == (source, problem)


@pytest.mark.parametrize("path", sorted(PAYLOADS.glob("real/*.json")), ids=lambda p: p.name)
def test_every_real_payload_is_recognised(path):
    expected = JICOFO_STATS if path.name.startswith("jicofo") else JVB_COLIBRI
    assert classify("/colibri/stats", Answer(200, "application/json", path.read_bytes())).source == expected


LOGIN_PAGE = b'<html><form action="/login"><input type="password" name="pw"></form></html>'


@pytest.mark.parametrize("name,path,answer,component,problem,says", [
    ("REST API off on a JVB", "/colibri/stats", Answer(404, "text/html", b"<html>404</html>"), JVB, detect.REST_OFF,
     "videobridge.apis.rest.enabled = true"),
    ("404 from something else", "/colibri/stats", Answer(404, "text/html", b"nope"), None, detect.NOT_FOUND,
     "check it"),
    ("404 from Jicofo", "/colibri/stats", Answer(404, "text/html", b"nope"), JICOFO, detect.NOT_FOUND, ":8888/stats"),
    ("{} from JVB 2.x with statistics off", "/colibri/stats", Answer(200, "application/json", b"{}"), JVB,
     detect.STATS_OFF_EMPTY, "videobridge.stats.enabled = true"),
    ("503 from JVB 1.x with statistics off", "/colibri/stats", Answer(503, "text/html", b""), None,
     detect.STATS_OFF_503, "ENABLE_STATISTICS=true"),
    ("HTML page", "/colibri/stats", Answer(200, "text/html", b"<html><body>Jitsi Meet</body></html>"), None,
     detect.HTML, "HTML page"),
    ("login page", "/colibri/stats", Answer(200, "text/html", LOGIN_PAGE), None, detect.LOGIN, "login page"),
    ("basic auth", "/colibri/stats", Answer(401, "text/html", b""), None, detect.AUTH, "--password-file"),
    ("forbidden", "/metrics", Answer(403, "text/plain", b""), None, detect.AUTH, "credentials"),
    ("rtcstats /stats of a JVB", "/stats", Answer(200, "application/json", b'{"conferences":{"a":{}}}'), JVB,
     detect.RTCSTATS, "rtcstats"),
    ("JSON array", "/colibri/stats", Answer(200, "application/json", b"[1,2]"), None, detect.UNRECOGNISED, "not an"),
    ("other server error", "/colibri/stats", Answer(502, "text/html", b""), None, detect.SERVER_ERROR, "502"),
])
def test_wrong_endpoints(name, path, answer, component, problem, says):
    verdict = classify(path, answer, component)
    assert verdict.source is None and verdict.problem == problem, name
    assert says in verdict.message, verdict.message
    assert "--apis" not in verdict.message  # JVB ignores it since stable-8044


def test_docker_spelling_of_rest_on():
    verdict = classify("/colibri/stats", Answer(404, "text/html", b""), JVB)
    assert "JVB_ENABLE_APIS=rest" in verdict.message and "/metrics" in verdict.message


def test_untrusted_text_in_messages_is_bounded():
    verdict = classify("/x", Answer(200, "text/plain", b"A" * 10000))
    assert len(verdict.message) < 200


def test_jicofo_stats_where_a_bridge_was_expected_says_so():
    body = (LOCAL / "jicofo-idle.stats.json").read_bytes()
    verdict = classify("/colibri/stats", Answer(200, "application/json", body))
    line = mismatch(JVB_COLIBRI, verdict)
    assert "Jicofo /stats" in line and "not a bridge's" in line
    assert mismatch(JICOFO_STATS, verdict) == ""


def test_mismatch_for_a_problem_repeats_its_advice():
    verdict = classify("/stats", Answer(200, "application/json", b'{"conferences":{}}'), JVB)
    assert mismatch(JICOFO_STATS, verdict).startswith("expected Jicofo /stats, but this is JVB's rtcstats")


def test_first_jicofo_stats_is_told_apart_by_about_version():
    body = b'{"conferences": 1, "participants": 2, "largest_conference": 2, "total_participants": 5}'
    assert classify("/stats", Answer(200, "application/json", body), JICOFO).source == JICOFO_STATS
    assert classify("/stats", Answer(200, "application/json", body), JVB).source == JVB_COLIBRI


def test_about_version():
    assert parse_about_version(Answer(200, "application/json", (LOCAL / "jvb-idle.about-version.json").read_bytes())) \
        == Component("JVB", "2.3.SNAPSHOT")
    assert parse_about_version(Answer(404, "text/html", b"")) is None
    assert parse_about_version(Answer(200, "text/html", b"<html>")) is None
    assert JICOFO.is_jicofo and JVB.is_jvb and not JVB.is_jicofo


@pytest.mark.parametrize("name,answers,best", [
    ("colibri stats when enabled", [("/colibri/stats", JVB_COLIBRI), ("/metrics", JVB_METRICS)], "/colibri/stats"),
    ("else /metrics", [("/colibri/stats", None), ("/metrics", JVB_METRICS), ("/stats", None)], "/metrics"),
    ("Jicofo /stats before its /metrics", [("/metrics", JICOFO_METRICS), ("/stats", JICOFO_STATS)], "/stats"),
    ("nothing usable", [("/colibri/stats", None)], None),
])
def test_choose(name, answers, best):
    verdicts = [(path, Verdict(source, "" if source else "x", "")) for path, source in answers]
    chosen = choose(verdicts)
    assert (chosen[0] if chosen else None) == best, name
