"""A simulated bridge (or Jicofo): every source from a model whose numbers move like a real one's.

Conferences start and end, endpoints join and leave, counters only grow and gauges stay
consistent with each other (endpoints = local + relayed, the largest conference is no
larger than the endpoint count, created = completed + current). ``BridgeServer`` serves
it, or a captured payload byte for byte, on loopback, and can be told to fail the ways
real bridges fail, for the tests.

A JVB serves /colibri/stats (404 with ``rest_enabled=False``, the default of a real JVB
today), /metrics by Accept header (HTTP 500 without one, as JVB does), /about/version
and its rtcstats /stats; a Jicofo (``component="jicofo"``) serves /stats, /metrics and
/about/version. simulate_sources.py renders the non-colibri answers.
"""
from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

from . import simulate_sources

STATS_PATH = "/colibri/stats"
METRICS_PATH = "/metrics"
VERSION_PATH = "/about/version"
JICOFO_STATS_PATH = "/stats"
SIM_VERSION = "2.3.307-gsimulated"
SIM_JICOFO_VERSION = "1.1.712-gsimulated"
JVB = "jvb"
JICOFO = "jicofo"
_NOT_FOUND = b"<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>"

# Fault modes BridgeServer.fault understands.
FAULTS = ("html-500", "not-json", "json-array", "hang", "trickle", "close")


@dataclass
class _Conference:
    size: int
    audio_senders: int
    video_senders: int
    relayed: int
    started: float


