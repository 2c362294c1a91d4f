"""Build hook: the wheel carries the shipped configuration files as package data.

telegraf/, collectd/, dashboards/ and prometheus/ stay single copies at the top of the
repository; build_py copies them into jitsi_metrics/shipped/ of the build tree, so a
wheel (and the Debian package built from it) has them without a second committed copy.
Everything else is in setup.cfg.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED_FOLDERS = ("telegraf", "collectd", "dashboards", "prometheus")
SHIPPED_SUFFIXES = (".conf", ".json", ".yml", ".yaml")


class BuildWithShipped(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "jitsi_metrics" / "shipped"
        for folder in SHIPPED_FOLDERS:
            source = HERE / folder
            if not source.is_dir():
                continue
            for path in sorted(source.rglob("*")):  # rglob: prometheus/rules/ is a level down
                if path.is_file() and path.suffix in SHIPPED_SUFFIXES:
                    copy = target / path.relative_to(HERE)
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, copy)


setup(cmdclass={"build_py": BuildWithShipped})
