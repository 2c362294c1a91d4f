# ruff: noqa: E501  (one catalogue row per line reads best as a table)
"""JVB's native ``/metrics``: which series stand for which /colibri/stats key, and the rest.

Two tables, the one place that names what /metrics gives:

* ``EQUIVALENTS``: a /metrics series that means the same as a /colibri/stats key. Its
  value is exported under that key's catalogue metric (name, type, HELP, unit), so a
  bridge read through /metrics feeds the same dashboards. ``divisor`` converts units:
  /metrics bitrates are bits per second where /colibri/stats has kilobits per second.
* ``METRICS_ONLY``: families /colibri/stats has no key for (ICE restarts, JVM, queue
  drops, XMPP disconnects, the conference histograms …). Names are derived by one rule,
  ``jitsi_`` + the bridge's own name, with ``_total`` on every counter.

Series names here are without namespace (``jitsi_jvb_`` since stable-8615, ``jitsi_``
before) and counters carry ``_total`` as the bridge exposes them.
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Tuple

from .catalogue import BY_KEY, METRIC_PREFIX, NUMBER, Metric
from .samples import COUNTER, GAUGE

HISTOGRAM = "histogram"
NAMESPACES = ("jitsi_jvb_", "jitsi_")


class Equivalent(NamedTuple):
    exposed: str
    key: str
    divisor: int = 1


# The order is the /colibri/stats catalogue's, so both sources list metrics alike.
EQUIVALENTS: Tuple[Equivalent, ...] = (
    Equivalent("conferences", "conferences"),
    Equivalent("current_endpoints", "participants"),
    Equivalent("current_endpoints", "endpoints"),
    Equivalent("local_endpoints", "local_endpoints"),
    Equivalent("active_endpoints", "local_active_endpoints"),
    Equivalent("largest_conference", "largest_conference"),
    Equivalent("endpoints_recvonly", "receive_only_endpoints"),
    Equivalent("endpoints_inactive", "inactive_endpoints"),
    Equivalent("conferences_inactive", "inactive_conferences"),
    Equivalent("conferences_p2p", "p2p_conferences"),
    Equivalent("endpoints_sending_audio", "endpoints_sending_audio"),
    Equivalent("endpoints_sending_video", "endpoints_sending_video"),
    Equivalent("endpoints_with_high_outgoing_loss", "endpoints_with_high_outgoing_loss"),
    Equivalent("endpoints_with_suspended_sources", "endpoints_with_suspended_sources"),
    Equivalent("endpoints_oversending", "num_eps_oversending"),
    Equivalent("current_visitors", "visitors"),
    Equivalent("thread_count", "threads"),
    Equivalent("stress", "stress_level"),
    Equivalent("muc_clients_configured", "muc_clients_configured"),
    Equivalent("muc_clients_connected", "muc_clients_connected"),
    # JVB registers the number of configured MUCs under this misleading name.
    Equivalent("mucs_connected", "mucs_configured"),
    Equivalent("mucs_joined", "mucs_joined"),
    Equivalent("incoming_bitrate", "bit_rate_download", 1000),
    Equivalent("outgoing_bitrate", "bit_rate_upload", 1000),
    Equivalent("incoming_packet_rate", "packet_rate_download"),
    Equivalent("outgoing_packet_rate", "packet_rate_upload"),
    Equivalent("conferences_with_relay", "octo_conferences"),
    Equivalent("endpoints_relayed", "octo_endpoints"),
    Equivalent("relay_incoming_bitrate", "octo_receive_bitrate"),
    Equivalent("relay_outgoing_bitrate", "octo_send_bitrate"),
    Equivalent("relay_incoming_packet_rate", "octo_receive_packet_rate"),
    Equivalent("relay_outgoing_packet_rate", "octo_send_packet_rate"),
    Equivalent("average_rtt", "rtt_aggregate"),
    Equivalent("incoming_loss_fraction", "incoming_loss"),
    Equivalent("outgoing_loss_fraction", "outgoing_loss"),
    Equivalent("loss_fraction", "overall_loss"),
    Equivalent("tcc_unmatched_feedback", "tcc_unmatched_feedback"),
    Equivalent("graceful_shutdown", "graceful_shutdown"),
    Equivalent("shutting_down", "shutting_down"),
    Equivalent("drain_mode", "drain"),
    Equivalent("healthy", "healthy"),
    Equivalent("region_info", "region"),
    Equivalent("conferences_created_total", "total_conferences_created"),
    Equivalent("conferences_completed_total", "total_conferences_completed"),
    Equivalent("conference_seconds_total", "total_conference_seconds"),
    Equivalent("endpoints_total", "total_participants"),
    Equivalent("visitors_total", "total_visitors"),
    Equivalent("relays_total", "total_relays"),
    Equivalent("bytes_received_total", "total_bytes_received"),
    Equivalent("bytes_sent_total", "total_bytes_sent"),
    Equivalent("packets_received_total", "total_packets_received"),
    Equivalent("packets_sent_total", "total_packets_sent"),
    Equivalent("relay_bytes_received_total", "total_bytes_received_octo"),
    Equivalent("relay_bytes_sent_total", "total_bytes_sent_octo"),
    Equivalent("relay_packets_received_total", "total_packets_received_octo"),
    Equivalent("relay_packets_sent_total", "total_packets_sent_octo"),
    Equivalent("data_channel_messages_received_total", "total_data_channel_messages_received"),
    Equivalent("data_channel_messages_sent_total", "total_data_channel_messages_sent"),
    Equivalent("colibri_web_socket_messages_received_total", "total_colibri_web_socket_messages_received"),
    Equivalent("colibri_web_socket_messages_sent_total", "total_colibri_web_socket_messages_sent"),
    Equivalent("dominant_speaker_changes_total", "total_dominant_speaker_changes"),
    Equivalent("ice_failed_total", "total_ice_failed"),
    Equivalent("ice_succeeded_total", "total_ice_succeeded"),
    Equivalent("ice_succeeded_relayed_total", "total_ice_succeeded_relayed"),
    Equivalent("keyframes_received_total", "total_keyframes_received"),
    Equivalent("layering_changes_received_total", "total_layering_changes_received"),
    Equivalent("video_milliseconds_received_total", "total_video_stream_milliseconds_received"),
    Equivalent("endpoints_dtls_failed_total", "dtls_failed_endpoints"),
    Equivalent("relays_dtls_failed_total", "dtls_failed_relays"),
    Equivalent("endpoints_ice_failed_total", "endpoints_ice_failed"),
    Equivalent("relays_ice_failed_total", "relays_ice_failed"),
    Equivalent("endpoints_no_message_transport_after_delay_total", "num_eps_no_msg_transport_after_delay"),
    Equivalent("relays_no_message_transport_after_delay_total", "num_relays_no_msg_transport_after_delay"),
    Equivalent("preemptive_keyframe_requests_sent_total", "preemptive_kfr_sent"),
    Equivalent("preemptive_keyframe_requests_suppressed_total", "preemptive_kfr_suppressed"),
    # A running total in JVB's code, though /metrics declares it a gauge.
    Equivalent("endpoints_with_spurious_remb", "endpoints_with_spurious_remb"),
    Equivalent("endpoints_disconnected_total", "endpoints_disconnected"),
    Equivalent("endpoints_reconnected_total", "endpoints_reconnected"),
    # Series of bridges before stable-9457, whose keys later left /colibri/stats too.
    Equivalent("failed_conferences_total", "total_failed_conferences"),
    Equivalent("partially_failed_conferences_total", "total_partially_failed_conferences"),
    Equivalent("ice_succeeded_tcp_total", "total_ice_succeeded_tcp"),
)

# Series JVB fills from a double; every other one holds a whole number, which the text
# form still writes as "3.0". Whole numbers are exported as integers so that the same
# bridge gives the same Influx field types through either source.
DOUBLES = frozenset({
    "stress", "average_rtt", "incoming_loss_fraction", "outgoing_loss_fraction", "loss_fraction", "cpu_steal",
})


def _own(exposed: str, mtype: str, unit: str, help: str, versions: str, name: str = "") -> Metric:
    """A /metrics-only family: ``jitsi_<exposed>``, counters ending in ``_total``."""
    if not name:
        name = METRIC_PREFIX + exposed
        if mtype == COUNTER and not name.endswith("_total"):
            name += "_total"
    kind = HISTOGRAM if mtype == HISTOGRAM else NUMBER
    return Metric(key=exposed, kind=kind, type=mtype, unit=unit, help=help, versions=versions, name=name)


def _qc(queue: str, what: str, versions: str = "stable-9584 → HEAD") -> Tuple[Metric, Metric]:
    return (
        _own(f"{queue}_dropped_packets_total", COUNTER, "packets", f"Packets dropped from {what}", versions),
        _own(f"{queue}_exceptions_total", COUNTER, "exceptions", f"Exceptions raised while handling {what}", versions),
    )


METRICS_ONLY: Tuple[Metric, ...] = (
    _own("conferences_by_size", HISTOGRAM, "conferences", "Current conferences by number of endpoints; le is the size", "stable-9457 → HEAD"),
    _own("conferences_by_audio_sender", HISTOGRAM, "conferences", "Current conferences by number of endpoints sending audio; le is that number", "stable-9457 → HEAD"),
    _own("conferences_by_video_sender", HISTOGRAM, "conferences", "Current conferences by number of endpoints sending video; le is that number", "stable-9457 → HEAD"),
    _own("tossed_packets_energy", HISTOGRAM, "audio energy score", "Energy of audio packets the bridge discarded", "stable-9457 → HEAD"),
    _own("ice_restarts_started_total", COUNTER, "restarts", "ICE restarts begun", "HEAD (2026-08)"),
    _own("ice_restarts_rejected_total", COUNTER, "requests", "ICE restart requests refused because restarts are off or the transport is stopped", "HEAD (2026-08)"),
    _own("ice_restarts_not_established_total", COUNTER, "requests", "ICE restart requests for a transport not yet connected, answered by keeping its agent", "HEAD (2026-08)"),
    _own("ice_restarts_agent_creation_failed_total", COUNTER, "restarts", "ICE restarts given up because no new ICE agent could be made", "HEAD (2026-08)"),
    _own("ice_restarts_succeeded_total", COUNTER, "restarts", "ICE restarts whose new agent connected and took over", "HEAD (2026-08)"),
    _own("ice_restarts_superseded_total", COUNTER, "restarts", "ICE restarts replaced by a later restart before connecting", "HEAD (2026-08)"),
    _own("ice_restarts_failed_total", COUNTER, "restarts", "ICE restarts given up because the new agent never connected", "HEAD (2026-08)"),
    _own("jvm_gc_count", COUNTER, "collections", "Garbage collections of the bridge's JVM since it started (JVB declares a gauge)", "stable-9584 → HEAD"),
    _own("jvm_gc_time", COUNTER, "milliseconds", "Time the bridge's JVM spent collecting garbage since it started (JVB declares a gauge)", "stable-9584 → HEAD"),
    _own("jvm_heap_committed", GAUGE, "bytes", "Heap memory the JVM has reserved", "stable-9584 → HEAD"),
    _own("jvm_heap_used", GAUGE, "bytes", "Heap memory in use", "stable-9584 → HEAD"),
    _own("jvm_open_fd_count", GAUGE, "file descriptors", "File descriptors the bridge has open", "stable-9584 → HEAD"),
    _own("startup_time", GAUGE, "milliseconds since the Unix epoch", "When the bridge started", "stable-9584 → HEAD"),
    _own("cpu_steal", GAUGE, "fraction 0 to 1", "CPU time the hypervisor took from the bridge's host", "stable-10314 → HEAD"),
    _own("xmpp_disconnects_total", COUNTER, "disconnections", "Times one of the bridge's XMPP connections dropped", "stable-9909 → HEAD"),
    _own("rejected_data_channels_total", COUNTER, "data channels", "Data channels the bridge refused", "stable-10741 → HEAD"),
    _own("colibri_web_socket_close_normal_total", COUNTER, "closes", "Bridge-channel WebSockets closed normally", "stable-9584 → HEAD"),
    _own("colibri_web_socket_close_abnormal_total", COUNTER, "closes", "Bridge-channel WebSockets closed abnormally", "stable-9584 → HEAD"),
    _own("colibri_web_socket_error_total", COUNTER, "errors", "Errors reported on bridge-channel WebSockets", "stable-9584 → HEAD"),
    *_qc("queue", "any of the bridge's packet queues"),
    *_qc("rtp_receiver", "the RTP receive queues"),
    *_qc("rtp_sender", "the RTP send queues"),
    *_qc("srtp_send_queue", "the SRTP send queues to endpoints"),
    *_qc("relay_srtp_send_queue", "the SRTP send queues to relays"),
    *_qc("relay_endpoint_srtp_send_queue", "the SRTP send queues of relayed endpoints"),
    *_qc("colibri_queue", "the Colibri message queues"),
    *_qc("endpoint_receive_message_queue", "the queues of messages received from endpoints"),
    _own("incoming_bitrate_expirations_total", COUNTER, "events", "Expirations of the incoming bitrate estimate", "stable-7648 → stable-9364"),
)

EQUIVALENT_METRICS: Tuple[Tuple[Equivalent, Metric], ...] = tuple((e, BY_KEY[e.key]) for e in EQUIVALENTS)
METRICS_ONLY_BY_EXPOSED: Dict[str, Metric] = {m.key: m for m in METRICS_ONLY}
