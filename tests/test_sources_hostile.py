"""What a hostile or broken /metrics, Jicofo /stats or /about/version does to the new
source paths: it costs that series, family or bridge, with one line, and never makes
the output of every bridge unreadable.

Driven through map_answer (the one dispatch point the front ends call), diagnose, the
renderers and, end to end, ``jitsi-metrics once`` against a loopback server.
"""
from __future__ import annotations

import io
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Iterator, List, Tuple

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import require_tool
from jitsi_metrics.cli import main
from jitsi_metrics.config import bridge_options
from jitsi_metrics.detect import JICOFO_METRICS, JICOFO_STATS, JVB_METRICS, Answer, classify
from jitsi_metrics.diagnose import diagnose
from jitsi_metrics.exposition import MAX_SERIES
from jitsi_metrics.render import render
from jitsi_metrics.samples import Family, Sample
from jitsi_metrics.source_result import SourceMapped
from jitsi_metrics.sources import SourceError, map_answer

TEXT = "text/plain; version=0.0.4"
BRIDGE = (("bridge", "meet1"),)
DEEP = b"[" * 200_000 + b"]" * 200_000


def metrics(text: str, source: str = JVB_METRICS) -> SourceMapped:
    return map_answer(source, Answer(200, TEXT, text.encode()), BRIDGE)


def stats(body: bytes) -> SourceMapped:
    return map_answer(JICOFO_STATS, Answer(200, "application/json", body), BRIDGE)


def series(mapped: SourceMapped) -> Dict[str, List[Tuple[Tuple[Tuple[str, str], ...], object]]]:
    out: Dict[str, List[Tuple[Tuple[Tuple[str, str], ...], object]]] = {}
    for point in mapped.samples:
        out.setdefault(point.name, []).append((point.labels, point.value))
    return out


def label_names_once(text: str) -> None:
    """Every sample of the Prometheus text names each label once (the reference parser keeps the last)."""
    for line in text.splitlines():
        if line.startswith("#") or "{" not in line:
            continue
        inside = line[line.index("{") + 1: line.rindex("}")]
        names = [pair.split("=", 1)[0] for pair in inside.split('",') if pair]
        assert len(names) == len(set(names)), line


# 1. Repeated and reserved label names

def test_a_series_naming_one_label_twice_is_dropped_with_one_warning():
    mapped = metrics('jitsi_jvb_thread_count{a="1",a="2"} 5\njitsi_jvb_thread_count{a="3",a="4"} 6\n'
                     "jitsi_jvb_conferences 3\n")
    assert "jitsi_threads" not in series(mapped)
    assert series(mapped)["jitsi_conferences"] == [(BRIDGE, 3)]
    (warning,) = mapped.warnings("meet1")
    assert warning.startswith('Bridge "meet1": key "thread_count" expected each label name once')


def test_bridge_dunder_and_le_of_the_bridge_are_renamed_exported():
    mapped = metrics('jitsi_jvb_evil{bridge="x",le="y",__name__="z"} 1\n')
    (point,) = mapped.samples
    assert point.labels == BRIDGE + (("exported_bridge", "x"), ("exported_le", "y"), ("exported___name__", "z"))
    assert mapped.warnings("meet1") == []


def test_a_rename_that_repeats_a_label_drops_the_series():
    mapped = metrics('jitsi_jvb_evil{le="1",exported_le="2"} 1\n')
    assert mapped.samples == [] and len(mapped.problems) == 1


@pytest.mark.parametrize("fmt", ["prometheus", "influx"])
def test_renderers_write_each_label_name_once(fmt):
    labels = (("bridge", "meet1"), ("bridge", "x"), ("a", "1"))
    family = Family("jitsi_threads", "gauge", "Threads.", [Sample(labels, 5)])
    text = render([family], fmt)
    if fmt == "prometheus":
        assert 'jitsi_threads{bridge="meet1",a="1"} 5' in text
    else:
        assert text == "jitsi,a=1,bridge=meet1 threads=5i\n"


# 2. Histograms

HEAD = "# TYPE jitsi_jvb_conferences_by_size histogram\n"


@pytest.mark.parametrize("name,body,got", [
    ("le not a number", 'jitsi_jvb_conferences_by_size_bucket{le="abc"} 1\n', "numeric le"),
    ("no le", "jitsi_jvb_conferences_by_size_bucket 1\n", "numeric le"),
    ("no +Inf bucket", 'jitsi_jvb_conferences_by_size_bucket{le="1.0"} 1\n', "no +Inf"),
    ("plain sample", "jitsi_jvb_conferences_by_size 1\n", "without _bucket"),
    ("only a sum", "jitsi_jvb_conferences_by_size_sum 1\n", "no buckets"),
])
def test_a_broken_histogram_is_dropped_whole_with_one_warning(name, body, got):
    mapped = metrics(HEAD + body + "jitsi_jvb_conferences_by_size_count 1\njitsi_jvb_conferences 2\n")
    assert [p.name for p in mapped.samples] == ["jitsi_conferences"], name
    (problem,) = mapped.problems
    assert problem.key == "conferences_by_size" and got in problem.got, name
    assert "+Inf" in problem.expected