@dataclass
class SimulatedBridge:
    """The model. ``advance`` moves time on; ``stats`` is the payload at this moment."""

    seed: int = 1
    region: Optional[str] = "sim-region-1"
    now: float = 0.0
    conferences: List[_Conference] = field(default_factory=list)
    counters: Dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        for key in (
            "total_conferences_created", "total_conferences_completed", "total_conference_seconds",
            "total_participants", "total_bytes_received", "total_bytes_sent", "total_packets_received",
            "total_packets_sent", "total_bytes_received_octo", "total_bytes_sent_octo",
            "total_packets_received_octo", "total_packets_sent_octo", "total_data_channel_messages_received",
            "total_data_channel_messages_sent", "total_colibri_web_socket_messages_received",
            "total_colibri_web_socket_messages_sent", "total_dominant_speaker_changes", "total_ice_failed",
            "total_ice_succeeded", "total_ice_succeeded_relayed", "total_keyframes_received",
            "total_layering_changes_received", "total_video_stream_milliseconds_received", "total_visitors",
            "total_relays", "dtls_failed_endpoints", "endpoints_ice_failed", "relays_ice_failed",
            "dtls_failed_relays", "num_eps_no_msg_transport_after_delay", "num_relays_no_msg_transport_after_delay",
            "preemptive_kfr_sent", "preemptive_kfr_suppressed", "endpoints_with_spurious_remb",
            "endpoints_disconnected", "endpoints_reconnected",
        ):
            self.counters[key] = 0
        self.advance(120)

    def _start_conference(self) -> None:
        rng = self._rng
        size = rng.choice((1, 2, 2, 3, 4, 5, 8, 12))
        relayed = rng.randint(0, size // 4)
        audio = rng.randint(0, size)
        self.conferences.append(_Conference(size, audio, rng.randint(0, audio), relayed, self.now))
        self.counters["total_conferences_created"] += 1
        self.counters["total_participants"] += size
        self.counters["total_ice_succeeded"] += size
        if rng.random() < 0.1:
            self.counters["total_ice_failed"] += 1
            self.counters["endpoints_ice_failed"] += 1
        if rng.random() < 0.2:
            self.counters["total_ice_succeeded_relayed"] += 1

    def _end_conference(self, conference: _Conference) -> None:
        self.conferences.remove(conference)
        self.counters["total_conferences_completed"] += 1
        seconds = int(self.now - conference.started)
        self.counters["total_conference_seconds"] += seconds
        self.counters["total_keyframes_received"] += conference.video_senders * (1 + seconds // 10)
        self.counters["total_layering_changes_received"] += conference.video_senders
        self.counters["total_video_stream_milliseconds_received"] += conference.video_senders * seconds * 1000

    def advance(self, seconds: float) -> None:
        rng = self._rng
        steps = int(min(max(seconds, 0.0), 3600.0))
        for _ in range(max(steps, 1)):
            self.now += 1.0
            if rng.random() < 0.05 or not self.conferences:
                self._start_conference()
            for conference in list(self.conferences):
                roll = rng.random()
                if roll < 0.01:
                    self._end_conference(conference)
                elif roll < 0.04:
                    conference.size += 1
                    self.counters["total_participants"] += 1
                    self.counters["total_ice_succeeded"] += 1
                elif roll < 0.06 and conference.size > 1:
                    conference.size -= 1
                    conference.relayed = min(conference.relayed, conference.size - 1)
                    conference.audio_senders = min(conference.audio_senders, conference.size)
                    conference.video_senders = min(conference.video_senders, conference.audio_senders)
                    self.counters["endpoints_disconnected"] += 1
                if rng.random() < 0.1 and conference.audio_senders > 1:
                    self.counters["total_dominant_speaker_changes"] += 1
            rates = self._rates()
            c = self.counters
            c["total_bytes_received"] += rates["bit_rate_download"] * 1000 // 8
            c["total_bytes_sent"] += rates["bit_rate_upload"] * 1000 // 8
            c["total_packets_received"] += rates["packet_rate_download"]
            c["total_packets_sent"] += rates["packet_rate_upload"]
            c["total_bytes_received_octo"] += rates["octo_receive_bitrate"] // 8
            c["total_bytes_sent_octo"] += rates["octo_send_bitrate"] // 8
            c["total_packets_received_octo"] += rates["octo_receive_packet_rate"]
            c["total_packets_sent_octo"] += rates["octo_send_packet_rate"]
            c["total_data_channel_messages_received"] += self._endpoints()
            c["total_data_channel_messages_sent"] += 2 * self._endpoints()

    def shapes(self) -> Tuple[List[int], List[int], List[int]]:
        """Conference sizes and local audio and video senders per conference, for the histograms."""
        confs = self.conferences
        return ([c.size for c in confs], [min(c.audio_senders, c.size - c.relayed) for c in confs],
                [min(c.video_senders, c.size - c.relayed) for c in confs])

    def _endpoints(self) -> int:
        return sum(c.size for c in self.conferences)

    def _rates(self) -> Dict[str, int]:
        audio = sum(c.audio_senders for c in self.conferences)
        video = sum(c.video_senders for c in self.conferences)
        fanout = sum(c.video_senders * (c.size - 1) + c.audio_senders * (c.size - 1) for c in self.conferences)
        relayed = sum(c.relayed for c in self.conferences)
        down_kbps = audio * 40 + video * 900
        up_kbps = fanout * 350
        return {
            "bit_rate_download": down_kbps,
            "bit_rate_upload": up_kbps,
            "packet_rate_download": audio * 50 + video * 90,
            "packet_rate_upload": fanout * 60,
            "octo_receive_bitrate": relayed * 500_000,
            "octo_send_bitrate": relayed * 450_000,
            "octo_receive_packet_rate": relayed * 70,
            "octo_send_packet_rate": relayed * 65,
        }

    def stats(self, wall_time: Optional[float] = None) -> Dict[str, Any]:
        confs = self.conferences
        endpoints = self._endpoints()
        relayed = sum(c.relayed for c in confs)
        inactive = [c for c in confs if c.audio_senders == 0 and c.video_senders == 0]
        rates = self._rates()
        local = endpoints - relayed
        stamp = datetime.fromtimestamp(wall_time if wall_time is not None else 0, timezone.utc)
        payload: Dict[str, Any] = {
            "current_timestamp": stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 1000:03d}",
            "conferences": len(confs),
            "participants": endpoints,
            "endpoints": endpoints,
            "local_endpoints": local,
            "octo_endpoints": relayed,
            "octo_conferences": sum(1 for c in confs if c.relayed),
            "largest_conference": max((c.size for c in confs), default=0),
            "inactive_conferences": len(inactive),
            "inactive_endpoints": sum(c.size for c in inactive),
            "p2p_conferences": sum(1 for c in inactive if c.size == 2),
            "local_active_endpoints": sum(c.size - c.relayed for c in confs if c not in inactive),
            "receive_only_endpoints": sum(max(c.size - c.relayed - c.audio_senders, 0)
                                          for c in confs if c not in inactive),
            "endpoints_sending_audio": sum(min(c.audio_senders, c.size - c.relayed) for c in confs),
            "endpoints_sending_video": sum(min(c.video_senders, c.size - c.relayed) for c in confs),
            "endpoints_with_high_outgoing_loss": 0,
            "endpoints_with_suspended_sources": sum(1 for c in confs if c.size > 8),
            "num_eps_oversending": 0,
            "visitors": 0,
            "rtt_aggregate": round(20 + 3.5 * len(confs), 3) if confs else 0.0,
            "incoming_loss": round(0.001 * len(confs), 6),
            "outgoing_loss": round(0.002 * len(confs), 6),
            "overall_loss": round(0.0015 * len(confs), 6),
            "stress_level": round(rates["packet_rate_download"] / 50000.0, 6),
            "average_participant_stress": 0.01,
            "threads": 80 + 4 * endpoints,
            "muc_clients_configured": 1,
            "muc_clients_connected": 1,
            "mucs_configured": 1,
            "mucs_joined": 1,
            "graceful_shutdown": False,
            "shutting_down": False,
            "drain": False,
            "healthy": True,
            "tcc_unmatched_feedback": endpoints,
            "version": SIM_VERSION,
        }
        if self.region:
            payload["region"] = self.region
        payload.update(rates)
        payload.update(self.counters)
        return payload


class BridgeServer:
    """Serves a SimulatedBridge (or fixed bytes) on /colibri/stats over HTTP/1.1 keep-alive.

    ``payload`` set to bytes replays them as they are; ``fault`` set to one of FAULTS
    makes the bridge misbehave until it is set back to None.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, bridge: Optional[SimulatedBridge] = None,
                 payload: Optional[bytes] = None, component: str = JVB, rest_enabled: bool = True) -> None:
        self.bridge = bridge if bridge is not None else SimulatedBridge()
        self.payload = payload
        self.component = component
        self.rest_enabled = rest_enabled
        self.fault: Optional[str] = None
        self.requests = 0
        self.connections = 0
        self.last_headers: Dict[str, str] = {}
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: Optional[threading.Thread] = None

    @property
    def address(self) -> Tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def base_url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The main statistics URL: /colibri/stats of a JVB, /stats of a Jicofo."""
        return self.base_url + (JICOFO_STATS_PATH if self.component == JICOFO else STATS_PATH)

    def snapshot(self) -> Tuple[Dict[str, Any], Tuple[List[int], List[int], List[int]]]:
        with self._lock:
            now = time.monotonic()
            self.bridge.advance(now - self._last)
            self._last = now
            return self.bridge.stats(time.time()), self.bridge.shapes()

    def body(self) -> bytes:
        if self.payload is not None:
            return self.payload
        stats, _ = self.snapshot()
        if self.component == JICOFO:
            return json.dumps(self._jicofo_stats(stats)).encode()
        return json.dumps(stats).encode()

    def _jicofo_stats(self, stats: Dict[str, Any]) -> Dict[str, Any]:
        return simulate_sources.jicofo_stats(stats, self.bridge.shapes()[0], SIM_JICOFO_VERSION)

    def metrics_body(self, content_type: str) -> bytes:
        stats, (sizes, audio, video) = self.snapshot()
        if self.component == JICOFO:
            series = simulate_sources.jicofo_series(simulate_sources.jicofo_stats(stats, sizes, SIM_JICOFO_VERSION))
            return simulate_sources.render_metrics(series, "jitsi_jicofo_", content_type)
        series = simulate_sources.jvb_series(stats, sizes, audio, video)
        return simulate_sources.render_metrics(series, "jitsi_jvb_", content_type)

    def version_body(self) -> bytes:
        if self.component == JICOFO:
            return json.dumps({"name": "JiCoFo", "version": SIM_JICOFO_VERSION, "os": "Linux"}).encode()
        return json.dumps({"name": "JVB", "version": SIM_VERSION, "os": "Linux"}).encode()

    def stats_path(self, path: str) -> bool:
        """Whether ``path`` is this component's JSON statistics, the one replays and faults apply to."""
        if self.component == JICOFO:
            return path == JICOFO_STATS_PATH
        return path == STATS_PATH and self.rest_enabled

    def start(self) -> "BridgeServer":
        self._thread = threading.Thread(target=self.serve_forever, name="simulated-bridge", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        # A short poll interval makes stop() quick, which the tests notice.
        self._httpd.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "BridgeServer":
        """``with BridgeServer(...) as server:`` serves for the block, then stops."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler_class(self) -> type:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Without this, headers and body leave in two segments and delayed ACK adds
            # about 40 ms to every request.
            disable_nagle_algorithm = True
            server_version = "jitsi-metrics-simulated-bridge"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                server.connections += 1

            def _send(self, status: int, ctype: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _other(self, path: str) -> None:
                """Everything but the faultable JSON statistics: /metrics, /about/version, rtcstats."""
                if path == VERSION_PATH:
                    self._send(200, "application/json", server.version_body())
                elif path == METRICS_PATH:
                    ctype = simulate_sources.negotiate(self.headers.get("Accept"))
                    if ctype is None:
                        self._send(500, "text/html;charset=iso-8859-1",
                                   b"<html><body><h2>HTTP ERROR 500 Request failed.</h2></body></html>")
                    else:
                        self._send(200, ctype, server.metrics_body(ctype))
                elif path == JICOFO_STATS_PATH and server.component == JVB:
                    self._send(200, "application/json", b'{"conferences":{}}')
                else:
                    self._send(404, "text/html;charset=iso-8859-1", _NOT_FOUND)

            def do_GET(self) -> None:
                server.requests += 1
                server.last_headers = dict(self.headers.items())
                path = self.path.split("?")[0]
                if not server.stats_path(path):
                    self._other(path)
                    return
                fault = server.fault
                if fault == "html-500":
                    self._send(500, "text/html", b"<html><body><h2>HTTP ERROR 500 Server Error</h2></body></html>")
                elif fault == "not-json":
                    self._send(200, "text/html", b"<html><body>Jitsi Meet</body></html>")
                elif fault == "json-array":
                    self._send(200, "application/json", b"[1, 2, 3]")
                elif fault == "close":
                    self.close_connection = True
                    self.connection.shutdown(2)
                elif fault == "hang":
                    server._stopping.wait(60)
                    self.close_connection = True
                elif fault == "trickle":
                    body = server.body()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.flush()
                    try:
                        for i in range(len(body)):
                            if server._stopping.wait(0.2):
                                break
                            self.wfile.write(body[i:i + 1])
                            self.wfile.flush()
                    except OSError:
                        pass  # the client gave up, as it should
                    self.close_connection = True
                else:
                    self._send(200, "application/json", server.body())

        return Handler
