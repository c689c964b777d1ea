"""Every command in README.md works as written: the short ones run here (in a fresh folder), the
installs are checked against the files they rely on, and the test command is .ci/run's, exactly.
The README's Python block runs in tests/test_api.py."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from docsite.spec_citations import slugify

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
TEST_COMMAND = 'python -m pip install "tox>=4.11" && python -m tox'


def readme_commands(text: str) -> list[str]:
    """Each command line of the README: the lines of its bash blocks (comments dropped) and the
    inline code that starts with `python -m`."""
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    commands += re.findall(r"`(python -m [^`]+)`", text)
    return list(dict.fromkeys(commands))


def test_the_readme_is_read_in_five_minutes() -> None:
    assert len(README.splitlines()) <= 150


def test_the_test_command_is_what_ci_runs_exactly() -> None:
    assert TEST_COMMAND in readme_commands(README)
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if "tox" in line]
    assert ci == [TEST_COMMAND]


def test_the_install_command_pins_the_torch_that_tox_installs() -> None:
    """The README's install takes the same torch as the tests (tox.ini's deps) and an extra that
    pyproject.toml defines."""
    installs = [c for c in readme_commands(README) if c.startswith("python -m pip install")]
    pins = {pin for c in installs for pin in re.findall(r"torch==[\w.+]+", c)}
    assert pins and pins <= set(re.findall(r"torch==[\w.+]+", (ROOT / "tox.ini").read_text()))
    pyproject = (ROOT / "pyproject.toml").read_text()
    for extra in {e for c in installs for e in re.findall(r'"\.\[(\w+)\]"', c)}:
        assert re.search(rf"^{extra} = \[", pyproject, re.MULTILINE), extra


@pytest.mark.slow
def test_the_readme_commands_run_as_written(tmp_path: Path) -> None:
    """Each `python -m dqn_ref.run` command, in a fresh folder, in the README's order: the one
    that trains writes runs/<name>/ with its GIF, and RUN_DIR in the next is that folder. The
    commands that install or serve are checked above, or named here as not run."""
    not_run = {TEST_COMMAND, 'python -m pip install -e ".[docs]" && mkdocs serve'}
    commands = [c for c in readme_commands(README) if c not in not_run]
    runs = [c.split("&& ", 1)[-1] for c in commands]
    assert all(c.startswith("python -m dqn_ref.run ") for c in runs), runs
    run_dir: Path | None = None
    for command in runs:
        if "RUN_DIR" in command:
            assert run_dir is not None, f"{command}: no run to stand for RUN_DIR yet"
            command = command.replace("RUN_DIR", str(run_dir))
        argv = [sys.executable, *shlex.split(command)[1:]]
        finished = subprocess.run(
            argv, cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False
        )
        assert finished.returncode == 0, (command, finished.stderr[-2000:])
        folders = sorted((tmp_path / "runs").glob("*/summary.json"))
        if folders:
            run_dir = folders[0].parent
    assert run_dir is not None and (run_dir / "video.gif").stat().st_size > 0


def test_every_link_of_the_readme_leads_to_a_file_and_heading_that_exist() -> None:
    """The README is read on GitHub, outside the site's strict build: its relative links are
    checked here, each anchor against the headings of the page it names."""
    links = re.findall(r"\]\(([^)\s]+)\)", README)
    relative = [link for link in links if "://" not in link]
    assert len(relative) >= 10
    for link in relative:
        path, _, fragment = link.partition("#")
        target = ROOT / path
        assert target.exists(), link
        if fragment:
            headings = re.findall(r"^#{1,6} +(.+?)\s*$", target.read_text(), re.MULTILINE)
            assert fragment in {slugify(heading) for heading in headings}, link
