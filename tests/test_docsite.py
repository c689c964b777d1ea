"""The documentation site's links from the spec to the code and the tests (docsite/), read from the
same citations that tests/test_spec_links.py keeps in step, and the API reference's names."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import dqn_ref
from docsite.pages import anchor, source_page, source_uri, spec_page
from docsite.spec_citations import (
    ROOT,
    Citation,
    citations,
    slugify,
    spec_sections,
    unknown_sections,
)

IMPLEMENTED_BY = re.compile(r"\*\*Implemented by:\*\* `([\w.]+)`")
PROPERTY = re.compile(r"\*\*(P\d+)\*\*")
EQ_HEADING = re.compile(r"^#{2,4} +(eq-[a-z0-9-]+)\s*$", re.MULTILINE)


@cache
def cited() -> dict[tuple[str, str], list[Citation]]:
    return citations(ROOT)


def eq_sections() -> dict[tuple[str, str], str]:
    """(page, ID) -> the text of that ID's section."""
    sections: dict[tuple[str, str], str] = {}
    for page in sorted((ROOT / "spec").glob("*.md")):
        text = page.read_text()
        for match in EQ_HEADING.finditer(text):
            following = re.search(r"^#{1,4} ", text[match.end() :], re.MULTILINE)
            end = match.end() + following.start() if following else len(text)
            sections[(page.stem, match.group(1))] = text[match.end() : end]
    return sections


def test_every_equation_links_to_the_function_the_spec_names_and_to_each_propertys_test() -> None:
    """Every ID: the function its 'Implemented by' names (found by its Implements: docstring,
    wrapped lines included), at least one test, and a test for each listed property."""
    sections = eq_sections()
    assert len(sections) >= 20
    for (page, spec_id), text in sections.items():
        found = cited().get((page, spec_id), [])
        implementing = {f"{c.module}.{c.qualname}" for c in found if c.implements}
        named = IMPLEMENTED_BY.search(text)
        assert named and named.group(1) in implementing, (spec_id, implementing)
        tests = [c for c in found if c.path.parts[0] == "tests" and c.qualname]
        assert tests, f"{spec_id} links to no test"
        props = {c.prop for c in tests}
        for prop in PROPERTY.findall(text):
            assert prop in props, f"{spec_id} {prop} links to no test"


def test_every_cited_section_exists() -> None:
    assert unknown_sections(cited(), ROOT) == []
    assert slugify("Precision and layout") == "precision-and-layout"
    assert slugify("Pong on a 2-core CPU in an hour: `pong-cpu`") == (
        "pong-on-a-2-core-cpu-in-an-hour-pong-cpu"
    )


def test_a_spec_page_carries_the_links_under_each_cited_heading_and_nowhere_else() -> None:
    text = (ROOT / "spec" / "bellman.md").read_text()
    page = spec_page(text, "bellman", cited())
    after = page[page.index("### eq-target") :]
    block = after[: after.index("$$")]
    assert "[`dqn_ref.bellman.bellman_target`](../code/dqn_ref.bellman.md#bellman_target)" in block
    first_property = "test_bellman.md#test_terminal_transition_target_is_the_reward_alone) (P1)"
    assert f"(../tests/{first_property}" in block
    # The property tests come first, in the spec's order, then the others that cite eq-target.
    items = re.findall(r"^    - .*$", block, re.MULTILINE)
    props = [re.search(r"\) \((P\d+)\)$", item) for item in items]
    assert all(props[: len([p for p in props if p])]) and not all(props)
    numbers = [int(p.group(1)[1:]) for p in props if p]
    assert numbers == sorted(numbers) and numbers[0] == 1
    assert page.count('!!! abstract "Code and tests"') == len(EQ_HEADING.findall(text))
    assert re.sub(r'\n\n!!! abstract "Code and tests"\n(?:(?: {4}.*)?\n)*', "\n", page) == text


def test_every_link_lands_on_an_anchor_of_its_page() -> None:
    """Each cited function or test has a heading with the anchor the spec links to."""
    by_file: dict[Path, list[tuple[str, str, Citation]]] = {}
    for (page, section), found in cited().items():
        for citation in found:
            by_file.setdefault(citation.path, []).append((page, section, citation))
    pages = {path: source_page(path, ROOT, in_file) for path, in_file in by_file.items()}
    for path, in_file in by_file.items():
        for _, _, citation in in_file:
            assert source_uri(citation).startswith(("code/", "tests/"))
            if citation.qualname:
                assert f"{{ #{anchor(citation)} }}" in pages[path], (path, citation.qualname)
    uris = {source_uri(in_file[0][2]): pages[path] for path, in_file in by_file.items()}
    for spec in sorted((ROOT / "spec").glob("*.md")):
        rendered = spec_page(spec.read_text(), spec.stem, cited())
        for target, fragment in re.findall(r"\]\(\.\./((?:code|tests)/[^)#]+)#([^)]+)\)", rendered):
            assert target in uris and f"{{ #{fragment} }}" in uris[target], (spec.name, target)
    bellman = pages[Path("dqn_ref/bellman.py")]
    assert "Cites [eq-target](../spec/bellman.md#eq-target)." in bellman
    assert '```python linenums="' in bellman and "def bellman_target(" in bellman


def test_the_api_reference_documents_every_name_users_import() -> None:
    api = (ROOT / "docs" / "api.md").read_text()
    documented = set(re.findall(r"^::: dqn_ref\.(\w+)$", api, re.MULTILINE))
    assert documented == set(dqn_ref.__all__)


def test_the_spec_sections_are_the_headings_of_each_page() -> None:
    sections = spec_sections(ROOT / "spec")
    assert "eq-target" in sections["bellman"] and "tune-and-ray" in sections["reliability"]
