"""One polling cycle of many slow bridges: the runtime's bounded worker pool.

A pool of N test bridges on 127.0.0.1 (one asyncio server, one path per bridge, each
answer held for --delay seconds) is polled by one ``Runtime`` with the default
concurrency. Prints the wall time of each cycle beside the floor of
ceil(N / concurrency) x delay, the time the pool's rounds take at the least.

Usage: python3 bench/bench_runtime.py [--bridges 500] [--delay 0.1] [--cycles 5] [--concurrency 64]
Goal (issue 10): 500 bridges answering in 100 ms each finish a cycle in under 1.5 s.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))

from jitsi_metrics.config import DEFAULT_CONCURRENCY, bridge_options  # noqa: E402
from jitsi_metrics.runtime import Runtime  # noqa: E402

BODY = json.dumps({"conferences": 3, "participants": 12, "stress_level": 0.1}).encode()


def serve_pool(delay: float) -> Tuple[int, asyncio.AbstractEventLoop]:
    """Every path answers BODY after ``delay`` s over keep-alive HTTP/1.1."""
    loop = asyncio.new_event_loop()
    ready: List[int] = []
    started = threading.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                await asyncio.sleep(delay)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        ready.append(server.sockets[0].getsockname()[1])
        started.set()
        async with server:
            await server.serve_forever()

    threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True).start()
    started.wait(10)
    return ready[0], loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bridges", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    args = parser.parse_args()
    port, _ = serve_pool(args.delay)
    bridges = [bridge_options(f"http://127.0.0.1:{port}/b{i}/colibri/stats", name=f"b{i}", timeout=5)
               for i in range(args.bridges)]
    floor = math.ceil(args.bridges / args.concurrency) * args.delay
    times: List[float] = []
    with Runtime(bridges, concurrency=args.concurrency) as runtime:
        for _ in range(args.cycles):
            start = time.perf_counter()
            results = runtime.poll()
            times.append(time.perf_counter() - start)
            down = sum(not r.up for r in results)
            assert not down, f"{down} bridges down: {next(r.error for r in results if not r.up)}"
    print(f"| {args.bridges} bridges x {args.delay * 1000:.0f} ms, concurrency {args.concurrency} | seconds |")
    print("|---|---|")
    print(f"| floor: {math.ceil(args.bridges / args.concurrency)} rounds x {args.delay:g} s | {floor:.2f} |")
    print(f"| first cycle (connects included) | {times[0]:.2f} |")
    if len(times) > 1:
        print(f"| later cycles, median of {len(times) - 1} | {statistics.median(times[1:]):.2f} |")
    print(f"| slowest cycle | {max(times):.2f} |")
    print(f"\nGoal: under 1.5 s per cycle: {'met' if max(times) < 1.5 else 'missed'}")


if __name__ == "__main__":
    main()
