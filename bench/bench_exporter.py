"""Scrape latency of the exporter's /metrics against a raw fetch of the bridge's payload.

Three processes on loopback: a replaying bridge (``jitsi-metrics simulate --payload``),
the exporter (``jitsi-metrics serve``) and this client. Each round fetches the payload
straight from the bridge and then scrapes /metrics, both over kept-alive http.client
connections, so both figures see the same machine state. Prints a markdown table.
The exporter runs with its connection cap and timeouts as shipped, and ``--idle`` other
connections sit open on it, idle, the whole time.

Usage: python3 bench/bench_exporter.py [--rounds 3000] [--idle 50] [--payload FILE]
Goal (issue 11): the exporter adds no more than the Go exporter does (+0.37 to +0.52 ms
at the median, measured the same way) and stays under 30 MB RSS, flat between 100 and
10 000 scrapes.
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Tuple

REPO = Path(__file__).resolve().parent.parent
SHARED_PAYLOAD = REPO / "tests" / "payloads" / "real" / "jvb2-2.3.168-stable9779-from-designet-zabbix-template.json"
# Our own fixture with the same key set, where ../shared is not beside the checkout.
DEFAULT_PAYLOAD = SHARED_PAYLOAD if SHARED_PAYLOAD.exists() else REPO / "tests" / "fixtures" / "jvb2-2.3-shim.json"


def child_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def start(args: List[str], pattern: str) -> Tuple[subprocess.Popen, str]:
    """Start a child and wait for the URL it announces on stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "jitsi_metrics.cli", *args], stderr=subprocess.PIPE,
                            text=True, env=child_env())
    assert proc.stderr is not None
    line = proc.stderr.readline()
    found = re.search(pattern, line)
    if not found:
        proc.kill()
        raise SystemExit(f"child said {line!r}, expected {pattern!r}")
    return proc, found.group(1)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timed_get(conn: http.client.HTTPConnection, path: str) -> float:
    start = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    if response.status != 200 or not body:
        raise SystemExit(f"GET {path} answered {response.status}")
    return elapsed


def median_us(func, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def breakdown(bridge_url: str, raw_conn: http.client.HTTPConnection, rounds: int) -> List[Tuple[str, float]]:
    """The steps of one scrape timed alone, in this process, against the same bridge."""
    from jitsi_metrics.config import bridge_options
    from jitsi_metrics.fetch import BridgeClient
    from jitsi_metrics.mapping import map_payload
    from jitsi_metrics.render.prometheus import render_prometheus

    client = BridgeClient(bridge_options(bridge_url))
    payload = client.fetch()
    families = map_payload(payload).families

    def raw() -> None:
        raw_conn.request("GET", "/colibri/stats")
        raw_conn.getresponse().read()

    return [
        ("http.client GET + read of the payload", median_us(raw, rounds)),
        ("core BridgeClient.fetch (http.client, kept alive, + json.loads)", median_us(client.fetch, rounds)),
        ("core map_payload", median_us(lambda: map_payload(payload), rounds)),
        ("core render_prometheus", median_us(lambda: render_prometheus(families), rounds)),
    ]


def p99(values: List[float]) -> float:
    return sorted(values)[int(len(values) * 0.99) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--payload", type=Path, default=DEFAULT_PAYLOAD)
    parser.add_argument("--idle", type=int, default=50, help="idle connections held open on the exporter meanwhile")
    args = parser.parse_args()
    sim_args = ["simulate", "--listen", "127.0.0.1:0"]
    if args.payload.is_file():
        sim_args += ["--payload", str(args.payload)]
    bridge, bridge_url = start(sim_args, r"(http://\S+)")
    exporter, exporter_url = start(["serve", "--url", bridge_url, "--listen", "127.0.0.1:0"],
                                   r"Listening on (http://[^;\s]+)")
    idle: List[socket.socket] = []
    try:
        bhost, bport = re.match(r"http://([^:/]+):(\d+)", bridge_url).groups()  # type: ignore[union-attr]
        ehost, eport = re.match(r"http://([^:/]+):(\d+)", exporter_url).groups()  # type: ignore[union-attr]
        raw_conn = http.client.HTTPConnection(bhost, int(bport))
        exp_conn = http.client.HTTPConnection(ehost, int(eport))
        idle = [socket.create_connection((ehost, int(eport))) for _ in range(args.idle)]
        for _ in range(100):  # warm-up; also the "after 100 scrapes" RSS point
            timed_get(raw_conn, "/colibri/stats")
            timed_get(exp_conn, "/metrics")
        rss_100 = rss_mb(exporter.pid)
        raw: List[float] = []
        scrape: List[float] = []
        for _ in range(args.rounds):
            raw.append(timed_get(raw_conn, "/colibri/stats"))
            scrape.append(timed_get(exp_conn, "/metrics"))
        health = [timed_get(exp_conn, "/health") for _ in range(args.rounds)]
        for _ in range(max(0, 10_000 - 100 - args.rounds)):
            timed_get(exp_conn, "/metrics")
        rss_10k = rss_mb(exporter.pid)
        steps = breakdown(bridge_url, raw_conn, args.rounds)
    finally:
        for sock in idle:
            sock.close()
        exporter.terminate()
        bridge.terminate()
        exporter.wait(10)
        bridge.wait(10)
    med_raw, med_scrape = statistics.median(raw), statistics.median(scrape)
    us = 1e6
    print(f"payload: {args.payload.name if args.payload.is_file() else 'simulated bridge'}; "
          f"{args.rounds} rounds, keep-alive, {args.idle} idle connections held open,"
          f" Python {sys.version.split()[0]}\n")
    print("| request | median | p99 |")
    print("|---|---|---|")
    print(f"| raw fetch of the payload from the bridge | {med_raw * us:.0f} µs | {p99(raw) * us:.0f} µs |")
    print(f"| exporter /metrics (one bridge) | {med_scrape * us:.0f} µs | {p99(scrape) * us:.0f} µs |")
    print(f"| **added by the exporter** | **{(med_scrape - med_raw) * us:.0f} µs** | "
          f"{(p99(scrape) - p99(raw)) * us:.0f} µs |")
    print(f"| exporter /health (its HTTP floor, no bridge) | {statistics.median(health) * us:.0f} µs | "
          f"{p99(health) * us:.0f} µs |")
    print()
    print("Where the time goes (each step alone, median, in the benchmark process):\n")
    print("| step | median |")
    print("|---|---|")
    for label, value in steps:
        print(f"| {label} | {value:.0f} µs |")
    print()
    print("| exporter RSS after 100 scrapes | after 10 000 scrapes |")
    print("|---|---|")
    print(f"| {rss_100:.1f} MB | {rss_10k:.1f} MB |")
    added = med_scrape - med_raw
    goal = "met" if added <= 0.00052 and rss_10k < 30 else "MISSED"
    print(f"\nGoal (added at the median no more than the Go exporter's +370..+520 µs, < 30 MB RSS): {goal}"
          f" ({added * us:.0f} µs, {rss_10k:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
