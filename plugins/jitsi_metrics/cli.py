"""``jitsi-metrics``: declares the subcommands and wires the pieces together."""
from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from typing import IO, Optional, Sequence

from . import __version__
from .bridge_args import add_bridge_arguments, add_connection_arguments, bridges_from_args, connection_options
from .config import ConfigError, parse_listen
from .logtext import MAX_LINE, loggable
from .render import FORMATS

USAGE_ERROR = 2


def _examples(text: str) -> str:
    return "examples:\n" + textwrap.indent(textwrap.dedent(text).strip(), "  ")


def cmd_once(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from .health import NOTICE, Event
    from .runtime import Runtime

    def report(bridge: str, event: Event) -> None:
        # Errors and warnings are printed from the results below; notices say which
        # endpoint a base URL was found to serve.
        if event.level == NOTICE:
            print(event.message, file=stderr)

    bridges = bridges_from_args(args, os.environ)
    stamp = time.time() if args.timestamp else None  # one instant for the whole poll, before any fetch
    with Runtime(bridges, named=bool(args.name), concurrency=args.concurrency, report=report) as runtime:
        scrape = runtime.scrape(
            args.format,
            timestamp_ms=int(stamp * 1e3) if stamp is not None and args.format == "prometheus" else None,
            timestamp_ns=int(stamp * 1e9) if stamp is not None and args.format == "influx" else None,
        )
    for result in scrape.results:
        if result.error is not None:
            print(loggable(str(result.error), MAX_LINE), file=stderr)
        for warning in result.warnings:
            print(loggable(warning, MAX_LINE), file=stderr)
    stdout.write(scrape.text)
    stdout.flush()
    # Exit 0 even when a bridge is down: Telegraf's inputs.exec throws away the output
    # of a failing command, and jitsi_up 0 is exactly what should reach it.
    return 0


def _load_payload(source: str, args: argparse.Namespace) -> object:
    if source.startswith(("http://", "https://")):
        from .fetch import BridgeClient

        with BridgeClient(connection_options(args, os.environ, source)) as client:
            return client.fetch()
    with open(source, "rb") as handle:
        return json.loads(handle.read())


def cmd_validate(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from .check import payload_errors
    from .config import redact_url
    from .fetch import FetchError
    from .mapping import map_payload

    source = loggable(redact_url(args.source))
    try:
        payload = _load_payload(args.source, args)
    except RecursionError:  # json's C parser gives up on deep nesting this way
        print(f"Cannot read {source}: JSON nested too deeply to be a /colibri/stats payload", file=stderr)
        return USAGE_ERROR
    except (OSError, ValueError, FetchError) as exc:
        print(f"Cannot read {source}: {loggable(str(exc), MAX_LINE)}", file=stderr)
        return USAGE_ERROR
    errors = payload_errors(payload)
    for error in errors:
        print(f"{source}: {error.pointer}: {loggable(error.message, MAX_LINE)}", file=stdout)
    if errors:
        print(f"{source}: invalid, {len(errors)} problem(s); the fields named are skipped when polled", file=stdout)
        return 1
    mapped = map_payload(payload) if isinstance(payload, dict) else None
    count = sum(len(f.samples) for f in mapped.families) if mapped else 0
    print(f"{source}: valid, {len(payload)} keys, {count} samples", file=stdout)  # type: ignore[arg-type]
    if mapped and mapped.empty:
        print(mapped.warnings(source)[-1], file=stderr)
    return 0


def cmd_simulate(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from .simulate import BridgeServer, SimulatedBridge
    from .stop import wait_for_signal

    host, port = parse_listen(args.listen, "--listen")
    payload = None
    if args.payload:
        try:
            with open(args.payload, "rb") as handle:
                payload = handle.read()
        except OSError as exc:
            print(f"jitsi-metrics simulate: cannot read --payload {loggable(args.payload)}: {exc.strerror or exc}",
                  file=stderr)
            return USAGE_ERROR
    try:
        server = BridgeServer(host, port, bridge=SimulatedBridge(seed=args.seed), payload=payload,
                              component="jicofo" if args.jicofo else "jvb", rest_enabled=not args.rest_disabled)
    except OSError as exc:
        print(f"jitsi-metrics simulate: cannot listen on {args.listen}: {exc.strerror or exc}", file=stderr)
        return 1
    what = "simulated " + ("Jicofo" if args.jicofo else "bridge")
    if payload is not None:
        what = f"replaying {args.payload}"
    # With the REST API off there is no /colibri/stats to name; the base URL serves the rest.
    where = server.base_url if args.rest_disabled else server.url
    print(f"Serving {what} on {where} (Ctrl-C to stop)", file=stderr, flush=True)
    server.start()
    try:
        wait_for_signal()
    finally:
        server.stop()
    return 0


def cmd_demo(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from .config import bridge_options
    from .health import Event
    from .runtime import Runtime
    from .simulate import BridgeServer

    # A bridge as installed today: REST API off, so /colibri/stats answers 404 and the
    # statistics come from /metrics, found from the base URL alone.
    server = BridgeServer(rest_enabled=False).start()

    def report(bridge: str, event: Event) -> None:
        print(event.message, file=stderr, flush=True)

    try:
        print(f"A simulated bridge with the default configuration (REST API off) is serving {server.base_url};\n"
              f"finding its statistics from the base URL, then polling it {args.polls} time(s).", file=stderr)
        with Runtime([bridge_options(server.base_url, name="demo")], named=True, report=report) as runtime:
            for number in range(args.polls):
                if number:
                    time.sleep(args.interval)
                    stdout.write("\n")
                stdout.write(runtime.scrape(args.format).text)
                stdout.flush()
    finally:
        server.stop()
    print(
        "\nNext: point it at your bridge with\n"
        "  jitsi-metrics check http://127.0.0.1:8080\n"
        "  jitsi-metrics once --url http://127.0.0.1:8080\n"
        "(a base URL is enough: /colibri/stats when the REST API is on, else /metrics; Jicofo on :8888)\n"
        "and see docs/ for Telegraf, collectd and Prometheus.",
        file=stderr,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import configgen, diagnose, exporter_cli, telegraf

    parser = argparse.ArgumentParser(
        prog="jitsi-metrics",
        description="Jitsi Videobridge statistics (/colibri/stats) as Prometheus or Influx metrics.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_examples("""
            jitsi-metrics demo
            jitsi-metrics once --url http://127.0.0.1:8080/colibri/stats
            jitsi-metrics telegraf --url http://127.0.0.1:8080/colibri/stats
            jitsi-metrics serve --url http://meet1:8080/colibri/stats --url http://meet2:8080/colibri/stats
        """),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help: str, examples: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help,
                              formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_examples(examples))

    once = add("once", "Poll the bridges once and print one batch of metrics.", """
        jitsi-metrics once --url http://127.0.0.1:8080/colibri/stats
        jitsi-metrics once --url http://meet1:8080/colibri/stats --url http://meet2:8080/colibri/stats --format influx
        jitsi-metrics once --url https://meet1/colibri/stats --name meet1 --username jvb --password-env JVB_PASSWORD
    """)
    add_bridge_arguments(once)
    once.add_argument("--format", choices=FORMATS, default="prometheus", help="output format (default: %(default)s)")
    once.add_argument("--timestamp", action="store_true",
                      help="put the poll's time on every sample line (Prometheus text: milliseconds), so a parser "
                           "that stamps lines as it reads them (Telegraf's inputs.exec) keeps one poll at one instant")
    once.set_defaults(func=cmd_once)

    validate = add("validate", "Check a payload (file or URL) against the schema; "
                               "exit 0 valid, 1 invalid, 2 unreadable.", """
        jitsi-metrics validate stats.json
        jitsi-metrics validate http://127.0.0.1:8080/colibri/stats
        jitsi-metrics validate https://meet1/colibri/stats --username jvb --password-env JVB_PASSWORD
    """)
    validate.add_argument("source", metavar="FILE|URL")
    add_connection_arguments(validate)  # for a URL: the same auth and TLS options as once
    validate.set_defaults(func=cmd_validate)

    simulate = add("simulate", "Serve a simulated bridge, or replay a captured payload, on /colibri/stats.", """
        jitsi-metrics simulate
        jitsi-metrics simulate --listen 127.0.0.1:8081 --payload captured-stats.json
    """)
    simulate.add_argument("--listen", default="127.0.0.1:8080", help="address to serve on (default: %(default)s)")
    simulate.add_argument("--payload", metavar="FILE", help="serve this file's bytes as they are, bad types included")
    simulate.add_argument("--seed", type=int, default=1, help="seed of the simulation (default: %(default)s)")
    simulate.add_argument("--rest-disabled", action="store_true",
                          help="answer 404 on /colibri/stats, as a JVB with its default configuration does")
    simulate.add_argument("--jicofo", action="store_true", help="serve a simulated Jicofo (/stats, /metrics)")
    simulate.set_defaults(func=cmd_simulate)

    demo = add("demo", "Start a simulated bridge in-process and show its metrics; needs nothing else.", """
        jitsi-metrics demo
        jitsi-metrics demo --polls 3 --interval 2 --format influx
    """)
    demo.add_argument("--format", choices=FORMATS, default="prometheus", help="output format (default: %(default)s)")
    demo.add_argument("--polls", type=int, default=1, help="how many batches to show (default: %(default)s)")
    demo.add_argument("--interval", type=float, default=2.0, help="seconds between batches (default: %(default)s)")
    demo.set_defaults(func=cmd_demo)

    telegraf.add_command(add)
    exporter_cli.add_serve_command(add)
    configgen.add_command(add)
    diagnose.add_command(add)
    return parser


def main(argv: Optional[Sequence[str]] = None, stdout: IO[str] = sys.stdout, stderr: IO[str] = sys.stderr) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args, stdout, stderr))
    except ConfigError as exc:
        print(f"jitsi-metrics {args.command}: {exc}", file=stderr)
        return USAGE_ERROR
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
