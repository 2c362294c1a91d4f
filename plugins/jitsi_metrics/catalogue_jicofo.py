# ruff: noqa: E501  (one catalogue row per line reads best as a table)
"""Jicofo's statistics: one row per metric, named exactly as Jicofo's own /metrics names it.

A row gives the series name Jicofo's /metrics exposes (without ``jitsi_jicofo_``, counters
with ``_total``) and the paths in /stats that hold the same number, newest era first.
The output name is ``jitsi_jicofo_`` + that series name, so dashboards work whether
Prometheus scrapes Jicofo directly or through this package. Rows with no /metrics series
(``paths`` only) get a name by the same rule; rows with no path come only from /metrics.

Kinds: ``number`` and ``bool`` as in the JVB catalogue; ``info`` (the version label).
Dynamic families (Jingle actions, the conference-size buckets, old bridge-selector
strategies) are mapped by rules in jicofo_map.py; their rows here carry their HELP.
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Tuple

from .catalogue import BOOL, NUMBER, STRING
from .samples import COUNTER, GAUGE

JICOFO_PREFIX = "jitsi_jicofo_"
NAMESPACES = ("jitsi_jicofo_", "jitsi_")
DYNAMIC = "dynamic"

Path = Tuple[str, ...]


class JicofoMetric(NamedTuple):
    exposed: str
    kind: str
    type: str
    unit: str
    help: str
    versions: str
    paths: Tuple[Path, ...] = ()
    label: str = ""

    @property
    def name(self) -> str:
        return JICOFO_PREFIX + self.exposed

    @property
    def help_text(self) -> str:
        return f"{self.help} ({self.unit})." if self.unit else f"{self.help}."


def _g(exposed: str, unit: str, help: str, versions: str, *paths: Path, kind: str = NUMBER) -> JicofoMetric:
    return JicofoMetric(exposed, kind, GAUGE, unit, help, versions, paths)


def _c(exposed: str, unit: str, help: str, versions: str, *paths: Path) -> JicofoMetric:
    return JicofoMetric(exposed, NUMBER, COUNTER, unit, help, versions, paths)


JICOFO_METRICS: Tuple[JicofoMetric, ...] = (
    _g("conferences", "conferences", "Conferences Jicofo runs now, health-check rooms left out", "4101 → HEAD", ("conferences",)),
    _g("participants_current", "participants", "Participants now, visitors included on newer Jicofo", "4101 → HEAD", ("participants",)),
    _g("visitors_current", "participants", "Visitors now", "8615 → HEAD", ("visitors",)),
    _g("conferences_with_visitors", "conferences", "Conferences with at least one visitor", "8615 → HEAD", ("conferences_with_visitors",)),
    _g("largest_conference", "participants", "Participants in the largest conference", "4101 → HEAD", ("largest_conference",)),
    _g("participants_pairs", "pairs", "Sum over conferences of n·(n−1) for n participants", "7416 → HEAD", ("endpoint_pairs",)),
    _c("conferences_created_total", "conferences", "Conferences created since Jicofo started", "4101 → HEAD", ("total_conferences_created",)),
    _c("participants_total", "participants", "Participants that joined since Jicofo started", "4101 → HEAD", ("total_participants",)),
    _g("bridge_selector_bridge_count", "bridges", "Bridges Jicofo knows", "4376 → HEAD", ("bridge_selector", "bridge_count")),
    _g("bridge_selector_bridge_count_operational", "bridges", "Bridges Jicofo considers operational", "4376 → HEAD", ("bridge_selector", "operational_bridge_count")),
    _g("bridge_selector_bridge_count_in_shutdown", "bridges", "Bridges in graceful shutdown", "5765 → HEAD", ("bridge_selector", "in_shutdown_bridge_count")),
    _g("bridge_selector_bridge_version_count", "versions", "Different bridge versions in use", "7830 → HEAD", ("bridge_selector", "bridge_version_count")),
    _c("bridge_selector_lost_bridges_total", "bridges", "Bridges that disconnected unexpectedly", "6433 → HEAD", ("bridge_selector", "lost_bridges")),
    _c("participants_moved_total", "participants", "Participants moved away from a failed bridge", "5390 → HEAD", ("bridge_failures", "participants_moved")),
    _c("bridges_removed_total", "events", "Times a failed bridge was removed from a conference", "5390 → HEAD", ("bridge_failures", "bridges_removed")),
    _c("participants_ice_failed_total", "participants", "Participants that reported an ICE failure", "5390 → HEAD", ("participant_notifications", "ice_failed")),
    _c("participants_restart_requested_total", "requests", "Participants that asked for a session restart", "5390 → HEAD", ("participant_notifications", "request_restart")),
    _g("jibri_instances", "instances", "Jibri instances Jicofo sees", "4376 → HEAD", ("jibri_detector", "count")),
    _g("jibri_instances_available", "instances", "Jibri instances free to record or stream", "5765 → HEAD", ("jibri_detector", "available")),
    _g("sip_jibri_instances", "instances", "SIP Jibri instances Jicofo sees", "4376 → HEAD", ("sip_jibri_detector", "count")),
    _g("sip_jibri_instances_available", "instances", "SIP Jibri instances free for a call", "4376 → HEAD", ("sip_jibri_detector", "available")),
    _g("jigasi_sip_count", "instances", "Jigasi instances that take SIP calls", "4376 → HEAD, with Jigasi", ("jigasi_detector", "sip_count")),
    _g("jigasi_transcriber_count", "instances", "Jigasi instances that transcribe", "4376 → HEAD, with Jigasi", ("jigasi_detector", "transcriber_count")),
    _g("jigasi_sip_in_graceful_shutdown_count", "instances", "SIP Jigasi instances in graceful shutdown", "4857 → HEAD, with Jigasi", ("jigasi_detector", "sip_in_graceful_shutdown_count")),
    _g("jibri_live_streaming_active", "sessions", "Jibri live streams running", "5390 → HEAD", ("jibri", "live_streaming_active")),
    _g("jibri_recording_active", "sessions", "Jibri recordings running", "5390 → HEAD", ("jibri", "recording_active")),
    _g("jibri_sip_active", "sessions", "Jibri SIP calls running", "5390 → HEAD", ("jibri", "sip_call_active")),
    _g("jibri_live_streaming_pending", "sessions", "Jibri live streams waiting to start", "5390 → 7577, /stats only", ("jibri", "live_streaming_pending")),
    _g("jibri_recording_pending", "sessions", "Jibri recordings waiting to start", "5390 → 7577, /stats only", ("jibri", "recording_pending")),
    _g("jibri_sip_pending", "sessions", "Jibri SIP calls waiting to start", "5390 → 7577, /stats only", ("jibri", "sip_call_pending")),
    _c("jibri_sip_failures_total", "sessions", "Jibri SIP calls that failed", "4376 → HEAD", ("jibri", "total_sip_call_failures"), ("total_sip_call_failures",)),
    _c("jibri_live_streaming_failures_total", "sessions", "Jibri live streams that failed", "4376 → HEAD", ("jibri", "total_live_streaming_failures"), ("total_live_streaming_failures",)),
    _c("jibri_recording_failures_total", "sessions", "Jibri recordings that failed", "4376 → HEAD", ("jibri", "total_recording_failures"), ("total_recording_failures",)),
    _c("jibri_no_instance_failures_total", "sessions", "Jibri sessions refused because no instance was free", "HEAD (2026)"),
    _c("jigasi_iq_handler_rejected_requests_total", "requests", "Jigasi requests Jicofo rejected", "5765 → HEAD", ("jigasi", "rejected_requests")),
    _c("jigasi_iq_handler_accepted_requests_total", "requests", "Jigasi requests Jicofo accepted", "5765 → HEAD", ("jigasi", "accepted_requests")),
    _c("jigasi_iq_handler_retries_total", "requests", "Jigasi requests retried on another instance", "5765 → HEAD", ("jigasi", "retries")),
    _c("jigasi_iq_handler_instance_errors_total", "requests", "Jigasi requests an instance answered with an error", "5765 → HEAD", ("jigasi", "instance_errors")),
    _c("jigasi_iq_handler_instance_timeouts_total", "requests", "Jigasi requests an instance did not answer in time", "5765 → HEAD", ("jigasi", "instance_timeout")),
    _c("conference_requests_total", "requests", "Conference requests received", "9111 → HEAD"),
    _c("conference_requests_new_total", "requests", "Conference requests for conferences not yet running", "9111 → HEAD"),
    _c("load_redistributor_endpoints_moved_total", "endpoints", "Endpoints moved between bridges to spread load", "10169 → HEAD"),
    _c("participants_no_start_muted_rmd_total", "participants", "Participants whose client cannot start muted through room metadata", "10314 → HEAD"),
    _c("participants_no_multi_stream_total", "participants", "Participants whose client does not support multiple streams", "7577 → 9220", ("total_participants_no_multi_stream",)),
    _c("participants_no_source_name_total", "participants", "Participants whose client does not signal source names", "7577 → 9220", ("total_participants_no_source_name",)),
    _c("xmpp_disconnects_total", "disconnections", "Times one of Jicofo's XMPP connections dropped", "9909 → HEAD"),
    _c("bridge_selection_rate_limited_total", "selections", "Bridge selections delayed by the rate limit", "HEAD (2026)"),
    # Jicofo declares these two gauges, though they only grow: counters are counters.
    _c("conferences_seconds", "seconds", "Summed duration of ended conferences", "9909 → HEAD"),
    _c("endpoint_seconds", "seconds", "Summed time endpoints spent in conferences", "9909 → HEAD"),
    # Per-bridge series; Jicofo labels them jvb="<bridge id>".
    _g("bridge_endpoints", "endpoints", "Endpoints Jicofo has placed on this bridge", "9909 → HEAD"),
    _g("bridge_failing_ice", "1 yes, 0 no", "Whether this bridge is marked as failing ICE", "9909 → HEAD", kind=BOOL),
    _c("bridge_endpoints_moved_total", "endpoints", "Endpoints moved away from this bridge", "10169 → HEAD"),
    _c("bridge_restart_requests_total", "requests", "Restart requests sent to this bridge", "10073 → HEAD"),
    _c("ice_restarts_requested_total", "restarts", "ICE restarts participants asked for", "HEAD (2026)"),
    _c("ice_restarts_relayed_total", "restarts", "ICE restarts relayed to a bridge", "HEAD (2026)"),
    _c("ice_restarts_not_needed_total", "restarts", "ICE restart requests Jicofo found unnecessary", "HEAD (2026)"),
    _c("ice_restarts_failed_total", "restarts", "ICE restarts that failed", "HEAD (2026)"),
    _c("slow_health_check_total", "checks", "Health checks that took too long", "4546 → HEAD, /stats only", ("slow_health_check",)),
    _g("threads", "threads", "Threads of Jicofo's Java virtual machine", "4627 → HEAD", ("threads",)),
    _g("healthy", "1 yes, 0 no", "Whether Jicofo's last health check passed", "7416 → HEAD", ("healthy",), kind=BOOL),
    JicofoMetric("version_info", STRING, GAUGE, "", "Jicofo version, as a label; the value is always 1", "8719 → HEAD", (("version",),), "version"),
    # Rows filled by rules in jicofo_map.py.
    JicofoMetric("conference_sizes", DYNAMIC, GAUGE, "conferences", "Conferences by number of participants; the label is the size, the last index counts that size or more", "4101 → 7287, /stats only", (("conference_sizes",),), "conference_size"),
    JicofoMetric("conference_size_buckets", DYNAMIC, GAUGE, "conferences", "Conferences by number of participants, in Jicofo's ranges; the label is the range, as Jicofo names it", "7416 → HEAD, /stats only", (("conference_sizes",),), "bucket"),
    JicofoMetric("jingle_<action>_received_total", DYNAMIC, COUNTER, "stanzas", "Jingle stanzas of this action received", "5765 → HEAD", (("jingle", "received"),)),
    JicofoMetric("jingle_<action>_sent_total", DYNAMIC, COUNTER, "stanzas", "Jingle stanzas of this action sent", "5765 → HEAD", (("jingle", "sent"),)),
    JicofoMetric("bridge_selector_<strategy>_total", DYNAMIC, COUNTER, "selections", "Bridges picked by this strategy", "4376 → 9909, /stats only", (("bridge_selector",),)),
)

BY_EXPOSED: Dict[str, JicofoMetric] = {m.exposed: m for m in JICOFO_METRICS if m.kind != DYNAMIC}
DYNAMIC_ROWS: Dict[str, JicofoMetric] = {m.exposed: m for m in JICOFO_METRICS if m.kind == DYNAMIC}
# /stats objects whose keys the rows above read; anything else in them is ignored knowingly.
STATS_OBJECTS = ("bridge_selector", "bridge_failures", "participant_notifications", "jibri_detector",
                 "sip_jibri_detector", "jigasi_detector", "jibri", "jigasi", "jingle")
