from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys

import jitsi_metrics
from conftest import REPO, child_env, missing


def test_public_names_are_the_documented_ones_and_work_together():
    assert sorted(jitsi_metrics.__all__) == [
        "Family", "Mapped", "Problem", "Sample", "__version__", "map_payload", "merge_families", "meta_families",
        "render",
    ]
    assert jitsi_metrics.__version__ == importlib.metadata.version("jitsi-meet-metrics")
    # The package's front door alone is enough to go from a payload to both outputs.
    mapped = jitsi_metrics.map_payload({"conferences": 3, "healthy": True, "conference_sizes": "[]"})
    assert isinstance(mapped, jitsi_metrics.Mapped)
    assert all(isinstance(f, jitsi_metrics.Family) for f in mapped.families)
    assert all(isinstance(s, jitsi_metrics.Sample) for f in mapped.families for s in f.samples)
    (problem,) = mapped.problems
    assert isinstance(problem, jitsi_metrics.Problem) and problem.key == "conference_sizes"
    families = jitsi_metrics.merge_families([jitsi_metrics.meta_families(True, 0.5), mapped.families])
    text = jitsi_metrics.render(families, "prometheus")
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        "jitsi_up 1", "jitsi_scrape_duration_seconds 0.5", "jitsi_conferences 3", "jitsi_healthy 1",
    ]
    assert jitsi_metrics.render(families, "influx", 1_700_000_000_000_000_000) == (
        "jitsi up=1i,scrape_duration_seconds=0.5,conferences=3i,healthy=1i 1700000000000000000\n"
    )


def test_sources_parse_as_python_3_9():
    for path in sorted((REPO / "plugins").rglob("*.py")):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 9))


def test_core_modules_do_no_io():
    # The pure core: no sockets, files, clocks, environment or threads.
    pure = ["samples", "catalogue", "check", "mapping", "render/prometheus", "render/influx"]
    forbidden = {"socket", "os", "time", "threading", "requests", "subprocess", "datetime", "random"}
    for module in pure:
        tree = ast.parse((REPO / "plugins" / "jitsi_metrics" / f"{module}.py").read_text(encoding="utf-8"))
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree)
                     if isinstance(n, ast.ImportFrom) and n.level == 0}
        assert not imported & forbidden, f"{module} imports {imported & forbidden}"


def test_once_does_not_import_jsonschema(bridge_server):
    code = (
        "import sys, io; from jitsi_metrics.cli import main; "
        f"main(['once', '--url', {bridge_server.url!r}], stdout=io.StringIO()); "
        "print('jsonschema' in sys.modules, 'pkg_resources' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_core_runs_on_debians_python_and_library_floors(bridge_server):
    # collectd embeds the system Python (3.11) with Debian's python3-jsonschema (4.10):
    # the floor setup.cfg promises. Poll and validate there.
    python = "/usr/bin/python3"
    probe = subprocess.run([python, "-c", "import jsonschema"], capture_output=True, env=child_env())
    if probe.returncode != 0:
        missing("Debian's python3 with python3-jsonschema")
    bridge_server.payload = b'{"conferences": 2, "conference_sizes": "[]"}'
    code = (
        "from jitsi_metrics.config import bridge_options; from jitsi_metrics.runtime import Runtime;"
        f"(r,) = Runtime([bridge_options({bridge_server.url!r})]).poll();"
        "print([(f.name, f.samples[0].value) for f in r.families if f.name != 'jitsi_scrape_duration_seconds']);"
        "print(*r.warnings)"
    )
    env = child_env(PYTHONPATH=str(REPO / "plugins"), PATH="/usr/sbin:/usr/bin:/sbin:/bin")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    samples, warnings = out.stdout.splitlines()
    assert samples == "[('jitsi_up', 1), ('jitsi_conferences', 2)]"
    assert "conference_sizes" in warnings and "the string '[]'" in warnings
