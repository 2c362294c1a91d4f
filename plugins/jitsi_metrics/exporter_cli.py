"""Command lines of the Prometheus exporter.

``jitsi-metrics serve`` takes the shared bridge options; ``prometheus-jitsi-meet-exporter``
takes the two flags of systemli/prometheus-jitsi-meet-exporter (-videobridge-url,
-web.listen-address), so an existing unit file or Ansible role works unchanged, plus
-videobridge-password-file / -videobridge-password-env for a bridge behind basic
authentication (the user name goes in the URL) and -version.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import IO, Callable, Mapping, Optional, Sequence

from . import __version__
from .bridge_args import add_bridge_arguments, bridges_from_args, probe_allowed
from .config import (
    DEFAULT_CONCURRENCY,
    DEFAULT_URL,
    BridgeOptions,
    ConfigError,
    bridge_options,
    parse_listen,
    read_secret,
    redact_url,
)

DEFAULT_LISTEN = ":9888"
DROP_IN = "prometheus-jitsi-meet-exporter"
PASSWORD_ENV = "JITSI_VIDEOBRIDGE_PASSWORD"


def add_serve_command(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Registers ``jitsi-metrics serve``; ``add(name, help, examples)`` returns its parser."""
    serve = add("serve", "Serve the bridges' metrics to Prometheus on /metrics and /probe?target=NAME.", """
        jitsi-metrics serve --url http://127.0.0.1:8080/colibri/stats
        jitsi-metrics serve --url http://meet1:8080/colibri/stats --name meet1 \\
                            --url http://meet2:8080/colibri/stats --name meet2
        jitsi-metrics serve --listen 127.0.0.1:9888 --probe-allow http://meet3:8080/colibri/stats
    """)
    add_bridge_arguments(serve, url_required=False)
    serve.add_argument("--listen", default=DEFAULT_LISTEN, metavar="ADDR",
                       help="host:port to serve on; :PORT means every interface (default: %(default)s)")
    serve.add_argument("--probe-allow", action="append", default=[], metavar="[NAME=]URL",
                       help="a bridge URL /probe may fetch besides the --url bridges, by NAME or by the URL itself; "
                            "not in /metrics; repeatable")
    serve.add_argument("--max-connections", type=int, default=256, metavar="N",
                       help="most connections open at once; at the cap the longest-idle closes (default: %(default)s)")
    serve.add_argument("--legacy-names", action="store_true",
                       help="also emit the Go exporter's unprefixed total_ice_* names (the drop-in always does)")
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    if not args.url and not args.probe_allow:
        raise ConfigError("give at least one --url (or --probe-allow) bridge to serve")
    bridges = bridges_from_args(args, os.environ)
    probe_only = probe_allowed(args, os.environ)
    host, port = parse_listen(args.listen, "--listen")
    if args.max_connections < 1:
        raise ConfigError(f"--max-connections {args.max_connections} must be at least 1")
    return run(bridges, host, port, stderr, named=bool(args.name), legacy_names=args.legacy_names,
               probe_only=probe_only, concurrency=args.concurrency, max_connections=args.max_connections)


def run(bridges: Sequence[BridgeOptions], host: str, port: int, stderr: IO[str], named: bool = False,
        legacy_names: bool = False, probe_only: Sequence[BridgeOptions] = (),
        concurrency: int = DEFAULT_CONCURRENCY, max_connections: int = 256) -> int:
    """Serve until SIGTERM or SIGINT, then stop within a few seconds."""
    from .exporter import Exporter, log_line
    from .httpserver import Limits
    from .stop import StopSignals, Wakeup

    wakeup = Wakeup()
    # Installed before the server starts, so a signal during start-up is not lost.
    with StopSignals(wakeup) as stop:
        try:
            exporter = Exporter(bridges, host, port, named=named, legacy_names=legacy_names,
                                probe_only=probe_only, log=stderr, concurrency=concurrency,
                                limits=Limits(max_connections=max_connections))
        except OSError as exc:
            log_line(stderr, "error", f"Cannot listen on {host or '*'}:{port}: {exc.strerror or exc}; exiting")
            wakeup.close()
            return 1
        exporter.start()
        listed = ", ".join(f"{b.name} ({redact_url(b.url)})" for b in bridges) or "none"
        log_line(stderr, "info", f"Listening on {exporter.url}; bridges: {listed}; probe-only: {len(probe_only)};"
                                 f" at most {exporter.httpd.max_connections} connections")
        while not stop.requested:
            wakeup.wait()
    log_line(stderr, "info", "Shutting down")
    exporter.stop()
    wakeup.close()
    return 0


def drop_in_parser() -> argparse.ArgumentParser:
    # Go's flag package accepts -flag, --flag, "-flag value" and -flag=value; argparse
    # does too once both spellings are declared. No abbreviations: Go has none.
    parser = argparse.ArgumentParser(
        prog=DROP_IN, allow_abbrev=False,
        description="Drop-in for systemli/prometheus-jitsi-meet-exporter: serves one bridge's "
                    "/colibri/stats as Prometheus metrics on /metrics, with /health.")
    parser.add_argument("-videobridge-url", "--videobridge-url", dest="url", default=DEFAULT_URL, metavar="URL",
                        help="the bridge's statistics URL (default: %(default)s)")
    parser.add_argument("-web.listen-address", "--web.listen-address", dest="listen", default=DEFAULT_LISTEN,
                        metavar="ADDR", help="address to serve on (default: %(default)s)")
    # Not in the Go exporter, whose only way to basic auth is user:password in the URL,
    # which shows in `ps` and unit files. With these the URL carries the user name only.
    parser.add_argument("-videobridge-password-file", "--videobridge-password-file", dest="password_file",
                        metavar="FILE", help="file whose first line is the password for the URL's user name")
    parser.add_argument("-videobridge-password-env", "--videobridge-password-env", dest="password_env",
                        metavar="VAR", help=f"environment variable holding that password (e.g. {PASSWORD_ENV})")
    parser.add_argument("-version", "--version", action="version", version=f"{DROP_IN} {__version__}")
    return parser


def drop_in_bridge(args: argparse.Namespace, environ: Mapping[str, str]) -> BridgeOptions:
    password = read_secret("-videobridge-password", args.password_file, args.password_env, environ)
    return bridge_options(args.url, password=password)


def main(argv: Optional[Sequence[str]] = None, stderr: IO[str] = sys.stderr) -> int:
    """``prometheus-jitsi-meet-exporter``: one unnamed bridge, Go exporter's flags and names."""
    args = drop_in_parser().parse_args(argv)
    try:
        bridge = drop_in_bridge(args, os.environ)
        host, port = parse_listen(args.listen, "-web.listen-address")
    except ConfigError as exc:
        print(f"{DROP_IN}: {exc}", file=stderr)
        return 2
    # Unprefixed total_ice_* stay on, so dashboards built for the Go exporter keep working.
    return run([bridge], host, port, stderr, legacy_names=True)


if __name__ == "__main__":
    sys.exit(main())
