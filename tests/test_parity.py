"""Parity with the Go exporter (systemli/prometheus-jitsi-meet-exporter at 101988c).

For every payload whose Go answer is recorded in SEED_OUTPUT, the drop-in exporter scrapes
the payload from a simulated bridge and must expose, for every Go sample of a key the
payload holds, the same name and value, and the same type unless Go's type is wrong. Every
allowed difference is listed in docs/migrating.md and pinned by its own test below.
"""
from __future__ import annotations

import io
import re
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

import pytest

from conftest import REPO, SEED_OUTPUT, load_json, real_payload_files, running_exporter, serving
from jitsi_metrics.catalogue import BY_KEY
from jitsi_metrics.config import bridge_options
from jitsi_metrics.simulate import BridgeServer

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
# The Go exporter's unprefixed names (added without the prefix in its PR #91).
GO_UNPREFIXED = ("total_ice_failed", "total_ice_succeeded", "total_ice_succeeded_relayed", "total_ice_succeeded_tcp")


class Exposed(NamedTuple):
    types: Dict[str, str]  # TYPE lines: name -> type
    samples: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]


def parse(text: str) -> Exposed:
    types: Dict[str, str] = {}
    samples: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
        elif line and not line.startswith("#"):
            found = SAMPLE.match(line)
            assert found, line
            name, labels, value = found.groups()
            samples[(name, tuple(LABEL.findall(labels or "")))] = float(value)
    return Exposed(types, samples)


def payload_key(name: str, payload: Dict) -> Optional[str]:
    """The payload key a Go sample came from, if the payload holds it."""
    key = name[len("jitsi_"):] if name.startswith("jitsi_") else name
    for candidate in (key, key[:-len("_info")] if key.endswith("_info") else None):
        if candidate is not None and candidate in payload:
            return candidate
    return None


def recorded(suffix: str) -> List[Path]:
    """Recorded bridge payloads; Jicofo's /stats ones are a difference of their own (below)."""
    found = [p for p in real_payload_files() if (SEED_OUTPUT / (p.stem + suffix)).is_file()]
    return [p for p in found if not p.stem.startswith("jicofo")]


def recorded_jicofo() -> List[Path]:
    return [p for p in real_payload_files() if p.stem.startswith("jicofo")
            and any((SEED_OUTPUT / (p.stem + s)).is_file() for s in (".prom", ".error.txt"))]


@pytest.fixture(scope="module")
def scrape() -> Iterator:
    """scrape(payload bytes) -> (HTTP status, body) from the drop-in exporter (legacy names on)."""
    with serving(b"{}") as bridge, \
            running_exporter([bridge_options(bridge.url)], legacy_names=True, log=io.StringIO()) as exporter:

        def get(payload: bytes) -> Tuple[int, str]:
            bridge.payload = payload
            with urllib.request.urlopen(exporter.url + "/metrics", timeout=10) as response:
                return response.status, response.read().decode()

        yield get


def go_type_is_wrong(name: str, key: str, go_type: Optional[str], ours: str) -> bool:
    """Go types monotonic totals as gauges where our catalogue says counter, and it puts
    ``# TYPE jitsi_endpoint_sending_video`` above the ``jitsi_endpoints_sending_video``
    sample, which leaves that sample untyped."""
    if go_type == "gauge" and ours == "counter" and BY_KEY[key].type == "counter":
        return True
    return go_type is None and name == "jitsi_endpoints_sending_video"


@pytest.mark.parametrize("path", recorded(".prom"), ids=lambda p: p.stem)
def test_same_names_values_and_types_as_the_go_exporter(scrape, path: Path) -> None:
    payload = load_json(path)
    go = parse((SEED_OUTPUT / (path.stem + ".prom")).read_text(encoding="utf-8"))
    status, body = scrape(path.read_bytes())
    ours = parse(body)
    assert status == 200
    compared = 0
    for (name, labels), value in go.samples.items():
        key = payload_key(name, payload)
        if key is None:
            continue  # an absent key: Go says 0, we say nothing (pinned below)
        if key in ("region", "relay_id", "version", "release") and labels and labels[0][1] == "":
            continue  # Go's empty-label info metric for an empty string; see below
        assert (name, labels) in ours.samples, f"{name}{dict(labels)} missing"
        assert ours.samples[(name, labels)] == value, name
        our_type = ours.types[name]
        if go.types.get(name) != our_type:
            assert go_type_is_wrong(name, key, go.types.get(name), our_type), (name, go.types.get(name), our_type)
        compared += 1
    assert compared >= 10  # the comparison really ran


@pytest.mark.parametrize("path", recorded(".prom"), ids=lambda p: p.stem)
def test_difference_absent_keys_give_no_sample(scrape, path: Path) -> None:
    payload = load_json(path)
    go = parse((SEED_OUTPUT / (path.stem + ".prom")).read_text(encoding="utf-8"))
    ours = parse(scrape(path.read_bytes())[1])
    absent = {name for (name, _) in go.samples if payload_key(name, payload) is None}
    assert absent, "every recorded payload misses some key Go reports anyway"
    # Go invents a 0 for each (an empty-label 1 for info metrics); we expose nothing.
    for (name, _), value in go.samples.items():
        if name in absent:
            assert value == (1 if name.endswith("_info") else 0), name
    assert not absent & {name for (name, _) in ours.samples}