def test_histogram_buckets_are_sorted_by_le():
    mapped = metrics(HEAD + "".join(f'jitsi_jvb_conferences_by_size_bucket{{le="{le}"}} {n}\n'
                                    for le, n in (("+Inf", 3), ("10.0", 2), ("2.0", 1), ("1e1", 2))))
    buckets = series(mapped)["jitsi_conferences_by_size_bucket"]
    assert [dict(labels)["le"] for labels, _ in buckets] == ["2.0", "10.0", "1e1", "+Inf"]
    text = render(mapped.families, "prometheus")
    (family,) = text_string_to_metric_families(text)
    assert family.type == "histogram"


def test_a_json_form_histogram_with_a_bad_le_is_dropped():
    body = b'{"conferences_by_size": {"bucket_le_abc": 1, "count": 1, "sum": 1}, "conferences": 2}'
    mapped = map_answer(JVB_METRICS, Answer(200, "application/json", body))
    assert [p.name for p in mapped.samples] == ["jitsi_conferences"]
    assert len(mapped.problems) == 1


# 3. Deep nesting

def test_deeply_nested_jicofo_stats_is_an_unreadable_answer():
    with pytest.raises(SourceError, match="nests too deeply"):
        stats(DEEP)


def test_deeply_nested_answers_are_classified_not_crashed_on():
    verdict = classify("/stats", Answer(200, "application/json", DEEP))
    assert verdict.source is None and "nests too deeply" in verdict.message


def test_check_survives_a_deeply_nested_about_version():
    def fetch(url: str, options: object) -> Answer:
        if url.endswith("/about/version"):
            return Answer(200, "application/json", DEEP)
        if url.endswith("/metrics"):
            return Answer(200, TEXT, b"jitsi_jvb_conferences 3\n")
        return Answer(404, "text/html", b"")

    report = diagnose("http://meet1:8080", bridge_options("http://meet1:8080"), fetch)
    assert report.ok


# 4. Repeated series

def test_a_repeated_series_keeps_the_first_with_one_warning():
    mapped = metrics("jitsi_jvb_thread_count 5\njitsi_jvb_thread_count 6\njitsi_jvb_thread_count 7\n")
    assert series(mapped)["jitsi_threads"] == [(BRIDGE, 5)]
    (warning,) = mapped.warnings("meet1")
    assert 'key "thread_count"' in warning and "the first is kept" in warning


def test_label_order_does_not_make_a_new_series():
    mapped = metrics('jitsi_jvb_x{a="1",b="2"} 1\njitsi_jvb_x{b="2",a="1"} 2\n')
    assert [p.value for p in mapped.samples] == [1.0]


def test_jingle_actions_and_strategies_that_share_a_name_give_one_series():
    body = (b'{"jingle": {"received": {"session-initiate": 4, "session_initiate": 9}},'
            b' "bridge_selector": {"total_least_loaded": 1, "total_least-loaded": 2}}')
    mapped = stats(body)
    found = series(mapped)
    # The mapper reads keys in sorted order ("-" sorts before "_"); the first read is kept.
    assert found["jitsi_jicofo_jingle_session_initiate_received_total"] == [(BRIDGE, 4)]
    assert found["jitsi_jicofo_bridge_selector_least_loaded_total"] == [(BRIDGE, 2)]
    assert len(mapped.problems) == 2


# 5. Series cap

def test_more_series_than_the_cap_fails_the_bridge():
    body = "".join(f'jitsi_jvb_x{{i="{i}"}} 1\n' for i in range(MAX_SERIES + 1))
    with pytest.raises(SourceError, match=f"more than {MAX_SERIES} series"):
        metrics(body)


def test_as_many_series_as_the_cap_are_kept():
    body = "".join(f'jitsi_jvb_x{{i="{i}"}} 1\n' for i in range(MAX_SERIES))
    assert len(metrics(body).samples) == MAX_SERIES


@pytest.mark.parametrize("name,body", [
    ("JSON /metrics keys", b"{" + b",".join(b'"k%d": 1' % i for i in range(MAX_SERIES + 1)) + b"}"),
    ("JSON /metrics buckets", b'{"h": {' + b",".join(b'"bucket_le_%d": 1' % i for i in range(MAX_SERIES + 1)) + b"}}"),
])
def test_json_forms_past_the_cap_fail_the_bridge(name, body):
    with pytest.raises(SourceError, match="more than"):
        map_answer(JICOFO_METRICS, Answer(200, "application/json", body))


def test_jicofo_stats_past_the_cap_fails_the_bridge():
    body = b'{"conference_sizes": [' + b",".join(b"1" for _ in range(MAX_SERIES + 1)) + b"]}"
    with pytest.raises(SourceError, match="more than"):
        stats(body)


# 6. Bounded strings, the number grammar

def test_an_overlong_jicofo_version_is_skipped_with_a_warning():
    mapped = stats(b'{"version": "' + b"v" * 5000 + b'", "conferences": 1}')
    assert all(len(value) <= 256 for p in mapped.samples for _, value in p.labels)
    assert "jitsi_jicofo_conferences" in series(mapped)
    (warning,) = mapped.warnings("meet1")
    assert "at most 256 characters" in warning and "5000" in warning


