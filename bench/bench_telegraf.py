#!/usr/bin/env python3
"""Every Telegraf path to a bridge's statistics, measured in the real Telegraf, side by side.

For each path the real Telegraf polls the same captured JVB 2.3 payload (76 keys) served on
127.0.0.1 at a fixed interval:

- ``inputs.http`` + ``data_format = "json"``: the zero-code anchor (no plugin process);
- ``inputs.execd`` running a minimal Python plugin (not ours: a GET, ``json.loads``, one
  line of line protocol), the floor of any Python execd plugin;
- ``inputs.execd`` running ``jitsi-metrics telegraf`` (Prometheus text), and with
  ``--format influx``;
- ``inputs.exec`` running ``jitsi-metrics once`` at every interval (typed, one process a poll);
- ``inputs.prometheus`` scraping ``jitsi-metrics serve`` (typed, one long-running process).

It reports CPU per poll (Telegraf plus the plugin's processes, from /proc: each thread's
run time from schedstat, plus cutime + cstime for the short-lived children of
``inputs.exec``; threads of both live as long as their process), the RSS of each
process, and how many distinct timestamps one poll's metrics land with (read from a second,
short run through ``outputs.file``). Paths run in alternating order, ``--rounds`` times; the
tables give medians. Polls are counted at the bridge (one request per poll).

    python3 bench/bench_telegraf.py                 # 3 rounds of 20 s per path
    python3 bench/bench_telegraf.py --rounds 1 --seconds 8

Needs the Telegraf that scripts/test builds ($JITSI_METRICS_TOOLS or
~/.cache/jitsi-meet-metrics/bin/telegraf, with inputs.http, parsers.json, inputs.prometheus and
outputs.discard) and this package installed (``jitsi-metrics`` beside this Python or on PATH).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

from bench_telegraf_plugin import MINIMAL_PLUGIN

REPO = Path(__file__).resolve().parent.parent
PAYLOAD = REPO / "tests" / "payloads" / "real" / "jvb2-2.3.168-stable9779-from-designet-zabbix-template.json"
TICK = os.sysconf("SC_CLK_TCK")
PATHS = ("http-json", "execd-minimal", "execd-prometheus", "execd-influx", "exec-once", "prometheus-serve")


def telegraf_binary() -> str:
    tools = Path(os.environ.get("JITSI_METRICS_TOOLS", Path.home() / ".cache" / "jitsi-meet-metrics" / "bin"))
    found = tools / "telegraf" if (tools / "telegraf").is_file() else shutil.which("telegraf")
    if not found:
        raise SystemExit("no telegraf: run bash scripts/test once (it builds one), or put telegraf on PATH")
    return str(found)


def console_script() -> str:
    beside = Path(sys.executable).parent / "jitsi-metrics"
    found = str(beside) if beside.is_file() else shutil.which("jitsi-metrics")
    if not found:
        raise SystemExit("jitsi-metrics is not installed: pip install -e . first")
    return found


class Bridge:
    """The captured payload on 127.0.0.1, counting the requests it answers (one per poll)."""

    def __init__(self, body: bytes) -> None:
        bridge = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                bridge.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/colibri/stats"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def parse_interval(text: str) -> float:
    """Seconds in a Telegraf interval such as "200ms" or "1s"."""
    for unit, scale in (("ms", 1e-3), ("s", 1.0)):
        if text.endswith(unit):
            return float(text[:-len(unit)]) * scale
    raise SystemExit(f"--interval {text!r}: write it as 200ms or 1s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int, children: bool = False) -> float:
    """CPU time of ``pid`` so far: the sum of its threads' run time from schedstat
    (nanoseconds, where /proc/PID/stat counts 10 ms ticks), plus, with ``children``, the
    CPU of children it has waited for (cutime + cstime, in ticks: exec's commands)."""
    seconds = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            seconds += int((task / "schedstat").read_text().split()[0]) / 1e9
        except (OSError, IndexError, ValueError):
            pass  # a thread that ended while we looked
    if children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        seconds += (int(fields[13]) + int(fields[14])) / TICK
    return seconds


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_pids(pid: int) -> List[int]:
    """Processes whose parent is ``pid`` (Go starts children from any of its threads, so
    /proc/PID/task/PID/children can miss them)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(stat.parent.name))
    return found


def input_block(path: str, bridge_url: str, serve_url: str, jm: str) -> str:
    if path == "execd-minimal":
        code = json.dumps(MINIMAL_PLUGIN)  # a JSON string is a TOML basic string too
        return (f'[[inputs.execd]]\n  command = ["{sys.executable}", "-c", {code}, "{bridge_url}", "influx"]\n'
                f'  signal = "STDIN"\n  data_format = "influx"\n')
    if path == "http-json":
        return f'[[inputs.http]]\n  urls = ["{bridge_url}"]\n  data_format = "json"\n'
    if path == "execd-prometheus":
        return (f'[[inputs.execd]]\n  command = ["{jm}", "telegraf", "--url", "{bridge_url}"]\n'
                f'  signal = "STDIN"\n  data_format = "prometheus"\n')
    if path == "execd-influx":
        return (f'[[inputs.execd]]\n  command = ["{jm}", "telegraf", "--format", "influx", "--url", "{bridge_url}"]\n'
                f'  signal = "STDIN"\n  data_format = "influx"\n')
    if path == "exec-once":
        return (f'[[inputs.exec]]\n  commands = ["{jm} once --url {bridge_url}"]\n'
                f'  timeout = "5s"\n  data_format = "prometheus"\n')
    if path == "prometheus-serve":
        return f'[[inputs.prometheus]]\n  urls = ["{serve_url}"]\n  metric_version = 2\n'
    raise ValueError(path)


def config(path: str, interval: str, output: str, bridge_url: str, serve_url: str, jm: str) -> str:
    agent = (f'[agent]\n  interval = "{interval}"\n  flush_interval = "{interval}"\n'
             '  collection_jitter = "0s"\n  flush_jitter = "0s"\n  omit_hostname = true\n  quiet = true\n\n')
    if output:
        out = f'[[outputs.file]]\n  files = ["{output}"]\n  data_format = "influx"\n\n'
    else:
        out = "[[outputs.discard]]\n\n"
    return agent + out + input_block(path, bridge_url, serve_url, jm)


class Run(NamedTuple):
    path: str
    polls: int
    cpu_per_poll_ms: float
    plugin_cpu_per_poll_ms: float
    telegraf_rss: float
    plugin_rss: Optional[float]


def measure(path: str, seconds: float, interval: str, body: bytes, workdir: Path,
            output: str = "") -> Tuple[Run, Bridge]:
    telegraf, jm = telegraf_binary(), console_script()
    bridge = Bridge(body)
    serve: Optional[subprocess.Popen[bytes]] = None
    serve_url = ""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    if path == "prometheus-serve":
        port = free_port()
        serve = subprocess.Popen([jm, "serve", "--listen", f"127.0.0.1:{port}", "--url", bridge.url],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        serve_url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
    conf = workdir / f"{path}.conf"
    conf.write_text(config(path, interval, output, bridge.url, serve_url, jm))
    proc = subprocess.Popen([telegraf, "--config", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    try:
        time.sleep(3.0)  # start-up, the first polls, Go's and Python's warm-up
        plugin_pids = child_pids(proc.pid) if path.startswith("execd") else []
        pids = plugin_pids + ([serve.pid] if serve else [])
        start_requests = bridge.requests
        start_telegraf = cpu_seconds(proc.pid, children=True)
        start_plugin = sum(cpu_seconds(p) for p in pids)
        time.sleep(seconds)
        end_telegraf = cpu_seconds(proc.pid, children=True)
        end_plugin = sum(cpu_seconds(p) for p in pids)
        polls = max(bridge.requests - start_requests, 1)
        plugin_rss = max((rss_mb(p) for p in pids), default=None)
        # exec-once's children end before they can be read: their CPU is in Telegraf's cutime.
        plugin_cpu = (end_plugin - start_plugin) / polls * 1e3
        total_cpu = (end_telegraf - start_telegraf) / polls * 1e3 + plugin_cpu
        run = Run(path, polls, total_cpu, plugin_cpu, rss_mb(proc.pid), plugin_rss)
    finally:
        proc.terminate()
        proc.wait(15)
        if serve is not None:
            serve.terminate()
            serve.wait(10)
        bridge.stop()
    return run, bridge


def timestamps_per_poll(path: str, body: bytes, workdir: Path, interval: str) -> float:
    """Distinct timestamps divided by polls, from what Telegraf wrote through outputs.file."""
    out = workdir / f"{path}.out"
    out.unlink(missing_ok=True)
    _, bridge = measure(path, 4.0, interval, body, workdir, output=str(out))
    stamps = {line.rsplit(" ", 1)[1] for line in out.read_text().splitlines() if line.strip()}
    # Every request the bridge answered was one poll (warm-up included, as in the file).
    return len(stamps) / max(bridge.requests, 1)


def plugin_stages(body: bytes, gap: float, polls: int = 100) -> Dict[str, float]:
    """Median CPU (this thread's, in µs) of each step of a `jitsi-metrics telegraf` poll of
    one bridge, run in this process once every ``gap`` seconds as under Telegraf: at such
    intervals a poll finds cold caches, so it costs far more than in a tight loop."""
    from jitsi_metrics.config import bridge_options
    from jitsi_metrics.render import render
    from jitsi_metrics.runtime import PollResult, Runtime, map_bridge, meta

    clock = time.thread_time_ns  # the bridge answers from another thread: not counted
    steps: Dict[str, List[float]] = {"fetch": [], "check + map": [], "merge for the render": [],
                                     "render (no type lines)": [], "write + flush": []}
    bridge = Bridge(body)
    try:
        with Runtime([bridge_options(bridge.url)]) as runtime, open(os.devnull, "w") as out:
            client = runtime.clients[0]
            for number in range(polls + 10):
                time.sleep(gap)
                t0 = clock()
                payload = client.fetch()
                t1 = clock()
                families, _ = map_bridge(payload, "bench", False)
                families = meta(True, 0.001) + families
                t2 = clock()
                merged = runtime.combined([PollResult("bench", families, [], None)])
                t3 = clock()
                text = render(merged, "prometheus", timestamp_ms=int(time.time() * 1e3), headers=False)
                t4 = clock()
                out.write(text)
                out.flush()
                t5 = clock()
                if number >= 10:  # the first polls warm up imports and the connection
                    for step, ns in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                        steps[step].append(ns / 1e3)
    finally:
        bridge.stop()
    return {step: statistics.median(values) for step, values in steps.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per path per round")
    parser.add_argument("--interval", default="200ms", help="Telegraf's interval (default: %(default)s)")
    parser.add_argument("--paths", default=",".join(PATHS),
                        help="comma-separated paths to measure; http-json is always included (default: all)")
    args = parser.parse_args()
    chosen = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = sorted(set(chosen) - set(PATHS))
    if unknown:
        parser.error(f"unknown path(s) {', '.join(unknown)}; choose from {', '.join(PATHS)}")
    paths = tuple(p for p in PATHS if p == "http-json" or p in chosen)
    body = PAYLOAD.read_bytes()
    runs: Dict[str, List[Run]] = {p: [] for p in paths}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for number in range(args.rounds):
            order = paths if number % 2 == 0 else tuple(reversed(paths))
            for path in order:
                run, _ = measure(path, args.seconds, args.interval, body, workdir)
                runs[path].append(run)
                print(f"round {number + 1} {path}: {run.polls} polls, {run.cpu_per_poll_ms:.2f} ms CPU/poll",
                      file=sys.stderr)
        stamps = {p: timestamps_per_poll(p, body, workdir, args.interval) for p in paths}
    gap = parse_interval(args.interval)
    stages = plugin_stages(body, gap)
    anchor = statistics.median(r.cpu_per_poll_ms for r in runs["http-json"])
    print(f"\nReal Telegraf, interval {args.interval}, {args.rounds} alternating rounds of {args.seconds:g} s "
          f"per path; payload {PAYLOAD.name} ({len(body)} bytes).\n")
    print("| path | CPU per poll (Telegraf + plugin) | rounds (min–max) | × zero-code | of which plugin "
          "| Telegraf RSS | plugin RSS | timestamps per poll |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for path in paths:
        cpus = [r.cpu_per_poll_ms for r in runs[path]]
        cpu = statistics.median(cpus)
        t_rss = statistics.median(r.telegraf_rss for r in runs[path])
        p_rss = [r.plugin_rss for r in runs[path] if r.plugin_rss is not None]
        plugin = f"{statistics.median(p_rss):.1f} MB" if p_rss else "—"
        own = statistics.median(r.plugin_cpu_per_poll_ms for r in runs[path])
        own_text = f"{own:.2f} ms" if path not in ("http-json", "exec-once") else "—"
        print(f"| {path} | {cpu:.2f} ms | {min(cpus):.2f}–{max(cpus):.2f} | {cpu / anchor:.2f}× | {own_text} "
              f"| {t_rss:.1f} MB | {plugin} | {stamps[path]:.2f} |")
    print(f"\nThe plugin's poll step by step, in process, one poll every {args.interval} (median CPU):\n")
    print("| step | µs |")
    print("|---|---:|")
    for step, micros in stages.items():
        print(f"| {step} | {micros:.0f} |")
    print(f"| total | {sum(stages.values()):.0f} |")
    print("\nGoals: execd Prometheus ≤ 2× the zero-code path's CPU per poll; execd influx ≤ 1.5×;"
          " plugin process < 30 MB; one timestamp per poll. exec-once's plugin RSS is not sampled"
          " (a process per poll); its CPU is counted through Telegraf's cutime/cstime.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
