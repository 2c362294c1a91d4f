"""``jitsi-metrics config``: each printed configuration passes its host's own check.

Telegraf ``--test`` runs the printed inputs block once, collectd ``-T`` loads the printed
<Plugin python> block and reads once, ``promtool check config`` checks the scrape config.
The printed text comes from the shipped files, so these tests also cover the snippets.
"""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

from conftest import REPO, child_env, require_tool
from fake_collectd import parse_config_text
from jitsi_metrics import configgen
from jitsi_metrics.cli import main
from jitsi_metrics.collectd_config import parse_config
from jitsi_metrics.config import ConfigError

SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
PUTVAL = re.compile(r"^PUTVAL (\S+) interval=\S+ \S+:(\S+)$", re.M)


def config(*argv: str) -> str:
    """What ``jitsi-metrics config ...`` prints, run as its own process like a user would."""
    out = subprocess.run([sys.executable, "-m", "jitsi_metrics.cli", "config", *argv], capture_output=True,
                         text=True, env=child_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def run_collectd_once(directory: Path, snippet: str) -> Tuple[subprocess.CompletedProcess, dict]:  # type: ignore[type-arg]
    """collectd -T (load everything, read each plugin once, exit) with csv on stdout."""
    (directory / "jitsi.conf").write_text(snippet, encoding="utf-8")
    main_conf = directory / "collectd.conf"
    main_conf.write_text(
        f'Hostname "host"\nFQDNLookup false\nBaseDir "{directory}"\nPIDFile "{directory}/collectd.pid"\n'
        'LoadPlugin csv\n<Plugin csv>\n  DataDir "stdout"\n  StoreRates false\n</Plugin>\n'
        f'Include "{directory / "jitsi.conf"}"\n', encoding="utf-8")
    env = child_env(PATH=SYSTEM_PATH)
    env.pop("VIRTUAL_ENV", None)
    out = subprocess.run([require_tool("collectd"), "-T", "-C", str(main_conf)], capture_output=True, text=True,
                         env=env, timeout=60)
    return out, dict(PUTVAL.findall(out.stdout))


@pytest.mark.integration
@pytest.mark.parametrize("snippet,plugin", [("execd-prometheus", "execd"), ("execd-influx", "execd"),
                                            ("exec-once", "exec")])
def test_printed_telegraf_config_passes_telegraf_test(bridge_server, tmp_path: Path, snippet: str,
                                                      plugin: str) -> None:
    telegraf = require_tool("telegraf")
    printed = config("telegraf", "--snippet", snippet, "--url", bridge_server.url, "--name", "meet1")
    conf = tmp_path / "jitsi.conf"
    conf.write_text(printed, encoding="utf-8")
    out = subprocess.run([telegraf, "--config", str(conf), "--test", "--input-filter", plugin],
                         capture_output=True, text=True, env=child_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert "bridge=meet1" in out.stdout
    assert re.search(r"\b(jitsi_)?conferences=\d", out.stdout), out.stdout


@pytest.mark.integration
def test_printed_collectd_config_passes_collectd_T(bridge_server, tmp_path: Path) -> None:
    # From a checkout the package is not in the system Python, so the printed block must
    # carry a ModulePath that makes collectd's embedded Python find this copy.
    printed = config("collectd", "--url", bridge_server.url, "--name", "meet1", "--url",
                     bridge_server.url.replace("127.0.0.1", "localhost"), "--name", "meet2")
    assert f'ModulePath "{configgen.PACKAGE_DIR.parent}"' in printed
    out, values = run_collectd_once(tmp_path, printed)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "python plugin: Error" not in out.stderr and "Traceback" not in out.stderr, out.stderr
    # Both bridges were read (both URLs reach the one simulated bridge). collectd -T exits
    # right after the read and may drop value lists still queued for csv ("value lists
    # were left"), so the printed values are a subset; those printed must be right.
    assert bridge_server.requests == 2
    ups = {key: value for key, value in values.items() if key.endswith("/gauge-up")}
    assert ups and set(ups) <= {"host/jitsi-meet1/gauge-up", "host/jitsi-meet2/gauge-up"}
    assert set(ups.values()) == {"1.000000"}


@pytest.mark.integration
@pytest.mark.parametrize("probe", [False, True])
def test_printed_prometheus_config_passes_promtool(tmp_path: Path, probe: bool) -> None:
    promtool = require_tool("promtool")
    argv = ["prometheus", "--url", "http://meet1:8080/colibri/stats", "--name", "meet1",
            "--url", "http://meet2:8080/colibri/stats", "--name", "meet2", "--exporter", "exporter.example:9888"]
    printed = config(*argv, *(["--probe"] if probe else []))
    conf = tmp_path / "prometheus.yml"
    conf.write_text(printed, encoding="utf-8")
    out = subprocess.run([promtool, "check", "config", str(conf)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    if probe:
        assert 'targets: ["meet1", "meet2"]' in printed
        assert "metrics_path: /probe" in printed and 'replacement: "exporter.example:9888"' in printed
    else:
        assert 'targets: ["exporter.example:9888"]' in printed
    assert "serve --listen :9888 --url http://meet1:8080/colibri/stats --name meet1" in printed


def test_dashboard_is_the_shipped_file() -> None:
    stdout = io.StringIO()
    assert main(["config", "dashboard"], stdout=stdout) == 0
    shipped = (REPO / "dashboards" / "jitsi-meet.json").read_text(encoding="utf-8")
    assert stdout.getvalue() == shipped
    assert json.loads(stdout.getvalue())["panels"]


def test_telegraf_config_names_every_bridge_and_keeps_the_rest_of_the_snippet() -> None:
    template = (REPO / "telegraf" / "jitsi-execd-influx.conf").read_text(encoding="utf-8")
    bridges: List[Tuple[str, object]] = [("http://a:8080/colibri/stats", "a"), ("http://b:8080/colibri/stats", None)]
    printed = configgen.telegraf_config(template, bridges, "/usr/bin/jitsi-metrics", ["--timeout", "3"])  # type: ignore[arg-type]
    command = '  command = ["/usr/bin/jitsi-metrics", "telegraf", "--format", "influx", ' \
              '"--url", "http://a:8080/colibri/stats", "--name", "a", "--url", "http://b:8080/colibri/stats", ' \
              '"--timeout", "3"]'
    assert command in printed.splitlines()
    untouched = [line for line in template.splitlines() if not line.startswith("  command =")]
    assert [line for line in printed.splitlines() if not line.startswith("  command =")] == untouched


def test_exec_once_command_is_one_shell_word_list() -> None:
    template = (REPO / "telegraf" / "jitsi-exec-once.conf").read_text(encoding="utf-8")
    printed = configgen.telegraf_config(template, [("http://a:8080/colibri/stats?x=1&y=2", "a b")], "jitsi-metrics")
    assert ("  commands = [\"jitsi-metrics once --timestamp --url 'http://a:8080/colibri/stats?x=1&y=2' "
            "--name 'a b'\"]") in printed


def test_collectd_module_path_follows_the_install() -> None:
    assert configgen.collectd_module_path(Path("/usr/lib/python3/dist-packages/jitsi_metrics")) is None
    assert configgen.collectd_module_path(Path("/usr/local/lib/python3.11/dist-packages/jitsi_metrics")) is None
    assert configgen.collectd_module_path(Path("/opt/jitsi-meet-metrics/lib/jitsi_metrics")) == \
        "/opt/jitsi-meet-metrics/lib"
    snippet = (REPO / "collectd" / "jitsi.conf").read_text(encoding="utf-8")
    bridges = [("http://a:8080/colibri/stats", "a")]
    without = configgen.collectd_config(snippet, bridges, None)  # type: ignore[arg-type]
    assert not re.search(r"^\s*ModulePath ", without, re.M)
    # The Debian package's copy has no ModulePath line; one is added when needed.
    debian_copy = re.sub(r"^\s*ModulePath .*\n", "", snippet, flags=re.M)
    added = configgen.collectd_config(debian_copy, bridges, "/srv/lib")  # type: ignore[arg-type]
    assert re.search(r'^  ModulePath "/srv/lib"\n  Import "jitsi_metrics.collectd_plugin"', added, re.M)


def test_collectd_refuses_names_and_urls_collectd_would_reject() -> None:
    for option, value, message in [("--name", 'a"b', "may only use"), ("--name", "meet 1", "may only use"),
                                   ("--url", 'http://a:8080/colibri/stats?q="x"', "cannot be written")]:
        argv = ["config", "collectd", "--url", "http://a:8080/colibri/stats", "--name", "a"]
        argv[argv.index(option) + 1] = value
        stderr = io.StringIO()
        assert main(argv, stdout=io.StringIO(), stderr=stderr) == 2, value
        assert message in stderr.getvalue(), stderr.getvalue()


def test_collectd_config_refuses_the_names_the_plugin_refuses() -> None:
    # What the printed <Bridge> block holds must load in the plugin: the same names pass both.
    for name in ["meet1", "a b", "a/b", "ü", "a" * 127, "a" * 128]:
        printed = io.StringIO()
        code = main(["config", "collectd", "--url", "http://127.0.0.1:8080/colibri/stats", "--name", name],
                    stdout=printed, stderr=io.StringIO())
        try:
            parse_config(parse_config_text(f'<Module "jitsi_metrics.collectd_plugin">\n  <Bridge "{name}">\n'
                                           '    URL "http://127.0.0.1:8080/colibri/stats"\n  </Bridge>\n</Module>\n'
                                           ).children[0])
            plugin_accepts = True
        except ConfigError:
            plugin_accepts = False
        assert (code == 0) == plugin_accepts, name


def test_usage_errors_name_the_option() -> None:
    stderr = io.StringIO()
    assert main(["config", "telegraf"], stdout=io.StringIO(), stderr=stderr) == 2
    assert "give at least one --url" in stderr.getvalue()
    stderr = io.StringIO()
    assert main(["config", "collectd", "--url", "ftp://x/colibri/stats"], stdout=io.StringIO(), stderr=stderr) == 2
    assert "jitsi-metrics config:" in stderr.getvalue()


@pytest.mark.parametrize("host", ["telegraf", "collectd", "prometheus"])
def test_url_with_credentials_is_refused_without_echoing_the_password(host: str) -> None:
    # A password in --url would be written into the printed configuration and show in ps.
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(["config", host, "--url", "http://jvb:s3cret@127.0.0.1:8080/colibri/stats"],
                stdout=stdout, stderr=stderr)
    assert code == 2
    assert stdout.getvalue() == ""
    message = stderr.getvalue()
    assert "s3cret" not in message
    assert "--password-file" in message and "--password-env" in message and "PasswordFile" in message
    assert len(message.strip().splitlines()) == 1, message


def test_name_count_and_collectd_name_messages_match_the_runtime_ones() -> None:
    # The generator refuses with the words the commands and the plugin use, not a copy that drifts.
    stderr = io.StringIO()
    argv = ["config", "telegraf", "--url", "http://127.0.0.1:8080/colibri/stats", "--name", "a", "--name", "b"]
    assert main(argv, stdout=io.StringIO(), stderr=stderr) == 2
    once = io.StringIO()
    assert main(["once", "--url", "http://127.0.0.1:1/colibri/stats", "--name", "a", "--name", "b"],
                stdout=io.StringIO(), stderr=once) == 2
    assert "give one name per URL" in stderr.getvalue()
    assert stderr.getvalue().split(": ", 1)[1] == once.getvalue().split(": ", 1)[1]
    stderr = io.StringIO()
    assert main(["config", "collectd", "--url", "http://127.0.0.1:8080/colibri/stats", "--name", "a b"],
                stdout=io.StringIO(), stderr=stderr) == 2
    with pytest.raises(ConfigError) as plugin:
        parse_config(parse_config_text('<Module "jitsi_metrics.collectd_plugin">\n  <Bridge "a b">\n'
                                       '    URL "http://127.0.0.1:8080/colibri/stats"\n  </Bridge>\n</Module>\n'
                                       ).children[0])
    rule = "name 'a b' may only use A-Z a-z 0-9 _ . : @ + , = - (up to 127 characters)"
    assert rule in stderr.getvalue() and rule in str(plugin.value)


def test_rules_are_the_shipped_file_and_pass_promtool(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    printed = config("rules")
    assert printed == (REPO / "prometheus" / "rules" / "jitsi.rules.yml").read_text(encoding="utf-8")
    rules = tmp_path / "jitsi.rules.yml"
    rules.write_text(printed, encoding="utf-8")
    out = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_printed_typed_telegraf_config_reads_a_running_serve(bridge_server, tmp_path: Path) -> None:
    # The typed path: the printed inputs.prometheus block, pointed at a running exporter,
    # reads the bridge through it in the real Telegraf; its header names the serve command.
    from jitsi_metrics.config import bridge_options
    from jitsi_metrics.exporter import Exporter

    telegraf = require_tool("telegraf")
    with Exporter([bridge_options(bridge_server.url, name="meet1")], named=True) as exporter:
        address = "%s:%d" % exporter.address
        printed = config("telegraf", "--snippet", "prometheus-serve", "--url", bridge_server.url, "--name", "meet1",
                         "--exporter", address)
        assert f"serve --listen {address} --url {bridge_server.url} --name meet1" in printed
        conf = tmp_path / "telegraf.conf"
        conf.write_text("[agent]\n  omit_hostname = true\n" + printed, encoding="utf-8")
        out = subprocess.run([telegraf, "--config", str(conf), "--test", "--input-filter", "prometheus"],
                             capture_output=True, text=True, env=child_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert "jitsi_up=1" in out.stdout and "bridge=meet1" in out.stdout

