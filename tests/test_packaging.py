"""What ships with the package: the wheel holds py.typed and the LICENSE, and --version says the
version that pyproject.toml builds."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import dqn_ref
from dqn_ref.run.main import main

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_ships_py_typed_and_the_license(tmp_path: Path) -> None:
    """Built from a copy of the project, so that no build folder lands in the working tree."""
    source = tmp_path / "source"
    shutil.copytree(ROOT / "dqn_ref", source / "dqn_ref", ignore=shutil.ignore_patterns("__py*"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip_wheel, "-q", "-w", str(tmp_path / "wheel"), str(source)],
        check=True,
        timeout=240,
    )
    (wheel,) = (tmp_path / "wheel").glob("dqn_ref-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dqn_ref/py.typed" in names
    license_text = next(name for name in names if name.endswith("/LICENSE"))
    assert "MIT License" in zipfile.ZipFile(wheel).read(license_text).decode()
    assert wheel.name.startswith(f"dqn_ref-{dqn_ref.__version__}-")


def test_version_prints_the_packages_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"dqn_ref {dqn_ref.__version__}\n"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(rf'^version = "{re.escape(dqn_ref.__version__)}"$', pyproject, re.MULTILINE)


def test_the_changelog_names_the_current_version() -> None:
    assert f"## {dqn_ref.__version__}\n" in (ROOT / "CHANGELOG.md").read_text()
