"""Core benchmark: per-poll CPU of the pipeline and start-up cost of `jitsi-metrics once`.

    python3 bench/bench_core.py [--payload FILE] [--runs N]

Everything is measured side by side in one run and reported as ratios, because
absolute times on these machines drift from run to run:
- per poll: decode (json.loads), check, check + map, render, and the whole pipeline,
  against the floor of json.loads plus a plain render of every numeric key; also the
  pipeline as the front ends run it, with a bridge label and the merge by family
  (what ``Runtime.combined`` adds);
- start-up: wall time and peak RSS of `jitsi-metrics once` against `python -c "import http.client, json"`
  (the floor of any Python program that fetches JSON over HTTP).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "plugins"))

from jitsi_metrics.check import check_payload  # noqa: E402
from jitsi_metrics.mapping import map_payload  # noqa: E402
from jitsi_metrics.render.influx import render_influx  # noqa: E402
from jitsi_metrics.render.prometheus import render_prometheus  # noqa: E402
from jitsi_metrics.samples import merge_families  # noqa: E402
from jitsi_metrics.simulate import BridgeServer  # noqa: E402

DEFAULT_PAYLOADS = [
    REPO / "tests" / "payloads" / "real" / "jvb2-2.3.168-stable9779-from-designet-zabbix-template.json",
    REPO / "tests" / "fixtures" / "jvb2-2.3-shim.json",
]


def per_call_us(func: Callable[[], object], number: int, repeat: int) -> float:
    """Median over ``repeat`` runs of the time per call, in µs (process CPU time)."""
    timer = timeit.Timer(func, timer=time.process_time)
    return statistics.median(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def paired_ratio(base: Callable[[], object], other: Callable[[], object], number: int, rounds: int) -> float:
    """Median over rounds of other/base, the two timed back to back in each round, so
    that drift (other processes, CPU clock) hits both alike."""
    ratios = []
    for _ in range(rounds):
        b = timeit.Timer(base, timer=time.process_time).timeit(number)
        o = timeit.Timer(other, timer=time.process_time).timeit(number)
        ratios.append(o / b)
    return statistics.median(ratios)


def floor_render(payload: Dict[str, Any]) -> str:
    return "".join(f"jitsi_{k} {v}\n" for k, v in payload.items() if type(v) in (int, float))


BRIDGE = (("bridge", "meet1"),)


def labelled_pipeline(raw: bytes) -> str:
    """The pipeline as Runtime.combined runs it for a named bridge: label, then merge by family."""
    families = map_payload(json.loads(raw)).families
    return render_prometheus(merge_families([[f.with_labels(BRIDGE) for f in families]]))


def bench_poll(raw: bytes, number: int, repeat: int) -> List[Tuple[str, float]]:
    payload = json.loads(raw)
    families = map_payload(payload).families
    rows = [
        ("floor: json.loads + plain render", per_call_us(lambda: floor_render(json.loads(raw)), number, repeat)),
        ("decode (json.loads)", per_call_us(lambda: json.loads(raw), number, repeat)),
        ("check", per_call_us(lambda: check_payload(payload), number, repeat)),
        ("check + map", per_call_us(lambda: map_payload(payload), number, repeat)),
        ("render Prometheus", per_call_us(lambda: render_prometheus(families), number, repeat)),
        ("render Influx", per_call_us(lambda: render_influx(families), number, repeat)),
        ("pipeline: decode + check + map + render Prometheus",
         per_call_us(lambda: render_prometheus(map_payload(json.loads(raw)).families), number, repeat)),
        ("pipeline with a bridge label and the merge by family",
         per_call_us(lambda: labelled_pipeline(raw), number, repeat)),
    ]
    from jsonschema import Draft7Validator

    from jitsi_metrics.schema import shipped_schema

    validator = Draft7Validator(shipped_schema())
    full = per_call_us(lambda: validator.is_valid(payload), max(number // 10, 1), repeat)
    rows.append(("for scale: full jsonschema Draft-7 validation", full))
    return rows


def pipeline_ratio(raw: bytes, number: int) -> float:
    return paired_ratio(
        lambda: floor_render(json.loads(raw)),
        lambda: render_prometheus(map_payload(json.loads(raw)).families),
        number, rounds=15,
    )


def run_child(argv: List[str]) -> Tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process.

    The peak is the child's VmHWM, read from /proc every millisecond until it exits (the
    last reading counts). wait4's ru_maxrss would not do: a child started by vfork
    inherits this (larger) process's peak at exec, so every child would read alike.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    peak_kb = 0
    status_file = f"/proc/{proc.pid}/status"
    while True:
        try:
            with open(status_file) as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        done, status = os.waitpid(proc.pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.001)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} exited {proc.returncode}")
    return wall, peak_kb / 1024.0


def bench_startup(url: str, runs: int) -> List[Tuple[str, float, float]]:
    commands = {
        'python -c "import http.client, json"': [sys.executable, "-c", "import http.client, json"],
        "jitsi-metrics once --url <bridge>": [sys.executable, "-m", "jitsi_metrics.cli", "once", "--url", url],
    }
    results: Dict[str, Tuple[List[float], List[float]]] = {name: ([], []) for name in commands}
    for _ in range(runs):  # alternate, so drift hits both alike
        for name, argv in commands.items():
            wall, rss = run_child(argv)
            results[name][0].append(wall)
            results[name][1].append(rss)
    return [(name, statistics.median(w) * 1000, statistics.median(r)) for name, (w, r) in results.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payload", type=Path, help="payload to measure (default: the 2.3.168 one)")
    parser.add_argument("--runs", type=int, default=15, help="process starts per command (default: 15)")
    parser.add_argument("--number", type=int, default=2000, help="calls per timing (default: 2000)")
    args = parser.parse_args()
    path = args.payload or next(p for p in DEFAULT_PAYLOADS if p.exists())
    raw = path.read_bytes()

    rows = bench_poll(raw, args.number, repeat=7)
    floor = rows[0][1]
    print(f"Payload: {path.name} ({len(json.loads(raw))} keys), Python {sys.version.split()[0]}\n")
    print("| per poll (CPU, median) | µs | × floor |")
    print("|---|---:|---:|")
    for name, us in rows:
        print(f"| {name} | {us:.1f} | {us / floor:.2f} |")
    ratio = pipeline_ratio(raw, args.number // 4)
    print(f"\nPipeline / floor, timed back to back in 15 rounds, median ratio: **{ratio:.2f}×** (aim ≤ 2.5×)")

    server = BridgeServer(payload=raw).start()
    try:
        startup = bench_startup(server.url, args.runs)
    finally:
        server.stop()
    base_wall, base_rss = startup[0][1], startup[0][2]
    print("\n| process start (median of %d) | wall ms | × | peak RSS MB | × |" % args.runs)
    print("|---|---:|---:|---:|---:|")
    for name, wall, rss in startup:
        print(f"| {name} | {wall:.0f} | {wall / base_wall:.2f} | {rss:.1f} | {rss / base_rss:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
