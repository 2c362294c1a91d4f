#!/usr/bin/env python3
"""CPU per poll and RSS of ``jitsi-metrics telegraf`` on its own, without Telegraf, side by side with the core floor.

Drives the real console script through a pipe the way Telegraf's execd does (a newline
on stdin per poll, the batch read back from stdout) against a simulated bridge whose
values change at every request, and reads the plugin's CPU time and RSS from /proc
(Linux). The floor (json.loads of the same payload plus a plain Prometheus render of
every numeric key, as in bench_core.py) is measured in this process in the same run,
and so is a minimal execd plugin (http.client GET, json.loads, plain render): the fair
floor for a poll that fetches over HTTP. bench_telegraf.py measures the same plugin
under a real Telegraf.

    python3 bench/bench_telegraf_plugin.py            # 10 000 polls
    python3 bench/bench_telegraf_plugin.py --polls 2000
"""
from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))

from jitsi_metrics.config import bridge_options  # noqa: E402
from jitsi_metrics.fetch import BridgeClient  # noqa: E402
from jitsi_metrics.mapping import map_payload, meta_families  # noqa: E402
from jitsi_metrics.render.prometheus import render_prometheus  # noqa: E402
from jitsi_metrics.simulate import BridgeServer, SimulatedBridge  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def median_us(func: Callable[[], object], reps: int = 2000) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def floor_render(body: bytes) -> str:
    payload = json.loads(body)
    return "".join(f"jitsi_{k} {v}\n" for k, v in payload.items() if type(v) in (int, float))


def console_script() -> str:
    beside = Path(sys.executable).parent / "jitsi-metrics"
    return str(beside) if beside.is_file() else (shutil.which("jitsi-metrics") or "jitsi-metrics")


# The least an execd plugin can do per poll: a kept-alive http.client GET, json.loads and
# a plain render, flushed. The floor above leaves HTTP out, which no plugin can, so this
# is the floor a poll of `jitsi-metrics telegraf` is fairly compared with.
# The least any Python execd plugin does per poll: a GET on a kept-alive connection,
# json.loads and the numeric keys written out: as Prometheus lines, or (argv[2] "influx")
# as one line protocol line with the poll's timestamp. bench_telegraf.py runs it too.
MINIMAL_PLUGIN = """
import http.client, json, sys, time
from urllib.parse import urlsplit
url = urlsplit(sys.argv[1])
influx = sys.argv[2:] == ["influx"]
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
for _ in iter(sys.stdin.readline, ""):
    conn.request("GET", url.path, headers={"Accept": "application/json"})
    numbers = [(k, v) for k, v in json.loads(conn.getresponse().read()).items() if type(v) in (int, float)]
    if influx:
        sys.stdout.write("jitsi " + ",".join(f"{k}={v}" for k, v in numbers) + f" {time.time_ns()}\\n")
    else:
        sys.stdout.write("".join(f"jitsi_{k} {v}\\n" for k, v in numbers))
    sys.stdout.flush()
"""


