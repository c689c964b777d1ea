"""The spec, the code and the tests cite each other by ID, and these tests keep them in step.

Fails when: a spec ID is cited by no function or no test; code or tests cite an ID (or a property
eq-x Pn) the spec does not define; a spec property is tested nowhere; an 'Implemented by' names
something that does not exist or whose docstring does not cite the ID; spec/index.md disagrees with
the pages; or the 'Alg. step N' comments of loop.py and train.py and spec/algorithm.md differ.
"""

from __future__ import annotations

import importlib
import inspect
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec"
HEADING = re.compile(r"^#{2,4} +(eq-[a-z0-9-]+)\s*$", re.MULTILINE)
CITED_ID = re.compile(r"\beq-[a-z0-9]+(?:-[a-z0-9]+)*\b")
CITED_PROPERTY = re.compile(r"\b(eq-[a-z0-9]+(?:-[a-z0-9]+)*) P(\d+)\b")
IMPLEMENTED_BY = re.compile(r"\*\*Implemented by:\*\* `([\w.]+)`")
PROPERTY = re.compile(r"\*\*P(\d+)\*\*")


@cache
def spec_sections() -> dict[str, str]:
    """ID -> the text of its section, from its heading to the next heading."""
    sections: dict[str, str] = {}
    for page in sorted(SPEC.glob("*.md")):
        text = page.read_text()
        headings = list(re.finditer(r"^#{1,4} .*$", text, re.MULTILINE))
        for number, heading in enumerate(headings):
            match = HEADING.match(heading.group(0))
            if match:
                end = headings[number + 1].start() if number + 1 < len(headings) else len(text)
                assert match.group(1) not in sections, f"{match.group(1)} is defined twice"
                sections[match.group(1)] = text[heading.end() : end]
    return sections


@cache
def python_text(folder: str, exclude: str | None = None) -> str:
    files = sorted((ROOT / folder).rglob("*.py"))
    return "\n".join(f.read_text() for f in files if f.name != exclude)


def test_spec_defines_the_ids_the_project_promises() -> None:
    promised = {
        "eq-target",
        "eq-eps-exp",
        "eq-eps-linear",
        "eq-eps-greedy",
        "eq-hard",
        "eq-soft",
        "eq-huber",
        "eq-mse",
        "eq-grad-clip",
        "eq-lr-linear",
        "eq-reward-clip",
        "eq-replay-capacity",
        "eq-replay-fifo",
        "eq-replay-uniform",
        "eq-double-target",
        "eq-dueling",
        "eq-nstep",
        "eq-qnet-cnn",
        "eq-replay-frames",
        "eq-atari-frames",
    }
    assert promised <= set(spec_sections())


@pytest.mark.parametrize("spec_id", sorted(spec_sections()))
def test_every_id_is_implemented_by_a_function_that_cites_it(spec_id: str) -> None:
    match = IMPLEMENTED_BY.search(spec_sections()[spec_id])
    assert match, f"{spec_id} has no '**Implemented by:** `module.name`' line"
    module_name, _, attribute = match.group(1).rpartition(".")
    implementation = getattr(importlib.import_module(module_name), attribute)
    assert spec_id in (inspect.getdoc(implementation) or ""), (
        f"{match.group(1)}'s docstring does not cite {spec_id}"
    )


@pytest.mark.parametrize("spec_id", sorted(spec_sections()))
def test_every_id_is_cited_by_code_and_tests(spec_id: str) -> None:
    assert re.search(rf"\b{spec_id}\b", python_text("dqn_ref")), f"{spec_id} is cited in no code"
    tests = python_text("tests", exclude=Path(__file__).name)
    assert re.search(rf"\b{spec_id}\b", tests), f"{spec_id} is cited in no test"


@pytest.mark.parametrize("spec_id", sorted(spec_sections()))
def test_every_listed_property_is_tested(spec_id: str) -> None:
    tests = python_text("tests", exclude=Path(__file__).name)
    for number in PROPERTY.findall(spec_sections()[spec_id]):
        assert f"{spec_id} P{number}" in tests, f"{spec_id} P{number} is listed but tested nowhere"


def test_code_and_tests_cite_only_ids_and_properties_that_exist() -> None:
    sections = spec_sections()
    for folder in ("dqn_ref", "tests", "bench"):
        text = python_text(folder, exclude=Path(__file__).name)
        unknown = set(CITED_ID.findall(text)) - set(sections)
        assert not unknown, f"{folder}/ cites IDs the spec does not define: {sorted(unknown)}"
        for spec_id, number in CITED_PROPERTY.findall(text):
            assert number in PROPERTY.findall(sections[spec_id]), (
                f"{folder}/ cites {spec_id} P{number}, which spec does not list"
            )


def test_index_lists_every_id_with_its_implementation() -> None:
    index = (SPEC / "index.md").read_text()
    rows = dict(
        re.findall(r"^\| \[(eq-[a-z0-9-]+)\]\([^)]*\) \| `([\w.]+)` \|", index, re.MULTILINE)
    )
    assert set(rows) == set(spec_sections()), "spec/index.md and the spec pages list different IDs"
    for spec_id, section in spec_sections().items():
        match = IMPLEMENTED_BY.search(section)
        assert match and rows[spec_id] == match.group(1), f"index and page disagree on {spec_id}"


def test_training_loop_cites_exactly_the_algorithm_steps() -> None:
    """Steps 2-8 in loop.py's dqn_loop, in order; 1, 9 and 10 in train.py, in order."""
    algorithm = (SPEC / "algorithm.md").read_text()
    steps = {int(n) for n in re.findall(r"^(\d+)\. \*\*", algorithm, re.MULTILINE)}
    cited = {int(n) for n in re.findall(r"Alg\. step (\d+)", python_text("dqn_ref"))}
    assert steps == set(range(1, len(steps) + 1)), "algorithm.md's steps are not numbered 1..n"
    assert cited == steps, f"steps cited in code {sorted(cited)} != steps in spec {sorted(steps)}"
    loop = inspect.getsource(importlib.import_module("dqn_ref.loop").dqn_loop)
    assert [int(n) for n in re.findall(r"# Alg\. step (\d+)", loop)] == list(range(2, 9))
    train_source = (ROOT / "dqn_ref" / "training" / "train.py").read_text()
    order = [int(n) for n in re.findall(r"# Alg\. step (\d+)", train_source)]
    assert order == sorted(order), "train.py runs the algorithm's steps out of order"
    mentioned = {int(n) for n in re.findall(r"Alg\. step (\d+)", train_source)}
    assert mentioned == {1, 9, 10}, "train.py does steps 1, 9 and 10 and leaves 2-8 to loop.py"


def test_the_loop_fits_on_one_screen() -> None:
    """dqn_loop, Alg. steps 2-8, is about 60 lines, docstring and signature included."""
    loop = inspect.getsource(importlib.import_module("dqn_ref.loop").dqn_loop)
    assert len(loop.splitlines()) <= 60
