"""The build steps pyproject.toml cannot express; all other packaging settings are in pyproject.toml.

A wheel must run without this checkout and without npm, so building one (`python -m build`):
- takes the front-end files apflow/web/assets.py serves (its VENDOR folders in node_modules and the lint
  bundle in build/) as package data. `npm ci` and `npm run build` in apflow/web/frontend must have run
  first (.ci/setup runs them); if any served folder is missing or did not reach the wheel, the build
  stops with a message instead of shipping an editor that cannot load;
- copies the lifecycle diagrams (bpmn/*.bpmn) and forms (forms/*.json) into the package as
  apflow/data/bpmn and apflow/data/forms, the defaults apflow/config.py uses outside a checkout.

Editable installs (`pip install -e .`) are untouched: they read everything from the checkout, and need
no front end at install time (.ci/setup installs before it runs npm).
"""
from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import FileError

HERE = Path(__file__).resolve().parent
FRONTEND = Path("apflow", "web", "frontend")
# Top-level folder -> the files of it that are shipped in the package as apflow/data/<folder>/.
LIFECYCLE = {"bpmn": "*.bpmn", "forms": "*.json"}


def served_folders() -> dict[str, Path]:
    """The folders apflow/web/assets.py serves (its VENDOR table), relative to the project root."""
    tree = ast.parse((HERE / "apflow" / "web" / "assets.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "VENDOR" for target in node.targets):
            vendor = ast.literal_eval(node.value)
            return {name: Path(os.path.normpath(FRONTEND / "node_modules" / folder)) for name, folder in vendor.items()}
    raise FileError("apflow/web/assets.py has no VENDOR table; setup.py cannot tell which front-end files to ship.")


def served_files() -> dict[str, list[Path]]:
    """Every file the web application serves from the front end, by VENDOR name; stops the build if any is missing."""
    found, missing = {}, []
    for name, folder in served_folders().items():
        files = sorted(p.relative_to(HERE) for p in (HERE / folder).rglob("*") if p.is_file())
        if not files:
            missing.append(f"{folder}/ (served as /vendor/{name}/)")
        found[name] = files
    if missing:
        raise FileError(
            "The built front end is missing, so the package would ship a diagram editor that cannot load:\n  "
            + "\n  ".join(missing)
            + f"\nBuild it first (needs Node.js and npm; `bash .ci/setup` does this):\n"
            f"  npm ci --prefix {FRONTEND.as_posix()} && npm run build --prefix {FRONTEND.as_posix()}"
        )
    return found


def lifecycle_files() -> list[Path]:
    files = [p.relative_to(HERE) for folder, pattern in LIFECYCLE.items() for p in sorted((HERE / folder).glob(pattern))]
    for folder in LIFECYCLE:
        if not any(f.parts[0] == folder for f in files):
            raise FileError(f"{folder}/ has no files to ship; build from a full checkout of apflow or its sdist.")
    return files


class BuildPy(build_py):
    """build_py plus the lifecycle diagrams and forms, and a check that the served front end was packaged."""

    def run(self):
        if self.editable_mode:
            return super().run()
        expected = served_files()
        super().run()
        lost = [str(f) for files in expected.values() for f in files if not (Path(self.build_lib) / f).is_file()]
        if lost:
            raise FileError(
                f"{len(lost)} served front-end file(s) did not reach the package, e.g. {lost[0]}. Add their folder to "
                "[tool.setuptools.package-data] in pyproject.toml when adding to VENDOR in apflow/web/assets.py."
            )
        self._copied = []
        for folder in LIFECYCLE:
            target = Path(self.build_lib, "apflow", "data", folder)
            shutil.rmtree(target, ignore_errors=True)  # no stale diagrams from an earlier build
            target.mkdir(parents=True)
        for source in lifecycle_files():
            target = Path(self.build_lib, "apflow", "data", *source.parts)
            shutil.copyfile(HERE / source, target)
            self._copied.append(str(target))

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + list(getattr(self, "_copied", []))


class Sdist(sdist):
    """An sdist that can build the same wheel: with the built front end (as package data) and bpmn/, forms/."""

    def run(self):
        served_files()
        super().run()

    def make_release_tree(self, base_dir, files):
        extra = [str(f) for f in lifecycle_files() if str(f) not in files]
        super().make_release_tree(base_dir, list(files) + extra)


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