@pytest.mark.parametrize("path", recorded(".error.txt"), ids=lambda p: p.stem)
def test_difference_payloads_go_rejects_give_200_with_the_valid_part(scrape, path: Path) -> None:
    payload = load_json(path)
    go_error = (SEED_OUTPUT / (path.stem + ".error.txt")).read_text(encoding="utf-8")
    assert go_error.startswith("HTTP 500")
    bad_field = re.search(r"struct field \w+\.(\w+)", go_error).group(1)  # type: ignore[union-attr]
    status, body = scrape(path.read_bytes())
    ours = parse(body)
    assert status == 200
    assert ours.samples[("jitsi_up", ())] == 1
    assert not any(name == "jitsi_" + bad_field for name, _ in ours.samples)
    # Every other key of a kind we export is there with the bridge's value.
    numeric = {k: v for k, v in payload.items() if k != bad_field and k in BY_KEY
               and BY_KEY[k].kind == "number" and isinstance(v, (int, float)) and not isinstance(v, bool)}
    assert numeric
    for key, value in numeric.items():
        assert ours.samples[(BY_KEY[key].name, ())] == value


def test_difference_endpoints_sending_video_has_a_matching_type_line(scrape) -> None:
    go_files = recorded(".prom")
    assert go_files
    go_text = (SEED_OUTPUT / (go_files[0].stem + ".prom")).read_text(encoding="utf-8")
    assert "# TYPE jitsi_endpoint_sending_video gauge" in go_text
    body = scrape(b'{"endpoints_sending_video": 2}')[1]
    assert "# TYPE jitsi_endpoints_sending_video gauge\njitsi_endpoints_sending_video 2\n" in body
    assert "jitsi_endpoint_sending_video" not in body


def test_difference_unprefixed_total_ice_kept_in_the_drop_in_only(scrape, bridge_server: BridgeServer) -> None:
    payload = (b'{"total_ice_failed": 1, "total_ice_succeeded": 2, "total_ice_succeeded_relayed": 3, '
               b'"total_ice_succeeded_tcp": 4}')
    drop_in = parse(scrape(payload)[1])
    for number, name in enumerate(GO_UNPREFIXED, start=1):
        assert drop_in.samples[(name, ())] == number
        assert drop_in.samples[("jitsi_" + name, ())] == number
        assert drop_in.types[name] == "counter"  # Go says gauge; they are totals
    bridge_server.payload = payload
    with running_exporter([bridge_options(bridge_server.url)], log=io.StringIO()) as serve, \
            urllib.request.urlopen(serve.url + "/metrics", timeout=10) as response:
        plain = parse(response.read().decode())
    assert not any(name in GO_UNPREFIXED for name, _ in plain.samples)
    assert plain.samples[("jitsi_total_ice_succeeded_tcp", ())] == 4


def test_difference_info_metrics_only_for_keys_sent(scrape) -> None:
    go_files = recorded(".prom")
    empty_region = [p for p in go_files if 'jitsi_region_info{region=""} 1' in
                    (SEED_OUTPUT / (p.stem + ".prom")).read_text(encoding="utf-8") and "region" not in load_json(p)]
    assert empty_region, "Go prints region_info with an empty label for a bridge without a region"
    ours = parse(scrape(empty_region[0].read_bytes())[1])
    assert not any(name in ("jitsi_region_info", "jitsi_relay_id_info") for name, _ in ours.samples)
    with_region = parse(scrape(b'{"region": "eu-1", "version": "2.3.168"}')[1])
    assert with_region.samples[("jitsi_region_info", (("region", "eu-1"),))] == 1


def test_difference_failing_bridge_is_up_0_not_http_500(scrape, bridge_server: BridgeServer) -> None:
    bridge_server.fault = "html-500"
    with running_exporter([bridge_options(bridge_server.url)], legacy_names=True, log=io.StringIO()) as exporter, \
            urllib.request.urlopen(exporter.url + "/metrics", timeout=10) as response:
        status, body = response.status, response.read().decode()
    assert status == 200
    assert parse(body).samples[("jitsi_up", ())] == 0


def test_every_pinned_difference_is_in_migrating_md() -> None:
    text = (REPO / "docs" / "migrating.md").read_text(encoding="utf-8")
    for marker in ("absent", "HTTP 500", "jitsi_endpoint_sending_video", "total_ice_", 'region=""',
                   "jitsi_up", "counter"):
        assert marker in text, marker


@pytest.mark.parametrize("path", recorded_jicofo(), ids=lambda p: p.stem)
def test_difference_jicofo_stats_at_a_bridge_url_is_read_as_jicofo(scrape, path: Path) -> None:
    """Go reads Jicofo's /stats as if a bridge had sent it (jitsi_conferences …); we tell
    it apart and export Jicofo's numbers under Jicofo's own names, never as a bridge's."""
    status, body = scrape(path.read_bytes())
    ours = parse(body)
    assert status == 200 and ours.samples[("jitsi_up", ())] == 1
    names = {name for name, _ in ours.samples}
    assert any(name.startswith("jitsi_jicofo_") for name in names)
    bridge_names = {n for n in names if not n.startswith("jitsi_jicofo_")}
    assert bridge_names == {"jitsi_up", "jitsi_scrape_duration_seconds"}
