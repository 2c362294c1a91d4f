"""Command-line options that describe bridges, shared by every subcommand that polls."""
from __future__ import annotations

import argparse
import dataclasses
from typing import List, Mapping, Optional, Sequence

from .config import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT,
    BridgeOptions,
    ConfigError,
    bridge_options,
    check_unique_names,
    read_secret,
)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def add_bridge_arguments(parser: argparse.ArgumentParser, url_required: bool = True) -> None:
    group = parser.add_argument_group("bridges")
    group.add_argument("--url", action="append", required=url_required, metavar="URL",
                       help="a bridge's statistics URL, e.g. http://127.0.0.1:8080/colibri/stats; "
                            "repeat for more bridges")
    group.add_argument("--name", action="append", metavar="NAME",
                       help="the bridge label of the --url in the same position (default: host:port of the URL)")
    group.add_argument("--concurrency", type=_positive_int, default=DEFAULT_CONCURRENCY, metavar="N",
                       help="poll at most this many bridges at once (default: %(default)s)")
    add_connection_arguments(parser, group)


def add_connection_arguments(parser: argparse.ArgumentParser, group: Optional[argparse._ArgumentGroup] = None) -> None:
    """Timeout, size cap, authentication and TLS: what reaching one bridge takes."""
    group = group or parser.add_argument_group("connection")
    group.add_argument("--timeout", default=DEFAULT_TIMEOUT, metavar="SECONDS",
                       help="give up on a bridge after this long, connect, headers and body included "
                            "(default: %(default)s)")
    group.add_argument("--max-bytes", default=DEFAULT_MAX_BYTES, metavar="BYTES",
                       help="largest answer accepted from a bridge (default: %(default)s)")
    auth = parser.add_argument_group("authentication and TLS (secrets come from a file or the environment, never argv)")
    auth.add_argument("--username", help="basic-auth user name")
    auth.add_argument("--password-file", metavar="FILE", help="file whose first line is the basic-auth password")
    auth.add_argument("--password-env", metavar="VAR", help="environment variable holding the basic-auth password")
    auth.add_argument("--token-file", metavar="FILE", help="file whose first line is a bearer token")
    auth.add_argument("--token-env", metavar="VAR", help="environment variable holding a bearer token")
    auth.add_argument("--ca-file", metavar="FILE", help="CA bundle to verify the bridge's certificate with")
    auth.add_argument("--insecure-skip-verify", action="store_true",
                      help="do not verify the bridge's TLS certificate (only for testing)")


def check_name_count(urls: Sequence[str], names: Sequence[str]) -> None:
    """Raises ConfigError when --name is given more often than --url (names pair with URLs by position)."""
    if len(names) > len(urls):
        raise ConfigError(f"--name given {len(names)} times for {len(urls)} --url; give one name per URL")


def connection_options(args: argparse.Namespace, environ: Mapping[str, str], url: str,
                       name: Optional[str] = None) -> BridgeOptions:
    """BridgeOptions for ``url`` from the options of ``add_connection_arguments``."""
    return bridge_options(
        url,
        name=name,
        timeout=args.timeout,
        max_bytes=args.max_bytes,
        username=args.username,
        password=read_secret("--password", args.password_file, args.password_env, environ),
        token=read_secret("--token", args.token_file, args.token_env, environ),
        ca_file=args.ca_file,
        verify_tls=not args.insecure_skip_verify,
    )


def bridges_from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> List[BridgeOptions]:
    """BridgeOptions for every --url; raises ConfigError naming the bad option."""
    urls = args.url or []
    names = args.name or []
    check_name_count(urls, names)
    bridges = [
        connection_options(args, environ, url, names[i] if i < len(names) else None) for i, url in enumerate(urls)
    ]
    return list(check_unique_names(bridges))


def probe_allowed(args: argparse.Namespace, environ: Mapping[str, str]) -> List[BridgeOptions]:
    """BridgeOptions for every ``--probe-allow [NAME=]URL``.

    Several URLs may share one host:port (bridges behind one proxy): without a NAME,
    an allow-listed bridge is named by its whole URL, which /probe?target= takes too.
    """
    bridges = []
    for value in args.probe_allow or []:
        name, sep, url = value.partition("=")
        if not sep or "://" in name:
            name, url = "", value
        options = connection_options(args, environ, url, name or None)
        bridges.append(options if name else dataclasses.replace(options, name=options.url))
    return list(check_unique_names(bridges))
