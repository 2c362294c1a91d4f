"""Sources benchmark: CPU per poll of reading a bridge through /metrics, against /colibri/stats.

    python3 bench/bench_sources.py [--runs N]

The same bridge (the local-build capture with one conference) read both ways, side by side
in one run, through the runtime's one mapping call (runtime.map_bridge) and the renderer,
reported as a ratio: /metrics is about 14 times the bytes of /colibri/stats,
so reading it costs more, and this says how much.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import timeit
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "plugins"))

from jitsi_metrics.detect import JICOFO_STATS, JVB_COLIBRI, JVB_METRICS, Answer  # noqa: E402
from jitsi_metrics.render import render  # noqa: E402
from jitsi_metrics.runtime import map_bridge  # noqa: E402
from jitsi_metrics.source_client import Fetched  # noqa: E402

CAPTURES = REPO / "tests" / "payloads" / "jvb-2.3-head-local-build"


def per_call_us(func, number: int, repeat: int) -> float:
    times = timeit.repeat(func, number=number, repeat=repeat, timer=time.process_time)
    return sorted(times)[len(times) // 2] / number * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    cases = {
        "colibri stats (JSON)": (JVB_COLIBRI, "jvb-conference.colibri-stats.json", "application/json"),
        "/metrics 0.0.4 text": (JVB_METRICS, "jvb-conference.metrics.text-plain.txt", "text/plain"),
        "/metrics OpenMetrics": (JVB_METRICS, "jvb-conference.metrics.openmetrics.txt", "application/openmetrics-text"),
        "/metrics JSON": (JVB_METRICS, "jvb-conference.metrics.json", "application/json"),
        "Jicofo /stats": (JICOFO_STATS, "jicofo-idle.stats.json", "application/json"),
    }
    results = {}
    for label, (source, name, ctype) in cases.items():
        answer = Answer(200, ctype, (CAPTURES / name).read_bytes())

        def poll(answer=answer, source=source):
            # What the runtime does with one answer: parse, map (runtime.map_bridge), render.
            fetched = json.loads(answer.body) if source == JVB_COLIBRI else Fetched(source, answer)
            families, _ = map_bridge(fetched, "b", False)
            return render(families, "prometheus")

        results[label] = (per_call_us(poll, 200, args.runs), len(answer.body))
    base = results["colibri stats (JSON)"][0]
    print(json.dumps({k: {"us_per_poll": round(v[0], 1), "bytes": v[1], "ratio": round(v[0] / base, 2)}
                      for k, v in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