def test_an_overlong_conference_size_bucket_is_skipped_with_a_warning():
    mapped = stats(b'{"conference_sizes": {"buckets": {"0_to_1": 2, "' + b"1_to_" + b"9" * 300 + b'": 1}}}')
    assert [value for p in mapped.samples for _, value in p.labels[1:]] == ["0_to_1"]
    assert len(mapped.problems) == 1


def test_an_overlong_label_value_in_metrics_is_skipped():
    mapped = metrics(f'jitsi_jvb_x{{a="{"v" * 300}"}} 1\njitsi_jvb_conferences 1\n')
    assert [p.name for p in mapped.samples] == ["jitsi_conferences"] and len(mapped.problems) == 1


def test_an_overlong_json_form_string_is_skipped():
    body = b'{"region": "' + b"r" * 300 + b'", "conferences": 1}'
    mapped = map_answer(JVB_METRICS, Answer(200, "application/json", body))
    assert [p.name for p in mapped.samples] == ["jitsi_conferences"] and len(mapped.problems) == 1


@pytest.mark.parametrize("token", ["1_000", "infinity", "inf", "+inf", "nan", "0x10", "1e", "--1", ""])
def test_numbers_outside_the_exposition_grammar_are_refused(token):
    with pytest.raises(SourceError, match="is not a number"):
        metrics(f"jitsi_jvb_conferences {token}x\n" if token == "" else f"jitsi_jvb_conferences {token}\n")


@pytest.mark.parametrize("token,value", [
    ("3", 3), ("-2.5", -2.5), (".5", 0.5), ("5.", 5.0), ("1E3", 1000.0), ("+1e-3", 0.001),
    ("+Inf", float("inf")), ("Inf", float("inf")), ("-Inf", float("-inf")),
])
def test_numbers_of_the_exposition_grammar_are_read(token, value):
    (point,) = metrics(f"jitsi_jvb_x {token}\n").samples
    assert point.value == value


def test_nan_is_read():
    (point,) = metrics("jitsi_jvb_x NaN\n").samples
    assert point.value != point.value


# End to end: one hostile bridge beside a good one

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    bodies: Dict[str, Tuple[str, bytes]] = {}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        content_type, body = self.server.bodies.get(self.path, ("text/html", b""))  # type: ignore[attr-defined]
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


EVIL = (b'# TYPE jitsi_jvb_thread_count gauge\njitsi_jvb_thread_count{a="1",a="2"} 5\n'
        b'jitsi_jvb_evil{bridge="x",le="y",__name__="z"} 1\n'
        b"jitsi_jvb_conferences 3\njitsi_jvb_conferences 4\n"
        b'# TYPE jitsi_jvb_h histogram\njitsi_jvb_h_bucket{le="abc"} 1\njitsi_jvb_h_count 1\n')
GOOD = b"jitsi_jvb_conferences 7\njitsi_jvb_thread_count 40\n"


@pytest.fixture()
def two_bridges() -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.bodies = {"/evil/metrics": (TEXT, EVIL), "/good/metrics": (TEXT, GOOD)}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def once(base: str, fmt: str) -> Tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    argv = ["once", "--format", fmt, "--url", f"{base}/evil/metrics", "--name", "evil",
            "--url", f"{base}/good/metrics", "--name", "good"]
    assert main(argv, stdout=out, stderr=err) == 0
    return out.getvalue(), err.getvalue()


def test_once_prometheus_output_stays_valid_beside_a_hostile_bridge(two_bridges):
    text, err = once(two_bridges, "prometheus")
    label_names_once(text)
    assert 'jitsi_conferences{bridge="evil"} 3' in text and 'jitsi_conferences{bridge="evil"} 4' not in text
    assert 'jitsi_conferences{bridge="good"} 7' in text
    assert 'exported_bridge="x",exported_le="y",exported___name__="z"' in text
    assert "jitsi_h" not in text and "jitsi_threads{bridge=\"evil\"" not in text
    warnings = [line for line in err.splitlines() if 'Bridge "evil"' in line]
    assert len(warnings) == 3, err  # the repeated label, the repeated series, the broken histogram
    assert 'Bridge "good"' not in err
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert "jitsi_conferences" in families
    promtool = require_tool("promtool")
    checked = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    report = checked.stdout.decode() + checked.stderr.decode()
    assert "duplicate" not in report and "error" not in report.lower(), report


def test_once_influx_output_has_one_field_per_series(two_bridges):
    text, _ = once(two_bridges, "influx")
    for line in text.splitlines():
        fields = [pair.split("=", 1)[0] for pair in line.split(" ")[1].split(",")]
        assert len(fields) == len(set(fields)), line
        tags = [pair.split("=", 1)[0] for pair in line.split(" ")[0].split(",")[1:]]
        assert len(tags) == len(set(tags)), line
    assert "conferences=3i" in text and "conferences=4i" not in text
