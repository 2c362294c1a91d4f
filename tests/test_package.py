from __future__ import annotations

import ast
import subprocess
import sys

import jitsi_metrics

from conftest import REPO, child_env


def test_public_names_exist():
    for name in jitsi_metrics.__all__:
        assert hasattr(jitsi_metrics, name), name


def test_sources_parse_as_python_3_9():
    for path in sorted((REPO / "plugins").rglob("*.py")):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 9))


def test_core_modules_do_no_io():
    # The pure core: no sockets, files, clocks, environment or threads.
    pure = ["samples", "catalogue", "fields", "problems", "mapping", "render/prometheus", "render/influx"]
    forbidden = {"socket", "os", "time", "threading", "requests", "subprocess", "datetime", "random"}
    for module in pure:
        tree = ast.parse((REPO / "plugins" / "jitsi_metrics" / f"{module}.py").read_text(encoding="utf-8"))
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
        assert not imported & forbidden, f"{module} imports {imported & forbidden}"


def test_once_does_not_import_jsonschema(bridge_server):
    code = (
        "import sys, io; from jitsi_metrics.cli import main; "
        f"main(['once', '--url', {bridge_server.url!r}], stdout=io.StringIO()); "
        "print('jsonschema' in sys.modules, 'pkg_resources' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr
