"""The collectd plugin against a fake ``collectd`` module that checks types.db.

Bridges are the simulated bridge over loopback, so fetching is real; only collectd is
faked (tests/fake_collectd.py). The real daemon runs in test_collectd_integration.py.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import json
import math
import sys
import types
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from conftest import REPO
from fake_collectd import Config, new_collectd, parse_config_text
from golden import snippet_module
from jitsi_metrics import collectd_plugin
from jitsi_metrics.collectd_plugin import CollectdPlugin, parse_config, value_spec
from jitsi_metrics.config import DEFAULT_TIMEOUT, ConfigError
from jitsi_metrics.simulate import BridgeServer

SNIPPET = REPO / "collectd" / "jitsi.conf"
MODULE = "jitsi_metrics.collectd_plugin"


def module_block(body: str) -> Config:
    root = parse_config_text(f'<Module "{MODULE}">\n{body}\n</Module>\n')
    return root.children[0]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    module = new_collectd()
    monkeypatch.setitem(sys.modules, "collectd", module)
    return module


def start(fake: Any, block: Config) -> CollectdPlugin:
    plugin = CollectdPlugin(fake)
    plugin.configure(block)
    plugin.init()
    return plugin


def by_id(fake: Any, bridge: str) -> Dict[Tuple[str, str], Any]:
    """(type, type instance) -> value of what ``bridge`` dispatched."""
    out: Dict[Tuple[str, str], Any] = {}
    for d in fake.dispatched:
        assert d.plugin == "jitsi"
        if d.plugin_instance == bridge:
            assert (d.type, d.type_instance) not in out, f"{d.identifier} dispatched twice in one read"
            out[(d.type, d.type_instance)] = d.values[0]
    return out


# --- loading --------------------------------------------------------------------------

def test_import_outside_collectd_registers_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # PyPI's unrelated "collectd" package would shadow the real module; it must not be here.
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("collectd")
    monkeypatch.setitem(sys.modules, "collectd", None)  # None: "import collectd" raises ImportError
    importlib.reload(collectd_plugin)  # must not raise outside collectd
    # From the checkout root, "import collectd" finds the collectd/ snippet folder: an
    # empty namespace package, which must not be taken for collectd. This stand-in lacks
    # register_config like that folder, and records any other registration tried on it.
    calls: List[str] = []
    namespace = types.ModuleType("collectd")
    for kind in ("init", "read", "shutdown", "write", "flush", "log", "notification"):
        setattr(namespace, f"register_{kind}", lambda *args, _kind=kind, **kwargs: calls.append(_kind))
    monkeypatch.setitem(sys.modules, "collectd", namespace)
    importlib.reload(collectd_plugin)
    assert calls == []
    # The same reload inside collectd does register: the check above can tell the two apart.
    fake = new_collectd()
    monkeypatch.setitem(sys.modules, "collectd", fake)
    importlib.reload(collectd_plugin)
    assert sorted(fake.callbacks) == ["config", "init", "shutdown"]


def test_import_inside_collectd_registers_config_init_shutdown_then_read(
        fake: Any, bridge_server: BridgeServer,
) -> None:
    importlib.reload(collectd_plugin)
    assert sorted(fake.callbacks) == ["config", "init", "shutdown"]
    fake.callbacks["config"][0][0](snippet_module(bridge_server.url))
    fake.callbacks["init"][0][0]()
    (read, options), = fake.callbacks["read"]
    assert options == {"name": "jitsi"}  # no Interval in the snippet: collectd's global one
    read()
    assert by_id(fake, "meet1")[("gauge", "up")] == 1.0
    fake.callbacks["shutdown"][0][0]()
    assert fake.logs == []


# --- configuration --------------------------------------------------------------------

def test_shipped_snippet_gives_one_bridge() -> None:
    config = parse_config(snippet_module("http://127.0.0.1:8080/colibri/stats"))
    (bridge,) = config.bridges
    assert (bridge.name, bridge.url, bridge.timeout, bridge.verify_tls) == (
        "meet1", "http://127.0.0.1:8080/colibri/stats", DEFAULT_TIMEOUT, True)
    assert config.interval is None


def test_every_option_case_insensitive(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\nignored\n")
    (tmp_path / "token").write_text("tok\n")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    config = parse_config(module_block(f'''
        interval 10
        <Bridge "meet1">
          url "https://meet1.example/colibri/stats"
          TIMEOUT 2
          MaxBytes 1000
          Username "metrics"
          PasswordFile "{tmp_path / 'pw'}"
          CAFile "{tmp_path / 'ca.pem'}"
        </Bridge>
        <bridge "meet2">
          URL "https://meet2.example/colibri/stats"
          TokenFile "{tmp_path / 'token'}"
          verifytls "off"
        </bridge>'''))
    one, two = config.bridges
    assert config.interval == 10.0
    assert (one.name, one.timeout, one.max_bytes, one.username, one.password, one.ca_file, one.verify_tls) == (
        "meet1", 2.0, 1000, "metrics", "s3cret", str(tmp_path / "ca.pem"), True)
    assert (two.name, two.token, two.verify_tls, two.username) == ("meet2", "tok", False, None)


BRIDGE = '<Bridge "meet1">\n URL "http://127.0.0.1:9/colibri/stats"\n {extra}\n</Bridge>'
CONFIG_ERRORS = {
    "unknown bridge option": (BRIDGE.format(extra="Tiemout 2"), ["Bridge \"meet1\"", "'Tiemout'"]),
    "unknown module option": ("Verbose true\n" + BRIDGE.format(extra=""), ["'Verbose'"]),
    "negative timeout": (BRIDGE.format(extra="Timeout -1"), ["Timeout", "-1.0"]),
    "timeout not a number": (BRIDGE.format(extra='Timeout "soon"'), ["Timeout", "'soon'"]),
    "two timeouts in one line": (BRIDGE.format(extra="Timeout 2 3"), ["Timeout", "exactly one value", "(2.0, 3.0)"]),
    "timeout twice": (BRIDGE.format(extra="Timeout 2\nTimeout 3"), ["Timeout twice"]),
    "max bytes zero": (BRIDGE.format(extra="MaxBytes 0"), ["MaxBytes", "0.0"]),
    "url not http": ('<Bridge "meet1">\n URL "ftp://meet1/colibri/stats"\n</Bridge>', ["URL", "'ftp://meet1/colibri/stats'"]),
    "url unquoted number": ('<Bridge "meet1">\n URL 8080\n</Bridge>', ["URL", "8080.0"]),
    "url missing": ('<Bridge "meet1">\n Timeout 2\n</Bridge>', ["Bridge \"meet1\" has no URL"]),
    "verify tls not boolean": (BRIDGE.format(extra='VerifyTLS "maybe"'), ["VerifyTLS", "'maybe'"]),
    "password file missing": (BRIDGE.format(extra='Username "u"\nPasswordFile "/nonexistent/pw"'),
                              ["PasswordFile", "'/nonexistent/pw'"]),
    "username without password": (BRIDGE.format(extra='Username "metrics"'),
                                  ["Bridge \"meet1\"", "'metrics'", "without a password"]),
    "ca file missing": (BRIDGE.format(extra='CAFile "/nonexistent/ca.pem"'), ["CAFile", "'/nonexistent/ca.pem'"]),
    "bridge without name": ('<Bridge>\n URL "http://127.0.0.1:9/"\n</Bridge>', ["<Bridge \"meet1\">", "()"]),
    "bridge name with slash": ('<Bridge "a/b">\n URL "http://127.0.0.1:9/"\n</Bridge>', ["'a/b'", "plugin instance"]),
    "same name twice": (BRIDGE.format(extra="") + "\n" + BRIDGE.format(extra=""), ["'meet1'", "twice"]),
    "no bridge": ("Interval 10", ["no <Bridge"]),
    "interval zero": ("Interval 0\n" + BRIDGE.format(extra=""), ["Interval", "0.0"]),
}


@pytest.mark.parametrize("case", sorted(CONFIG_ERRORS))
def test_bad_config_logs_one_error_naming_option_and_registers_no_read(fake: Any, case: str) -> None:
    body, expected = CONFIG_ERRORS[case]
    with pytest.raises(ConfigError) as raised:
        parse_config(module_block(body))
    for text in expected:
        assert text in str(raised.value), case
    plugin = start(fake, module_block(body))
    (level, line), = fake.logs
    assert level == "error" and str(raised.value) in line and "no bridge will be read" in line
    assert "read" not in fake.callbacks
    plugin.read()  # harmless even if collectd called it
    assert fake.dispatched == []


def test_secret_file_empty(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n")
    with pytest.raises(ConfigError, match=r"TokenFile '.*token' is empty"):
        parse_config(module_block(BRIDGE.format(extra=f'TokenFile "{tmp_path / "token"}"')))


def test_second_module_block_is_an_error(fake: Any) -> None:
    plugin = CollectdPlugin(fake)
    plugin.configure(module_block(BRIDGE.format(extra="")))
    plugin.configure(module_block(BRIDGE.format(extra="")))
    plugin.init()
    assert [level for level, _ in fake.logs] == ["error"] and "second <Module>" in fake.logs[0][1]
    assert "read" not in fake.callbacks


def test_no_module_block_is_an_error_at_init(fake: Any) -> None:
    CollectdPlugin(fake).init()
    (level, line), = fake.logs
    assert level == "error" and "no <Module" in line
    assert "read" not in fake.callbacks


def test_interval_goes_to_register_read(fake: Any) -> None:
    plugin = start(fake, module_block("Interval 7.5\n" + BRIDGE.format(extra="")))
    assert fake.callbacks["read"] == [(plugin.read, {"name": "jitsi", "interval": 7.5})]


# --- one sample, one value ------------------------------------------------------------

def test_value_spec_names_and_types() -> None:
    from jitsi_metrics.mapping import map_payload, meta_families

    payload = {"conferences": 3, "total_bytes_sent": 10, "healthy": True, "conference_sizes": [0, 2],
               "version": "2.3.63 g/x", "new_thing": 1.5}
    labels = (("bridge", "meet1"),)
    families = meta_families(True, 0.25, labels) + map_payload(payload, labels).families
    specs = [value_spec(f, s) for f in families for s in f.samples]
    assert specs == [
        ("gauge", "up", 1), ("duration", "poll", 0.25),
        ("gauge", "conferences", 3), ("gauge", "healthy", 1), ("gauge", "version-2.3.63_g_x", 1),
        ("derive", "total_bytes_sent", 10),
        ("gauge", "conference_sizes-0", 0), ("gauge", "conference_sizes-1", 2),
        ("gauge", "new_thing", 1.5),
    ]


# --- real payloads through the plugin -------------------------------------------------
# Every captured payload and era fixture goes through this plugin in tests/test_golden.py
# (test_collectd), compared with the hand-reviewed tests/cases/*/expected.collectd.


def test_dropped_field_warned_once(fake: Any, bridge_server: BridgeServer) -> None:
    bridge_server.payload = json.dumps({"conferences": 2, "conference_sizes": "[]"}).encode()
    plugin = start(fake, snippet_module(bridge_server.url))
    plugin.read()
    fake.dispatched.clear()
    plugin.read()
    (level, line), = fake.logs
    assert level == "warning" and '"conference_sizes"' in line and "'[]'" in line
    assert by_id(fake, "meet1")[("gauge", "conferences")] == 2.0


def test_out_of_range_derive_skipped_and_named_once(fake: Any, bridge_server: BridgeServer) -> None:
    # A held total_bytes_sent of 2**64-1 was seen on a real bridge; collectd raises on it.
    bridge_server.payload = b'{"total_bytes_sent": 18446744073709551615, "total_packets_sent": "NaN", ' \
                            b'"total_bytes_received": 5, "conferences": 1}'
    plugin = start(fake, snippet_module(bridge_server.url))
    for _ in range(2):
        fake.dispatched.clear()
        plugin.read()
        got = by_id(fake, "meet1")
        assert got[("derive", "total_bytes_received")] == 5 and got[("gauge", "conferences")] == 1.0
        assert ("derive", "total_bytes_sent") not in got and ("derive", "total_packets_sent") not in got
    lines = [line for _, line in fake.logs]
    assert len(lines) == 2, lines
    assert '"total_bytes_sent" is outside' in lines[0] and "skipped" in lines[0]
    assert '"total_packets_sent" is outside' in lines[1]
    # Back in range: one notice, and nothing is remembered about the old values.
    bridge_server.payload = b'{"total_bytes_sent": 7, "total_packets_sent": 8, "conferences": 1}'
    plugin.read()
    plugin.read()
    assert fake.logs[2:] == [("notice", 'jitsi plugin: Bridge "meet1": every field is valid again')]


def test_a_bridge_whose_values_collectd_rejects_is_reported_again_after_recovering(
        fake: Any, bridge_server: BridgeServer) -> None:
    # The old `reported` set was never cleared: a value that went out of range, came back
    # and went out again was reported only the first time, and the set grew for ever.
    high = b'{"total_bytes_sent": 18446744073709551615}'
    plugin = start(fake, snippet_module(bridge_server.url))
    for payload in (high, b'{"total_bytes_sent": 5}', high):
        bridge_server.payload = payload
        plugin.read()
    assert [level for level, _ in fake.logs] == ["warning", "notice", "warning"]


# --- several bridges, failures, recovery ----------------------------------------------

def two_bridges(first: str, second: str) -> Config:
    return module_block(f'<Bridge "meet1">\n URL "{first}"\n</Bridge>\n'
                        f'<Bridge "meet2">\n URL "{second}"\n Timeout 1\n</Bridge>')


def test_one_bridge_down_others_read_warning_once_notice_on_recovery(fake: Any, bridge_server: BridgeServer) -> None:
    with BridgeServer() as broken:
        broken.fault = "html-500"
        plugin = start(fake, two_bridges(bridge_server.url, broken.url))
        for _ in range(3):
            fake.dispatched.clear()
            plugin.read()
            assert by_id(fake, "meet1")[("gauge", "up")] == 1.0 and len(by_id(fake, "meet1")) > 20
            assert set(by_id(fake, "meet2")) == {("gauge", "up"), ("duration", "poll")}
            assert by_id(fake, "meet2")[("gauge", "up")] == 0.0
        (level, line), = fake.logs
        assert level == "warning" and '"meet2"' in line and "HTTP 500" in line
        broken.fault = None
        for _ in range(2):
            fake.dispatched.clear()
            plugin.read()
            assert by_id(fake, "meet2")[("gauge", "up")] == 1.0
        assert fake.logs[1:] == [("notice", 'jitsi plugin: Bridge "meet2" is answering again')]
        plugin.shutdown()


def test_refused_bridge_does_not_stop_the_other(fake: Any, bridge_server: BridgeServer) -> None:
    gone = BridgeServer().start()
    gone.stop()  # nothing listens on its port any more
    plugin = start(fake, two_bridges(gone.url, bridge_server.url))
    plugin.read()
    assert by_id(fake, "meet1")[("gauge", "up")] == 0.0
    assert by_id(fake, "meet2")[("gauge", "up")] == 1.0
    (level, line), = fake.logs
    assert level == "warning" and '"meet1"' in line and "cannot connect" in line


def test_read_never_raises(fake: Any, bridge_server: BridgeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = start(fake, two_bridges(bridge_server.url, bridge_server.url))
    real_dispatch = plugin.dispatch

    def dispatch_failing_for_meet1(bridge: str, family: Any, sample: Any) -> None:
        if bridge == "meet1":
            raise KeyError("bug")
        real_dispatch(bridge, family, sample)

    monkeypatch.setattr(plugin, "dispatch", dispatch_failing_for_meet1)
    plugin.read()
    fake.dispatched.clear()
    plugin.read()
    assert by_id(fake, "meet2") and not by_id(fake, "meet1")
    (level, line), = fake.logs
    assert level == "warning" and '"meet1"' in line and "KeyError" in line

    def poll_failing() -> None:
        raise RuntimeError("poller bug")

    real_poll = plugin.runtime.poll
    monkeypatch.setattr(plugin.runtime, "poll", poll_failing)
    plugin.read()
    plugin.read()
    assert len(fake.logs) == 2 and "poller bug" in fake.logs[1][1]
    assert fake.logs[1][1].startswith("jitsi plugin: polling failed: RuntimeError(")  # the prefix once
    assert fake.logs[1][1].endswith("reporting once when it recovers")
    monkeypatch.setattr(plugin.runtime, "poll", real_poll)
    plugin.read()
    plugin.read()
    assert fake.logs[2:] == [("notice", "jitsi plugin: polling works again")]  # the promised recovery line


def test_collectd_rejecting_a_value_is_logged_once(
        fake: Any, bridge_server: BridgeServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(collectd_plugin, "value_spec", lambda f, s: ("no_such_type", f.name + repr(s.labels), s.value))
    plugin = start(fake, snippet_module(bridge_server.url))
    plugin.read()
    plugin.read()
    assert fake.dispatched == []
    assert all("Dataset no_such_type not found" in line for _, line in fake.logs)
    assert len(fake.logs) == len({line for _, line in fake.logs}) > 1


# --- the fake itself, against what the real daemon does --------------------------------

def test_fake_values_raise_like_collectd(fake: Any) -> None:
    values = fake.Values(plugin="jitsi", type="gauge")
    with pytest.raises(TypeError, match="Dataset nosuch not found"):
        values.dispatch(type="nosuch", values=[1])
    with pytest.raises(RuntimeError, match="type gauge needs 1 values, got 2"):
        values.dispatch(values=[1, 2])
    with pytest.raises(OverflowError):
        values.dispatch(type="derive", values=[2 ** 64 - 1])
    with pytest.raises(ValueError):
        values.dispatch(type="derive", values=[float("nan")])
    with pytest.raises(TypeError, match="'bogus' is an invalid keyword"):
        fake.Values(bogus=1)
    values.dispatch(type="derive", values=[12.7])
    assert fake.dispatched[-1].values == (12,)
    assert (values.type, values.values) == ("gauge", [])  # overrides do not stick
    ((name, ds_type, low, high),) = fake.get_dataset("duration")
    assert (name, ds_type, low) == ("seconds", fake.DS_TYPE_GAUGE, 0.0) and math.isnan(high)


def test_fake_embedded_types_db_matches_the_real_one() -> None:
    import fake_collectd

    if not fake_collectd.TYPES_DB.is_file():
        pytest.skip(f"{fake_collectd.TYPES_DB} missing; the fake uses its embedded copy")
    embedded = fake_collectd.parse_types_db(fake_collectd.EMBEDDED_TYPES_DB)
    real = fake_collectd.TYPES
    for name, sources in embedded.items():
        assert repr(real[name]) == repr(sources), name  # repr: nan == nan


def test_fake_config_parser_types_values_like_collectd() -> None:
    (node,) = parse_config_text('Q "false" 1.5 -3 yes off bareword 0x10 1e3 "quoted #x" # comment').children
    assert node.values == ("false", 1.5, -3.0, True, False, "bareword", 16.0, "1e3", "quoted #x")


# --- docs -----------------------------------------------------------------------------

def test_docs_include_the_snippet_verbatim() -> None:
    doc = (REPO / "docs" / "collectd.md").read_text(encoding="utf-8")
    assert SNIPPET.read_text(encoding="utf-8") in doc