class Plugin:
    """A program under execd's protocol: one newline in, one batch out."""

    def __init__(self, argv: List[str], batch_lines: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both are pipes
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.batch_lines = batch_lines
        self._pending = b""

    def poll(self) -> None:
        self.stdin.write(b"\n")
        self.stdin.flush()
        fd = self.stdout.fileno()
        while self._pending.count(b"\n") < self.batch_lines:
            ready, _, _ = select.select([fd], [], [], 30)
            chunk = os.read(fd, 1 << 16) if ready else b""
            if not chunk:
                raise SystemExit("jitsi-metrics telegraf stopped answering")
            self._pending += chunk
        # Keep whatever follows this batch (nothing, in practice) for the next one.
        parts = self._pending.split(b"\n", self.batch_lines)
        self._pending = parts[-1] if len(parts) > self.batch_lines else b""

    def stop(self) -> int:
        self.stdin.close()
        code = self.proc.wait(10)
        self.stdout.close()
        return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=10_000, help="polls in total (default: %(default)s)")
    args = parser.parse_args()
    polls = max(args.polls, 200)

    body = json.dumps(SimulatedBridge(seed=3).stats(time.time())).encode()
    floor = median_us(lambda: floor_render(body))
    core = median_us(lambda: render_prometheus(meta_families(True, 0.001) + map_payload(json.loads(body)).families))
    # What `jitsi-metrics telegraf` writes by default: no # HELP/# TYPE lines.
    batch_lines = render_prometheus(meta_families(True, 0.001) + map_payload(json.loads(body)).families,
                                    headers=False).count("\n")

    server = BridgeServer(payload=None).start()
    client = BridgeClient(bridge_options(server.url))
    fetch = median_us(client.fetch, reps=500)
    client.close()

    minimal_lines = floor_render(body).count("\n")
    minimal = Plugin([sys.executable, "-c", MINIMAL_PLUGIN, server.url], minimal_lines)
    minimal_polls = min(polls, 2000)
    for _ in range(100):
        minimal.poll()
    minimal_start = cpu_seconds(minimal.proc.pid)
    for _ in range(minimal_polls - 100):
        minimal.poll()
    minimal_cpu = (cpu_seconds(minimal.proc.pid) - minimal_start) / (minimal_polls - 100) * 1e6
    minimal.stop()

    plugin = Plugin([console_script(), "telegraf", "--url", server.url], batch_lines)
    marks: List[Tuple[int, float, float, float]] = []
    start_cpu = cpu_seconds(plugin.proc.pid)  # interpreter start-up and imports, not polls
    started = time.perf_counter()
    for number in range(1, polls + 1):
        plugin.poll()
        if number in (1, 100, polls):
            marks.append((number, cpu_seconds(plugin.proc.pid), rss_mb(plugin.proc.pid), time.perf_counter() - started))
    code = plugin.stop()
    server.stop()

    (_, cpu1, rss1, _), (_, cpu100, rss100, _), (_, cpu_n, rss_n, wall_n) = marks
    early = (cpu100 - cpu1) / 99 * 1e6
    late = (cpu_n - cpu100) / (polls - 100) * 1e6
    rows = [
        ("floor: json.loads + plain render, in-process (median)", f"{floor:.0f} µs", "1.0x"),
        ("core: json.loads + map_payload + render_prometheus, in-process (median)", f"{core:.0f} µs",
         f"{core / floor:.1f}x"),
        ("BridgeClient.fetch of the simulated bridge, in-process (median, wall)", f"{fetch:.0f} µs",
         f"{fetch / floor:.1f}x"),
        ("jitsi-metrics telegraf CPU per poll, polls 2-100", f"{early:.0f} µs", f"{early / floor:.1f}x"),
        (f"jitsi-metrics telegraf CPU per poll, polls 101-{polls}", f"{late:.0f} µs", f"{late / floor:.1f}x"),
        (f"minimal execd plugin (http.client GET + json.loads + plain render) CPU per poll, polls 101-{minimal_polls}",
         f"{minimal_cpu:.0f} µs", f"{minimal_cpu / floor:.1f}x"),
        ("**jitsi-metrics telegraf / minimal execd plugin, CPU per poll**", f"**{late / minimal_cpu:.2f}x**", ""),
        ("jitsi-metrics telegraf RSS after 1 poll", f"{rss1:.1f} MB", ""),
        ("jitsi-metrics telegraf RSS after 100 polls", f"{rss100:.1f} MB", ""),
        (f"jitsi-metrics telegraf RSS after {polls} polls", f"{rss_n:.1f} MB", f"{rss_n - rss100:+.2f} MB vs 100"),
    ]
    print(f"Payload {len(body)} bytes, {batch_lines} lines per batch; {polls} polls in {wall_n:.1f} s; "
          f"CPU {cpu_n - start_cpu:.2f} s in the plugin after start-up; exit code {code}; "
          f"clock tick {1e6 / TICK:.0f} µs.\n")
    print("| measure | value | ratio to floor |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\nGoal: per-poll CPU within 2x the floor; RSS under 30 MB and flat. A poll includes an HTTP"
          " fetch, which the in-process floor leaves out; the minimal execd plugin is the floor with it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
