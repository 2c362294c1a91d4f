from __future__ import annotations

import base64
import io
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import FIXTURES, child_env
from jitsi_metrics.cli import main
from jitsi_metrics.simulate import BridgeServer


def run(*argv: str):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_once_single_unnamed_bridge_has_no_label(bridge_server):
    code, out, err = run("once", "--url", bridge_server.url)
    assert code == 0 and err == ""
    assert "\njitsi_up 1\n" in out and "\njitsi_conferences " in out
    assert "bridge=" not in out


def test_once_name_adds_the_label(bridge_server):
    code, out, _ = run("once", "--url", bridge_server.url, "--name", "meet1")
    assert code == 0 and 'jitsi_up{bridge="meet1"} 1' in out


def test_once_polls_several_bridges_and_survives_a_down_one(bridge_server):
    other = BridgeServer().start()
    other.fault = "html-500"
    try:
        code, out, err = run("once", "--url", bridge_server.url, "--url", other.url, "--format", "prometheus")
    finally:
        other.stop()
    host, port = bridge_server.address
    assert code == 0
    assert f'jitsi_up{{bridge="{host}:{port}"}} 1' in out
    assert f'jitsi_up{{bridge="{other.address[0]}:{other.address[1]}"}} 0' in out
    assert out.count("# TYPE jitsi_up gauge") == 1
    (line,) = err.splitlines()
    assert "HTTP 500" in line and other.url in line


def test_once_influx(bridge_server):
    code, out, _ = run("once", "--url", bridge_server.url, "--format", "influx")
    assert code == 0 and out.startswith("jitsi up=1i,scrape_duration_seconds=")


def test_once_reports_dropped_fields_and_keeps_the_rest(bridge_server):
    bridge_server.payload = (FIXTURES / "jvb1-legacy.json").read_bytes()
    code, out, err = run("once", "--url", bridge_server.url, "--name", "old")
    assert code == 0 and "jitsi_conference_sizes" not in out and 'jitsi_threads{bridge="old"}' in out
    assert err.strip() == (
        'Bridge "old": key "conference_sizes" expected an array of numbers, got the string \'[]\'; field skipped'
    )


@pytest.mark.parametrize("argv, words", [
    (["once"], "--url"),
    (["once", "--url", "ftp://x"], "is not an http"),
    (["once", "--url", "http://x/", "--timeout", "-1"], "positive"),
    (["once", "--url", "http://x/", "--name", "a", "--name", "b"], "--name given 2 times"),
    (["once", "--url", "http://x/", "--password-env", "NO_SUCH_VARIABLE_X"], "unset or empty"),
    (["once", "--url", "http://x/", "--format", "xml"], "invalid choice"),
])
def test_usage_errors_exit_2(argv, words, capsys):
    try:
        code, _, err = run(*argv)
    except SystemExit as exit:  # argparse's own errors
        code, err = exit.code, capsys.readouterr().err
    assert code == 2 and words in err


def test_validate_exit_codes(tmp_path):
    assert run("validate", str(FIXTURES / "jvb2-head.json"))[0] == 0
    code, out, _ = run("validate", str(FIXTURES / "jvb1-legacy.json"))
    assert code == 1 and "/conference_sizes: expected an array, got the string '[]'" in out
    code, _, err = run("validate", str(tmp_path / "missing.json"))
    assert code == 2 and "Cannot read" in err
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    code, _, err = run("validate", str(empty))
    assert code == 0 and "videobridge.stats.enabled=true" in err


def test_validate_a_url(bridge_server):
    code, out, _ = run("validate", bridge_server.url)
    assert code == 0 and "valid" in out


def test_help_has_examples(capsys):
    for command in ("once", "validate", "simulate", "demo"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "examples:" in capsys.readouterr().out


def test_demo_shows_metrics_of_a_simulated_bridge():
    code, out, err = run("demo", "--polls", "2", "--interval", "0.1")
    assert code == 0 and out.count('jitsi_up{bridge="demo"} 1') == 2
    assert "jitsi-metrics once --url" in err


def test_simulate_serves_until_sigterm(tmp_path):
    payload = tmp_path / "p.json"
    payload.write_bytes(b'{"conference_sizes": "[]"}')
    with subprocess.Popen(
        [sys.executable, "-m", "jitsi_metrics.cli", "simulate", "--listen", "127.0.0.1:0", "--payload", str(payload)],
        stderr=subprocess.PIPE, text=True, env=child_env(),
    ) as proc:
        try:
            line = proc.stderr.readline()
            url = line.split(" on ")[1].split(" ")[0]
            with urllib.request.urlopen(url, timeout=5) as response:
                assert response.read() == payload.read_bytes()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=5) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_version(capsys):
    from jitsi_metrics import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"jitsi-metrics {__version__}"


def test_validate_takes_the_auth_and_tls_options_of_once(bridge_server, monkeypatch):
    monkeypatch.setenv("JITSI_TEST_VALIDATE_PASSWORD", "s3cret")
    code, out, err = run("validate", bridge_server.url, "--username", "jvb",
                         "--password-env", "JITSI_TEST_VALIDATE_PASSWORD", "--timeout", "2")
    assert code == 0 and "valid" in out, err
    assert bridge_server.last_headers["Authorization"] == "Basic " + base64.b64encode(b"jvb:s3cret").decode()


def test_validate_of_deeply_nested_json_is_unreadable_not_a_traceback(tmp_path):
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100000 + "]" * 100000)
    code, out, err = run("validate", str(nested))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "nested too deeply" in err


def test_simulate_on_a_port_in_use_says_so_in_one_line(bridge_server):
    host, port = bridge_server.address
    done = subprocess.run([sys.executable, "-m", "jitsi_metrics.cli", "simulate", "--listen", f"{host}:{port}"],
                          capture_output=True, text=True, env=child_env(), timeout=20)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and f"cannot listen on {host}:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_simulate_with_a_missing_payload_says_so_in_one_line(tmp_path):
    missing = tmp_path / "missing.json"
    code, out, err = run("simulate", "--listen", "127.0.0.1:0", "--payload", str(missing))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"cannot read --payload {missing}: No such file or directory" in err


@pytest.mark.parametrize("fmt, scale", [("prometheus", 10**3), ("influx", 10**9)])
def test_once_timestamp_puts_the_polls_one_instant_on_every_sample_line(bridge_server, fmt, scale):
    before = time.time()
    code, out, err = run("once", "--url", bridge_server.url, "--format", fmt, "--timestamp")
    after = time.time()
    assert code == 0 and err == ""
    lines = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert len(lines) > 1
    stamps = {int(line.rsplit(" ", 1)[1]) for line in lines}
    assert len(stamps) == 1, stamps
    assert int(before * scale) <= stamps.pop() <= int(after * scale) + 1
    # Without the flag nothing is stamped (serve and plain once leave the time to the reader).
    code, plain, _ = run("once", "--url", bridge_server.url)
    assert code == 0 and "\njitsi_up 1\n" in plain


def test_once_never_prints_a_password_in_the_url():
    code, _, err = run("once", "--url", "http://jvb:topsecret@127.0.0.1:1/colibri/stats", "--timeout", "1")
    assert code == 0 and "cannot connect" in err and "topsecret" not in err
