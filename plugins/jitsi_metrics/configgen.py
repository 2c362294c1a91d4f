"""``jitsi-metrics config HOST``: a ready configuration for Telegraf, collectd or Prometheus.

Every printed configuration starts from the files this copy ships (telegraf/, collectd/,
dashboards/: package data in a wheel or the Debian package, the top-level folders in a
checkout), so what the tests feed to the real hosts is what users copy. Only the lines
that name bridges, the command's path and collectd's ModulePath are rewritten.
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path
from typing import IO, Callable, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from .bridge_args import check_name_count
from .collectd_config import instance_name_rule, is_instance_name
from .config import ConfigError, bridge_options, check_timeout, check_unique_names, redact_url

PACKAGE_DIR = Path(__file__).resolve().parent
HOSTS = ("telegraf", "collectd", "prometheus", "dashboard", "rules")
TELEGRAF_SNIPPETS = {
    "execd-prometheus": "jitsi-execd-prometheus.conf",
    "execd-influx": "jitsi-execd-influx.conf",
    "exec-once": "jitsi-exec-once.conf",
    "prometheus-serve": "jitsi-prometheus-serve.conf",  # scrapes `serve`: no command line of ours
}
SERVE_URLS = re.compile(r'^([ \t]*)urls[ \t]*=[ \t]*\[.*\][ \t]*$', re.M)
# Folders that Debian's /usr/bin/python3 (collectd's embedded Python) searches by itself:
# a package installed there needs no ModulePath.
SYSTEM_SITE = re.compile(r"^/usr(/local)?/lib/python3(\.\d+)?/dist-packages$")
MODULE_PATH = re.compile(r'^([ \t]*)#?[ \t]*ModulePath[ \t]+"[^"\n]*"[ \t]*\n', re.M)
COLLECTD_IMPORT = re.compile(r'^([ \t]*)Import "jitsi_metrics\.collectd_plugin"', re.M)
BRIDGE_BLOCK = re.compile(r'^([ \t]*)<Bridge "[^"]*">\n.*?^\1</Bridge>\n', re.M | re.S)
TELEGRAF_COMMAND = re.compile(r"^([ \t]*)(commands?)[ \t]*=[ \t]*(\[.*\])[ \t]*$", re.M)


def shipped_dir(package_dir: Path = PACKAGE_DIR) -> Path:
    """Where this copy's snippets are: package data, else the checkout's top level."""
    packaged = package_dir / "shipped"
    if packaged.is_dir():
        return packaged
    checkout = package_dir.parent.parent
    if (checkout / "collectd" / "jitsi.conf").is_file():
        return checkout
    raise ConfigError(f"no shipped snippets next to {package_dir}: this copy of jitsi_metrics is incomplete")


def read_shipped(relative: str, package_dir: Path = PACKAGE_DIR) -> str:
    return (shipped_dir(package_dir) / relative).read_text(encoding="utf-8")


def collectd_module_path(package_dir: Path = PACKAGE_DIR) -> Optional[str]:
    """The ModulePath collectd needs to import this copy, or None when the system Python finds it."""
    parent = str(package_dir.parent)
    return None if SYSTEM_SITE.match(parent) else parent


def command_path(executable: str = sys.executable) -> str:
    """The jitsi-metrics beside this Python (a venv's bin/, /usr/bin), so Telegraf's PATH does not matter."""
    script = Path(executable).parent / "jitsi-metrics"
    return str(script) if script.is_file() else "jitsi-metrics"


def refuse_credentials(url: str) -> None:
    """A user name or password in a URL would be written into the configuration, readable there
    and in ``ps``: the generator refuses it and points to the options that read the secret from a file."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return  # bridge_options names what is wrong with it
    if "@" in netloc:
        raise ConfigError(f"--url {redact_url(url)} carries a user name or password, which the printed configuration "
                          "would expose (and ps too): give the URL without it and add --username with "
                          "--password-file FILE or --password-env VAR to the printed command "
                          "(collectd: Username and PasswordFile in the <Bridge> block)")


def checked_bridges(urls: Sequence[str], names: Sequence[str]) -> List[Tuple[str, Optional[str]]]:
    if not urls:
        raise ConfigError("give at least one --url")
    check_name_count(urls, names)
    for url in urls:
        refuse_credentials(url)
    pairs = [(url, names[i] if i < len(names) else None) for i, url in enumerate(urls)]
    check_unique_names([bridge_options(url, name=name) for url, name in pairs])
    return pairs


def toml_string(text: str) -> str:
    # JSON's escapes (\" \\ \uXXXX) are valid in a TOML basic string.
    return json.dumps(text)


def telegraf_config(template: str, bridges: Sequence[Tuple[str, Optional[str]]], command: str,
                    extra: Sequence[str] = ()) -> str:
    """The snippet with its command naming ``bridges`` (and ``extra`` arguments)."""
    match = TELEGRAF_COMMAND.search(template)
    if match is None:
        raise ConfigError("the Telegraf snippet has no command line to fill in")
    indent, key, value = match.groups()
    shipped = json.loads(value)
    argv = shlex.split(shipped[0]) if key == "commands" else list(shipped)
    kept: List[str] = []
    skip = False
    for arg in argv[1:]:
        if skip:
            skip = False
        elif arg in ("--url", "--name"):
            skip = True
        else:
            kept.append(arg)
    new = [command, *kept]
    for url, name in bridges:
        new += ["--url", url] + (["--name", name] if name is not None else [])
    new += list(extra)
    if key == "commands":
        line = f"{indent}commands = [{toml_string(shlex.join(new))}]"
    else:
        line = f"{indent}command = [{', '.join(toml_string(arg) for arg in new)}]"
    return template[:match.start()] + line + template[match.end():]


def collectd_string(text: str) -> str:
    if any(ch in text for ch in '"\\\n'):
        raise ConfigError(f"{text!r} cannot be written into collectd's configuration (quote, backslash or newline)")
    return f'"{text}"'


def collectd_config(template: str, bridges: Sequence[Tuple[str, Optional[str]]], module_path: Optional[str],
                    timeout: Optional[str] = None) -> str:
    """The snippet with one <Bridge> block per bridge and the ModulePath this copy needs (or none)."""
    found = BRIDGE_BLOCK.search(template)
    if found is None:
        raise ConfigError("the collectd snippet has no <Bridge> block to fill in")
    block = found.group(0)
    blocks = []
    for url, name in bridges:
        name = name if name is not None else bridge_options(url).name
        if not is_instance_name(name):
            raise ConfigError(f"collectd bridge {instance_name_rule(name)}; give --name")
        label = collectd_string(name)
        quoted_url = collectd_string(url)
        text = re.sub(r'<Bridge "[^"]*">', lambda _m, v=label: f"<Bridge {v}>", block, count=1)  # type: ignore[misc]
        text = re.sub(r'^([ \t]*)URL "[^"]*"', lambda m, v=quoted_url: f"{m.group(1)}URL {v}",  # type: ignore[misc]
                      text, count=1, flags=re.M)
        if timeout is not None:
            text = re.sub(r"^([ \t]*)# Timeout \S+", rf"\g<1>Timeout {timeout}", text, count=1, flags=re.M)
        blocks.append(text)
    result = template[:found.start()] + "\n".join(blocks) + template[found.end():]
    line = None if module_path is None else f"ModulePath {collectd_string(module_path)}\n"
    if MODULE_PATH.search(result):
        return MODULE_PATH.sub(lambda m: "" if line is None else m.group(1) + line, result, count=1)
    if line is None:
        return result
    return COLLECTD_IMPORT.sub(lambda m: m.group(1) + line + m.group(0), result, count=1)


def prometheus_config(exporter: str, targets: Sequence[str], probe: bool, job: str = "jitsi") -> str:
    """A prometheus.yml scraping the exporter: its /metrics, or /probe once per target."""
    quoted = json.dumps  # a JSON string is a YAML flow scalar
    lines = ["scrape_configs:", f"  - job_name: {quoted(job)}"]
    if probe:
        lines += ["    metrics_path: /probe", "    static_configs:",
                  f"      - targets: [{', '.join(quoted(t) for t in targets)}]",
                  "    relabel_configs:",
                  "      - source_labels: [__address__]", "        target_label: __param_target",
                  "      - source_labels: [__param_target]", "        target_label: instance",
                  "      - target_label: __address__", f"        replacement: {quoted(exporter)}"]
    else:
        lines += ["    static_configs:", f"      - targets: [{quoted(exporter)}]"]
    return "\n".join(lines) + "\n"


def serve_command(command: str, bridges: Sequence[Tuple[str, Optional[str]]], listen: str) -> str:
    argv = [command, "serve", "--listen", listen]
    for url, name in bridges:
        argv += ["--url", url] + (["--name", name] if name is not None else [])
    return shlex.join(argv)


def telegraf_serve_config(template: str, exporter: str, serve: str) -> str:
    """The typed snippet scraping ``exporter``, headed by the ``serve`` command to run there."""
    if not SERVE_URLS.search(template):
        raise ConfigError("the Telegraf snippet has no urls line to fill in")
    urls = SERVE_URLS.sub(lambda m: f"{m.group(1)}urls = [{toml_string(f'http://{exporter}/metrics')}]", template,
                          count=1)
    return f"## Run on the host of {exporter}, as a service:\n##   {serve}\n{urls}"


def cmd_config(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    if args.host == "dashboard":
        stdout.write(read_shipped("dashboards/jitsi-meet.json"))
        return 0
    if args.host == "rules":
        stdout.write(read_shipped("prometheus/rules/jitsi.rules.yml"))
        return 0
    bridges = checked_bridges(args.url or [], args.name or [])
    if args.timeout is not None:
        args.timeout = f"{check_timeout(args.timeout):g}"
    command = command_path()
    if args.host == "telegraf" and args.snippet == "prometheus-serve":
        # Telegraf scrapes it on this host: listen on the address the snippet names, not everywhere.
        template = read_shipped(f"telegraf/{TELEGRAF_SNIPPETS[args.snippet]}")
        stdout.write(telegraf_serve_config(template, args.exporter, serve_command(command, bridges, args.exporter)))
    elif args.host == "telegraf":
        extra = ["--timeout", args.timeout] if args.timeout is not None else []
        template = read_shipped(f"telegraf/{TELEGRAF_SNIPPETS[args.snippet]}")
        stdout.write(telegraf_config(template, bridges, command, extra))
    elif args.host == "collectd":
        module_path = collectd_module_path() if args.module_path is None else (args.module_path or None)
        stdout.write(collectd_config(read_shipped("collectd/jitsi.conf"), bridges, module_path, args.timeout))
    else:
        named = [name if name is not None else url for url, name in bridges]
        listen = args.exporter.rsplit(":", 1)[-1]
        stdout.write(f"# Exporter, on the host named in the targets below:\n"
                     f"#   {serve_command(command, bridges, ':' + listen)}\n")
        stdout.write(prometheus_config(args.exporter, named if args.probe else [], args.probe))
    return 0


def add_command(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Registers ``config``; ``add(name, help, examples)`` returns its parser."""
    parser = add("config", "Print a ready configuration for Telegraf, collectd or Prometheus, the dashboard or "
                           "the alert rules.", """
        jitsi-metrics config telegraf --url http://127.0.0.1:8080/colibri/stats > /etc/telegraf/telegraf.d/jitsi.conf
        jitsi-metrics config collectd --url http://meet1:8080/colibri/stats --name meet1 > jitsi.conf
        jitsi-metrics config prometheus --probe --url http://meet1:8080/colibri/stats --name meet1
        jitsi-metrics config telegraf --snippet prometheus-serve --url http://127.0.0.1:8080 --exporter 127.0.0.1:9888
        jitsi-metrics config dashboard > jitsi-meet.json
        jitsi-metrics config rules > /etc/prometheus/jitsi.rules.yml
    """)
    parser.add_argument("host", choices=HOSTS, help="what to configure")
    parser.add_argument("--url", action="append", metavar="URL", help="a bridge's statistics URL; repeat for more")
    parser.add_argument("--name", action="append", metavar="NAME", help="the name of the --url in the same position")
    parser.add_argument("--timeout", metavar="SECONDS", help="telegraf, collectd: per-bridge timeout to write in")
    parser.add_argument("--snippet", choices=sorted(TELEGRAF_SNIPPETS), default="execd-prometheus",
                        help="telegraf: which shipped snippet (default: %(default)s)")
    parser.add_argument("--module-path", metavar="DIR",
                        help="collectd: ModulePath to write ('' for none; default: where this copy is installed)")
    parser.add_argument("--exporter", default="localhost:9888", metavar="HOST:PORT",
                        help="prometheus, telegraf --snippet prometheus-serve: where the exporter listens "
                             "(default: %(default)s)")
    parser.add_argument("--probe", action="store_true", help="prometheus: one target per bridge through /probe")
    parser.set_defaults(func=cmd_config)


__all__ = ["add_command", "collectd_config", "collectd_module_path", "prometheus_config", "shipped_dir",
           "telegraf_config"]
