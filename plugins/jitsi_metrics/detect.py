"""What answered: a pure classifier of one HTTP answer from a Jitsi component.

``classify(path, answer, component)`` looks at the status, content type and body (and,
when known, what ``/about/version`` said) and returns a ``Verdict``: the source it is
(JVB /colibri/stats, JVB /metrics, Jicofo /stats, Jicofo /metrics) or the problem, with
one line for a person saying what to do. ``choose`` picks the best source among the
answers to a base URL. No I/O here: probe.py asks, this module judges.
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, NamedTuple, Optional, Sequence, Tuple

from .catalogue import BY_KEY
from .logtext import loggable

JVB_COLIBRI = "jvb-colibri-stats"
JVB_METRICS = "jvb-metrics"
JICOFO_STATS = "jicofo-stats"
JICOFO_METRICS = "jicofo-metrics"
SOURCES = (JVB_COLIBRI, JVB_METRICS, JICOFO_STATS, JICOFO_METRICS)
SOURCE_TITLES = {
    JVB_COLIBRI: "JVB /colibri/stats",
    JVB_METRICS: "JVB /metrics",
    JICOFO_STATS: "Jicofo /stats",
    JICOFO_METRICS: "Jicofo /metrics",
}

# Problems; every Verdict without a source names one.
REST_OFF = "rest-api-off"
NOT_FOUND = "not-found"
STATS_OFF_EMPTY = "statistics-off-empty"
STATS_OFF_503 = "statistics-off-503"
RTCSTATS = "jvb-rtcstats"
HTML = "html-page"
LOGIN = "login-page"
AUTH = "auth-required"
NO_ACCEPT_500 = "metrics-500"
SERVER_ERROR = "server-error"
ABOUT_VERSION = "about-version"
UNRECOGNISED = "unrecognised"

# The best source first: /colibri/stats is authoritative for a bridge (its /metrics was a
# small subset before stable-9457); Jicofo's /stats exists in every era, /metrics since 2022.
PREFERENCE = (JVB_COLIBRI, JVB_METRICS, JICOFO_STATS, JICOFO_METRICS)
# Paths tried on a base URL, in order.
METRICS_PATH = "/metrics"
BASE_PATHS = ("/colibri/stats", METRICS_PATH, "/stats")
VERSION_PATH = "/about/version"

REST_ON_HINT = (
    "enable it with videobridge.apis.rest.enabled = true in jvb.conf "
    "(docker-jitsi-meet: JVB_ENABLE_APIS=rest) and restart the bridge"
)
_JICOFO_KEYS = frozenset({"bridge_selector", "jibri_detector", "sip_jibri_detector", "jigasi_detector", "jingle",
                          "bridge_failures", "participant_notifications", "endpoint_pairs"})
_JVB_METRICS_JSON = frozenset({"thread_count", "incoming_bitrate", "current_endpoints", "conferences_created_total",
                               "endpoints_total", "stress", "drain_mode"})
_JICOFO_METRICS_JSON = frozenset({"participants_current", "bridge_selector_bridge_count", "jibri_instances"})
_JICOFO_SERIES = re.compile(r"^jitsi_(jicofo_|bridge_selector_|jibri_|participants_current|jigasi_)", re.M)
_JVB_SERIES = re.compile(r"^jitsi_(jvb_|thread_count|incoming_bitrate|local_endpoints)", re.M)
_LOGIN = re.compile(rb"type=[\"']?password|log ?in|sign ?in|keycloak|oauth", re.I)
MAX_SHOWN = 60


class Answer(NamedTuple):
    """One HTTP answer: what a probe got back, the input of every judgement here."""

    status: int
    content_type: str
    body: bytes


class Component(NamedTuple):
    """What /about/version said: ``{"name":"JVB","version":"2.3.SNAPSHOT","os":"Linux"}``."""

    name: str
    version: str

    @property
    def is_jvb(self) -> bool:
        return self.name.lower() in ("jvb", "jitsi videobridge", "jitsi-videobridge")

    @property
    def is_jicofo(self) -> bool:
        return self.name.lower() == "jicofo"


class Verdict(NamedTuple):
    source: Optional[str]
    problem: str
    message: str

    @property
    def usable(self) -> bool:
        return self.source is not None


def shown(text: str) -> str:
    """Untrusted text from the other end, quoted, escaped and bounded as in every log line."""
    return f'"{loggable(text, MAX_SHOWN)}"'


def parse_about_version(answer: Optional[Answer]) -> Optional[Component]:
    if answer is None or answer.status != 200:
        return None
    try:
        data = json.loads(answer.body)
    except (ValueError, RecursionError):  # RecursionError: json's C parser on deep nesting
        return None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    version = data.get("version")
    return Component(data["name"][:MAX_SHOWN], version[:MAX_SHOWN] if isinstance(version, str) else "")


def _json(body: bytes) -> Tuple[bool, Any]:
    try:
        return True, json.loads(body)
    except ValueError:
        return False, None


def classify_object(path: str, data: Dict[str, Any], component: Optional[Component] = None) -> Verdict:
    """The source (or the problem) of a JSON object already parsed from an answer to ``path``."""
    keys = set(data)
    if not data:
        if path.endswith("/stats") and not path.endswith("/colibri/stats"):
            return Verdict(None, STATS_OFF_EMPTY, "the endpoint answered {}, an empty object")
        return Verdict(None, STATS_OFF_EMPTY,
                       "the bridge answered {}: statistics are off (JVB 2.x before stable-5765); set "
                       "videobridge.stats.enabled = true in jvb.conf (or org.jitsi.videobridge.ENABLE_STATISTICS=true) "
                       "and restart it")
    if keys == {"conferences"} and isinstance(data["conferences"], dict):
        return Verdict(None, RTCSTATS,
                       "this is JVB's rtcstats /stats (per-conference debug state), not its statistics; "
                       "use /colibri/stats or /metrics on the same port")
    if {"name", "version"} <= keys and len(keys) <= 4 and all(isinstance(v, str) for v in data.values()):
        return Verdict(None, ABOUT_VERSION, "this is an /about/version answer, not statistics")
    if keys & _JICOFO_KEYS:
        return Verdict(JICOFO_STATS, "", "Jicofo /stats")
    if keys & _JICOFO_METRICS_JSON:
        return Verdict(JICOFO_METRICS, "", "Jicofo /metrics (JSON form)")
    if keys & _JVB_METRICS_JSON:
        return Verdict(JVB_METRICS, "", "JVB /metrics (JSON form)")
    if component is not None and component.is_jicofo:
        # The first Jicofo /stats (2019) had only keys a bridge also sends.
        return Verdict(JICOFO_STATS, "", "Jicofo /stats")
    if keys & BY_KEY.keys():
        return Verdict(JVB_COLIBRI, "", "JVB /colibri/stats")
    example = shown(sorted(keys)[0])
    return Verdict(None, UNRECOGNISED, f"a JSON object this tool does not recognise (keys such as {example})")


def _classify_text(body: bytes, content_type: str) -> Verdict:
    head = body[:65536].decode("utf-8", "replace")
    if "html" in content_type or head.lstrip()[:1] == "<":
        if _LOGIN.search(body[:65536]):
            return Verdict(None, LOGIN,
                           "a login page answered: a proxy or single sign-on sits in front; point at the "
                           "component's private port (JVB :8080, Jicofo :8888) or give credentials")
        return Verdict(None, HTML, "an HTML page answered, not statistics: check the URL's host, port and path")
    if _JICOFO_SERIES.search(head):
        return Verdict(JICOFO_METRICS, "", "Jicofo /metrics")
    if _JVB_SERIES.search(head) or re.search(r"^jitsi_\w+ ", head, re.M):
        return Verdict(JVB_METRICS, "", "JVB /metrics")
    return Verdict(None, UNRECOGNISED, f"text this tool does not recognise, starting {shown(head.strip()[:40])}")


def classify(path: str, answer: Answer, component: Optional[Component] = None) -> Verdict:
    """The source (or the problem) of one answer to ``path``."""
    status = answer.status
    if status in (401, 403):
        return Verdict(None, AUTH, f"HTTP {status}: the server wants credentials; JVB and Jicofo have none, so a proxy "
                                   "is in the way: give --username with --password-file, or --token-file")
    if status == 404:
        if path.endswith("/colibri/stats") and component is not None and component.is_jvb:
            version = component.version or "version unknown"
            return Verdict(None, REST_OFF, f"HTTP 404: this JVB ({version}) has its REST API off, the default; "
                                           f"its /metrics gives the same statistics, or {REST_ON_HINT}")
        return Verdict(None, NOT_FOUND, "HTTP 404: nothing at this path; check it (JVB: :8080/colibri/stats or "
                                        ":8080/metrics, Jicofo: :8888/stats or :8888/metrics)")
    if status == 503 and path.endswith("/colibri/stats"):
        return Verdict(None, STATS_OFF_503, "HTTP 503: statistics are off on this JVB 1.x; set "
                                            "org.jitsi.videobridge.ENABLE_STATISTICS=true and restart it")
    if status == 500 and path.endswith("/metrics"):
        return Verdict(None, NO_ACCEPT_500, "HTTP 500: JVB answers so to a /metrics request without an Accept "
                                            "header; ask with Accept: text/plain")
    if status != 200:
        return Verdict(None, SERVER_ERROR, f"HTTP {status}")
    try:
        ok, data = _json(answer.body)
    except RecursionError:  # json's C parser gives up on deep nesting this way
        return Verdict(None, UNRECOGNISED, "JSON that nests too deeply to be statistics")
    if ok:
        if isinstance(data, dict):
            return classify_object(path, data, component)
        return Verdict(None, UNRECOGNISED, "JSON that is not an object")
    return _classify_text(answer.body, answer.content_type.lower())


def mismatch(expected: str, verdict: Verdict) -> str:
    """One line when the answer is not the source that was configured; "" when it is."""
    if verdict.source == expected:
        return ""
    wanted = SOURCE_TITLES.get(expected, expected)
    if verdict.source is None:
        return f"expected {wanted}, but {verdict.message}"
    got = SOURCE_TITLES[verdict.source]
    advice = "read it as that source" if verdict.source != JICOFO_STATS else \
        "Jicofo's /stats (port 8888) holds conference and bridge-selection numbers, not a bridge's"
    return f"expected {wanted}, but this is {got}; {advice}"


def is_base_url(path: str) -> bool:
    return path in ("", "/")


def choose(verdicts: Sequence[Tuple[str, Verdict]]) -> Optional[Tuple[str, Verdict]]:
    """The best usable (path, verdict) among the answers to a base URL, or None."""
    usable = [(p, v) for p, v in verdicts if v.usable]
    usable.sort(key=lambda pv: PREFERENCE.index(pv[1].source or ""))
    return usable[0] if usable else None
