"""The metric catalogue: the one place that says which bridge keys become which metrics.

Every renderer, the payload schema, the field checks and docs/metrics.md derive from
the tables below. A row names the /colibri/stats key, the JSON kind the bridge sends,
the metric type, the unit, a HELP text and the JVB versions that send the key.

Kinds:
  number  a JSON number (int or float, by era) -> ``jitsi_<key>``
  bool    true/false -> a 0/1 gauge ``jitsi_<key>``
  string  a string -> ``jitsi_<key>_info{<key>="..."} 1``
  array   a list of numbers indexed by size -> one sample per index, labelled
  ignore  known keys that carry no metric (timestamps, debug objects)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from .samples import COUNTER, GAUGE

METRIC_PREFIX = "jitsi_"

NUMBER = "number"
BOOL = "bool"
STRING = "string"
ARRAY = "array"
IGNORE = "ignore"


@dataclass(frozen=True)
class Metric:
    key: str
    kind: str
    type: str
    unit: str
    help: str
    versions: str
    name: str = ""
    label: str = ""
    # Names the Go exporter used where they differ from ``name``; only the drop-in
    # exporter emits them, so dashboards written for it keep finding their series.
    legacy_names: Tuple[str, ...] = ()

    # HELP as rendered: the sentence plus its unit. Computed once, read on every poll.
    help_text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            suffix = "_info" if self.kind == STRING else ""
            object.__setattr__(self, "name", METRIC_PREFIX + self.key + suffix)
        if self.kind == STRING and not self.label:
            object.__setattr__(self, "label", self.key)
        help_text = f"{self.help} ({self.unit})." if self.unit else f"{self.help}."
        object.__setattr__(self, "help_text", help_text)


def _g(key: str, unit: str, help: str, versions: str, kind: str = NUMBER, **kw: str) -> Metric:
    return Metric(key=key, kind=kind, type=GAUGE, unit=unit, help=help, versions=versions, **kw)  # type: ignore[arg-type]


def _c(key: str, unit: str, help: str, versions: str, **kw: object) -> Metric:
    return Metric(key=key, kind=NUMBER, type=COUNTER, unit=unit, help=help, versions=versions, **kw)  # type: ignore[arg-type]


HEAD = "HEAD"
V2 = "2.x"

# Versions are written "first → last": build numbers for 1.x, stable-NNNN tags for 2.x.
COLIBRI_METRICS: Tuple[Metric, ...] = (
    # Load
    _g("conferences", "conferences", "Conferences currently hosted by the bridge", "1.x → HEAD"),
    _g("participants", "endpoints", "Endpoints currently connected, relayed ones included (older alias of endpoints)", "1.x → HEAD"),
    _g("endpoints", "endpoints", "Endpoints currently connected, relayed ones included", "stable-6433 → HEAD"),
    _g("local_endpoints", "endpoints", "Endpoints connected to this bridge directly, not through a relay", "stable-6433 → HEAD"),
    _g("local_active_endpoints", "endpoints", "Local endpoints in conferences where someone sends audio or video", "stable-5765 → HEAD"),
    _g("largest_conference", "endpoints", "Endpoints in the largest conference, relayed ones included", "785 → HEAD"),
    _g("receive_only_endpoints", "endpoints", "Local endpoints in active conferences that send neither audio nor video", "stable-4335 → HEAD"),
    _g("inactive_endpoints", "endpoints", "Endpoints in conferences where nobody sends audio or video", "stable-4335 → HEAD"),
    _g("inactive_conferences", "conferences", "Conferences where nobody sends audio or video, peer-to-peer ones included", "stable-4335 → HEAD"),
    _g("p2p_conferences", "conferences", "Inactive two-endpoint conferences, presumed to run peer to peer", "stable-4335 → HEAD"),
    _g("endpoints_sending_audio", "endpoints", "Local endpoints sending audio other than silence", "stable-4335 → HEAD"),
    _g("endpoints_sending_video", "endpoints", "Local endpoints sending video", "stable-4335 → HEAD"),
    _g("endpoints_with_high_outgoing_loss", "endpoints", "Active endpoints losing more than 10 % of what the bridge sends them", "stable-5765 → HEAD"),
    _g("endpoints_with_suspended_sources", "endpoints", "Endpoints for which some video is suspended because their bandwidth estimate is too low", "stable-7416 → HEAD"),
    _g("num_eps_oversending", "endpoints", "Endpoints the bridge currently sends more than their bandwidth estimate to", "stable-5390 → HEAD"),
    _g("visitors", "endpoints", "Visitor endpoints currently connected", "stable-8044 → HEAD"),
    _g("threads", "threads", "Threads of the bridge's Java virtual machine", "1.x → HEAD"),
    _g("stress_level", "ratio, 0 idle, 1 full, may exceed 1", "Load estimate Jicofo uses to pick bridges", "stable-5073 → HEAD"),
    _g("average_participant_stress", "ratio", "Configured stress one participant is assumed to add", "stable-5765 → HEAD"),
    _g("muc_clients_configured", "connections", "XMPP client connections configured for the bridge's MUCs", "stable-4335 → HEAD"),
    _g("muc_clients_connected", "connections", "XMPP client connections currently established", "stable-4335 → HEAD"),
    _g("mucs_configured", "rooms", "Brewery MUCs configured", "stable-4335 → HEAD"),
    _g("mucs_joined", "rooms", "Brewery MUCs currently joined", "stable-4335 → HEAD"),
    # Traffic
    _g("bit_rate_download", "kilobits per second", "Media bitrate the bridge receives", "1.x → HEAD"),
    _g("bit_rate_upload", "kilobits per second", "Media bitrate the bridge sends", "1.x → HEAD"),
    _g("packet_rate_download", "packets per second", "RTP packets the bridge receives", "785 → HEAD"),
    _g("packet_rate_upload", "packets per second", "RTP packets the bridge sends", "785 → HEAD"),
    _g("octo_conferences", "conferences", "Conferences that use Octo or, since 2022, bridge relays", "stable-4335 → HEAD"),
    _g("octo_endpoints", "endpoints", "Endpoints that reach this bridge through Octo or a relay", "stable-4335 → HEAD"),
    _g("octo_receive_bitrate", "bits per second", "Bitrate received from Octo peers or relays", "stable-4335 → HEAD"),
    _g("octo_send_bitrate", "bits per second", "Bitrate sent to Octo peers or relays", "stable-4335 → HEAD"),
    _g("octo_receive_packet_rate", "packets per second", "Packets received from Octo peers or relays", "stable-4335 → HEAD"),
    _g("octo_send_packet_rate", "packets per second", "Packets sent to Octo peers or relays", "stable-4335 → HEAD"),
    # Quality
    _g("rtt_aggregate", "milliseconds", "Mean round-trip time over local endpoints that report one", "785 → HEAD"),
    _g("incoming_loss", "fraction 0 to 1", "Share of incoming RTP packets lost", "stable-5142 → HEAD"),
    _g("outgoing_loss", "fraction 0 to 1", "Share of outgoing RTP packets lost, from receiver reports", "stable-5142 → HEAD"),
    _g("overall_loss", "fraction 0 to 1", "Share of RTP packets lost in both directions", "stable-5142 → HEAD"),
    _g("tcc_unmatched_feedback", "reports", "Transport-cc feedback not matched to sent packets, summed over current endpoints (can drop)", "HEAD (2026-08)"),
    # Health and state
    _g("graceful_shutdown", "1 yes, 0 no", "Whether the bridge is in graceful shutdown and takes no new conferences", "500 → HEAD", kind=BOOL),
    _g("shutting_down", "1 yes, 0 no", "Whether the bridge is shutting down (before stable-9457 only sent once true)", "stable-7210 → HEAD", kind=BOOL),
    _g("drain", "1 yes, 0 no", "Whether the bridge is in drain mode, so Jicofo avoids it for new endpoints", "stable-6865 → HEAD", kind=BOOL),
    _g("healthy", "1 yes, 0 no", "Result of the bridge's last health check", "stable-7210 → HEAD", kind=BOOL),
    _g("version", "", "Bridge software version, as a label; the value is always 1", "2.x → HEAD", kind=STRING),
    _g("release", "", "Configured release identifier, as a label; the value is always 1", "stable-7001 → HEAD, optional", kind=STRING),
    _g("region", "", "Configured region, as a label; the value is always 1", "1000 → HEAD, optional", kind=STRING),
    _g("relay_id", "", "Relay or Octo identifier, as a label; the value is always 1", "1000 → HEAD, optional", kind=STRING),
    # Counters (monotonic since the bridge started)
    _c("total_conferences_created", "conferences", "Conferences created since the bridge started", "785 → HEAD"),
    _c("total_conferences_completed", "conferences", "Conferences that ended since the bridge started", "785 → HEAD"),
    _c("total_conference_seconds", "seconds", "Summed duration of ended conferences, advancing when a conference ends", "785 → HEAD"),
    _c("total_participants", "endpoints", "Endpoints created since the bridge started", "stable-4335 → HEAD"),
    _c("total_visitors", "endpoints", "Visitor endpoints created since the bridge started", "stable-8044 → HEAD"),
    _c("total_relays", "relays", "Relays created since the bridge started", "stable-6865 → HEAD"),
    _c("total_bytes_received", "bytes", "RTP bytes received from endpoints", "stable-3344 → HEAD"),
    _c("total_bytes_sent", "bytes", "RTP bytes sent to endpoints", "stable-3344 → HEAD"),
    _c("total_packets_received", "packets", "RTP packets received from endpoints", "stable-3344 → HEAD"),
    _c("total_packets_sent", "packets", "RTP packets sent to endpoints", "stable-3344 → HEAD"),
    _c("total_bytes_received_octo", "bytes", "Bytes received from Octo peers or relays", "stable-3344 → HEAD"),
    _c("total_bytes_sent_octo", "bytes", "Bytes sent to Octo peers or relays", "stable-3344 → HEAD"),
    _c("total_packets_received_octo", "packets", "Packets received from Octo peers or relays", "stable-3344 → HEAD"),
    _c("total_packets_sent_octo", "packets", "Packets sent to Octo peers or relays", "stable-3344 → HEAD"),
    _c("total_data_channel_messages_received", "messages", "Bridge-channel messages received over SCTP data channels", "2017 → HEAD"),
    _c("total_data_channel_messages_sent", "messages", "Bridge-channel messages sent over SCTP data channels", "2017 → HEAD"),
    _c("total_colibri_web_socket_messages_received", "messages", "Bridge-channel messages received over WebSockets", "2017 → HEAD"),
    _c("total_colibri_web_socket_messages_sent", "messages", "Bridge-channel messages sent over WebSockets", "2017 → HEAD"),
    _c("total_dominant_speaker_changes", "events", "Dominant speaker changes across all conferences", "stable-4335 → HEAD"),
    _c("total_ice_failed", "ICE sessions", "ICE sessions that failed", "stable-4335 → HEAD", legacy_names=("total_ice_failed",)),
    _c("total_ice_succeeded", "ICE sessions", "ICE sessions that succeeded", "stable-4335 → HEAD", legacy_names=("total_ice_succeeded",)),
    _c("total_ice_succeeded_relayed", "ICE sessions", "ICE sessions that succeeded through a TURN relay", "stable-4335 → HEAD", legacy_names=("total_ice_succeeded_relayed",)),
    _c("total_keyframes_received", "keyframes", "Keyframes received, counted when an endpoint leaves", "stable-6689 → HEAD"),
    _c("total_layering_changes_received", "events", "Changes of incoming simulcast or SVC layering, counted when an endpoint leaves", "stable-6689 → HEAD"),
    _c("total_video_stream_milliseconds_received", "milliseconds", "Video received, summed over streams and counted when an endpoint leaves", "stable-6689 → HEAD"),
    _c("dtls_failed_endpoints", "endpoints", "Endpoints that completed ICE but never DTLS", "stable-4857 → HEAD"),
    _c("dtls_failed_relays", "relays", "Relays that completed ICE but never DTLS", "stable-10888 → HEAD"),
    _c("endpoints_ice_failed", "endpoints", "Endpoints whose ICE failed", "stable-10888 → HEAD"),
    _c("relays_ice_failed", "relays", "Relays whose ICE failed", "stable-10888 → HEAD"),
    _c("num_eps_no_msg_transport_after_delay", "endpoints", "Endpoints that had no bridge channel some time after joining", "stable-4335 → HEAD"),
    _c("num_relays_no_msg_transport_after_delay", "relays", "Relays that had no message transport some time after starting", "stable-6865 → HEAD"),
    _c("preemptive_kfr_sent", "requests", "Keyframe requests the bridge sent ahead of need", "stable-6433 → HEAD"),
    _c("preemptive_kfr_suppressed", "requests", "Keyframe requests the bridge held back", "stable-6433 → HEAD"),
    _c("endpoints_with_spurious_remb", "endpoints", "Endpoints that sent REMB without having negotiated it", "stable-6433 → HEAD"),
    _c("endpoints_disconnected", "events", "Times an endpoint was detected as disconnected", "stable-7830 → HEAD"),
    _c("endpoints_reconnected", "events", "Times a disconnected endpoint came back", "stable-7830 → HEAD"),
    # Keys later JVB releases removed; older bridges still send them.
    _g("conference_sizes", "conferences", "Conferences by number of endpoints; the label is the size, the last index counts that size or more", "785 → stable-9364", kind=ARRAY, label="conference_size"),
    _g("conferences_by_audio_senders", "conferences", "Conferences by number of local endpoints sending audio; the last index counts that many or more", "stable-4335 → stable-9364", kind=ARRAY, label="senders"),
    _g("conferences_by_video_senders", "conferences", "Conferences by number of local endpoints sending video; the last index counts that many or more", "stable-4335 → stable-9364", kind=ARRAY, label="senders"),
    _g("jitter_aggregate", "milliseconds", "Experimental mean jitter over endpoints, known to be unreliable on 2.x", "785 → stable-9364"),
    _g("videochannels", "endpoints", "Endpoints with a video channel", "1.x → stable-9364"),
    _g("videostreams", "streams", "Estimated video streams the bridge forwards", "500 → stable-4857"),
    _g("audiochannels", "channels", "Audio channels", "1.x only"),
    _g("loss_rate_download", "fraction 0 to 1", "Share of incoming packets lost (replaced by incoming_loss)", "785 → stable-5076"),
    _g("loss_rate_upload", "fraction 0 to 1", "Share of outgoing packets lost (replaced by outgoing_loss)", "785 → stable-5076"),
    _g("rtp_loss", "fraction 0 to 2", "Sum of incoming and outgoing loss (replaced by overall_loss)", "1.x → stable-5076"),
    _g("cpu_usage", "fraction 0 to 1", "CPU usage of the whole host", "1.x only"),
    _g("used_memory", "megabytes", "Memory in use on the host", "1.x only"),
    _g("total_memory", "megabytes", "Memory of the host", "1.x only"),
    _g("octo_version", "version number", "Octo protocol version, sent only with Octo configured", "stable-4857 → stable-6826"),
    _g("colibri2", "1 yes, 0 no", "Whether the bridge speaks Colibri2", "stable-6865 → stable-9364", kind=BOOL),
    _c("total_aimd_bwe_expirations", "events", "Expirations of the AIMD bandwidth estimate", "stable-6173 → stable-9364"),
    _c("total_failed_conferences", "conferences", "Conferences in which no endpoint established ICE", "785 → stable-9364"),
    _c("total_partially_failed_conferences", "conferences", "Conferences in which at least one endpoint failed ICE", "785 → stable-9364"),
    _c("total_loss_controlled_participant_seconds", "seconds", "Participant-seconds spent with loss under control", "stable-3229 → stable-9364"),
    _c("total_loss_limited_participant_seconds", "seconds", "Participant-seconds spent with loss limiting the bitrate", "stable-3229 → stable-9364"),
    _c("total_loss_degraded_participant_seconds", "seconds", "Participant-seconds spent with loss degrading the call", "stable-3229 → stable-9364"),
    _c("total_ice_succeeded_tcp", "ICE sessions", "ICE sessions that succeeded over TCP", "stable-4335 → stable-9646", legacy_names=("total_ice_succeeded_tcp",)),
    _c("total_packets_dropped_octo", "packets", "Packets dropped on the Octo path", "stable-4335 → stable-7287"),
    _c("total_channels", "channels", "Channels created", "785 → 1.x end"),
    _c("total_no_payload_channels", "channels", "Channels that never carried payload", "785 → 1.x end"),
    _c("total_no_transport_channels", "channels", "Channels that never got a transport", "785 → 1.x end"),
    _c("total_udp_connections", "ICE sessions", "ICE sessions over UDP", "785 → 1.x end"),
    _c("total_tcp_connections", "ICE sessions", "ICE sessions over TCP", "785 → 1.x end"),
    # Known keys that carry no metric of their own.
    _g("current_timestamp", "", "Time the bridge generated the report; not exported", "1.x → HEAD", kind=IGNORE),
    _g("tossedPacketsEnergy", "", "Energy statistics of dropped audio packets, an object; not exported", "stable-6173 → stable-6726", kind=IGNORE),
)

UP = Metric(
    key="", kind=NUMBER, type=GAUGE, unit="1 read, 0 failed", name="jitsi_up",
    help="Whether the last poll of the target (bridge or Jicofo) read its statistics", versions="this exporter",
)
SCRAPE_DURATION = Metric(
    key="", kind=NUMBER, type=GAUGE, unit="seconds", name="jitsi_scrape_duration_seconds",
    help="Time the last poll of the bridge took", versions="this exporter",
)
META_METRICS: Tuple[Metric, ...] = (UP, SCRAPE_DURATION)

BY_KEY: Dict[str, Metric] = {m.key: m for m in COLIBRI_METRICS}

UNKNOWN_HELP = "Statistic the bridge sent that this version does not know yet; the bridge's own key"

_INVALID_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_]")


def metric_for(key: str) -> Optional[Metric]:
    return BY_KEY.get(key)


def unknown_metric_name(key: str) -> str:
    """``jitsi_<key>`` with anything outside ``[a-zA-Z0-9_]`` turned into ``_``."""
    return METRIC_PREFIX + _INVALID_NAME_CHARS.sub("_", key)


def _owners() -> Dict[str, str]:
    owners = {m.name: "" for m in META_METRICS}
    for metric in COLIBRI_METRICS:
        if metric.kind != IGNORE:
            owners[metric.name] = metric.key
            owners.update((old, metric.key) for old in metric.legacy_names)
    return owners


# Every name a metric of this package can have, with the payload key that owns it ("" for
# jitsi_up and jitsi_scrape_duration_seconds), whether or not the bridge sends that key:
# an unknown key that would take one of these names is skipped, never exported under it.
OWNED_NAMES: Dict[str, str] = _owners()
