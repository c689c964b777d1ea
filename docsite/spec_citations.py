"""Who cites which section of spec/: the functions whose docstrings say `Implements:
spec/<page>.md#<id>`, and the tests that name an ID (`eq-target P1`) or a section
(`spec/reliability.md#resume`). The site links each spec section to them; nothing here imports
MkDocs, so the tests read the same map the site is built from."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
ROOT = Path(__file__).resolve().parent.parent
HEADING = re.compile(r"^(#{1,6}) +(.+?)\s*$", re.MULTILINE)
# spec/replay.md#eq-replay-capacity, or a list sharing its page: spec/x.md#one, #two
SECTION_CITE = re.compile(r"spec/(\w+)\.md#([\w-]+)((?:,\s*#[\w-]+)*)")
# Tests that name IDs to check the citations themselves, not the equations.
CHECKS_OF_CITATIONS = ("test_spec_links.py", "test_docsite.py")
EQ_CITE = re.compile(r"\b(eq-[a-z0-9]+(?:-[a-z0-9]+)*)\b(?: P(\d+)\b)?")


@dataclass(frozen=True)
class Citation:
    """One function, class or test module citing one spec section."""

    path: Path  # the Python file, relative to the project's root
    qualname: str  # "bellman_target", "ReplayBuffer.add"; "" for the module itself
    start: int  # first line of its source (1-based)
    end: int  # last line
    implements: bool  # its docstring says "Implements:" this section
    prop: str | None  # "P1" where a test cites one property of an equation

    @property
    def module(self) -> str:
        """dqn_ref/bellman.py -> dqn_ref.bellman; tests/training/test_train.py -> likewise."""
        return ".".join(self.path.with_suffix("").parts)


def slugify(heading: str) -> str:
    """The anchor MkDocs gives a heading: "Tune and Ray" -> "tune-and-ray"."""
    text = re.sub(r"[^\w\s-]", "", heading.lower()).strip()
    return re.sub(r"[-\s]+", "-", text)


def spec_sections(spec_dir: Path) -> dict[str, set[str]]:
    """Page name ("bellman") -> the anchors of its headings."""
    return {
        page.stem: {slugify(match.group(2)) for match in HEADING.finditer(page.read_text())}
        for page in sorted(spec_dir.glob("*.md"))
    }


def sections_cited(text: str, eq_pages: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """(page, anchor, property) for each citation in `text`; a bare eq-ID finds its page in
    `eq_pages` (ID -> page)."""
    found: list[tuple[str, str, str | None]] = []
    for match in SECTION_CITE.finditer(text):
        anchors = [match.group(2), *re.findall(r"#([\w-]+)", match.group(3))]
        found += [(match.group(1), anchor, None) for anchor in anchors]
    for match in EQ_CITE.finditer(text):
        if match.group(1) in eq_pages:
            prop = f"P{match.group(2)}" if match.group(2) else None
            found.append((eq_pages[match.group(1)], match.group(1), prop))
    return list(dict.fromkeys(found))


def implements_paragraph(docstring: str) -> str:
    """The paragraph of a docstring that starts at "Implements:", else ""."""
    start = docstring.find("Implements:")
    if start < 0:
        return ""
    end = docstring.find("\n\n", start)
    return docstring[start : end if end >= 0 else len(docstring)]


def definitions(tree: ast.Module) -> list[tuple[str, Definition]]:
    """Every function and class of a module with its qualified name, methods included."""
    found: list[tuple[str, Definition]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                found.append((name, child))
                visit(child, f"{name}.")

    visit(tree, "")
    return found


def file_citations(
    path: Path, root: Path, eq_pages: dict[str, str], is_test: bool
) -> list[tuple[str, str, Citation]]:
    """(page, anchor, citation) for one Python file. Code counts the "Implements:" paragraph and
    any spec/<page>.md#<anchor> of a docstring; a test counts every citation in its source."""
    source = path.read_text()
    tree = ast.parse(source)
    lines = source.splitlines()
    relative = path.relative_to(root)
    found: list[tuple[str, str, Citation]] = []
    module_doc = ast.get_docstring(tree) or ""
    for page, anchor, prop in sections_cited(module_doc, eq_pages if is_test else {}):
        found.append((page, anchor, Citation(relative, "", 1, len(lines), False, prop)))
    for name, node in definitions(tree):
        end = node.end_lineno or node.lineno
        if is_test:
            if not node.name.startswith("test_"):
                continue
            text = "\n".join(lines[node.lineno - 1 : end])
            cites = [
                (page, anchor, prop, False) for page, anchor, prop in sections_cited(text, eq_pages)
            ]
        else:
            docstring = ast.get_docstring(node) or ""
            paragraph = implements_paragraph(docstring)
            implemented = {(page, anchor) for page, anchor, _ in sections_cited(paragraph, {})}
            cites = [
                (page, anchor, None, (page, anchor) in implemented)
                for page, anchor, _ in sections_cited(docstring, {})
            ]
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        for page, anchor, prop, implements in cites:
            found.append((page, anchor, Citation(relative, name, first, end, implements, prop)))
    return found


def eq_pages_of(sections: dict[str, set[str]]) -> dict[str, str]:
    """Equation ID -> its page."""
    return {
        anchor: page
        for page, anchors in sections.items()
        for anchor in anchors
        if anchor.startswith("eq-")
    }


def citations(root: Path = ROOT) -> dict[tuple[str, str], list[Citation]]:
    """(page, anchor) -> the code and tests that cite it, code first, each in file order."""
    sections = spec_sections(root / "spec")
    eq_pages = eq_pages_of(sections)
    cited: dict[tuple[str, str], list[Citation]] = defaultdict(list)
    for folder, is_test in (("dqn_ref", False), ("tests", True)):
        for path in sorted((root / folder).rglob("*.py")):
            if is_test and path.name in CHECKS_OF_CITATIONS:
                continue
            for page, anchor, citation in file_citations(path, root, eq_pages, is_test):
                cited[(page, anchor)].append(citation)
    return dict(cited)


def unknown_sections(cited: dict[tuple[str, str], list[Citation]], root: Path = ROOT) -> list[str]:
    """Citations of a spec section that does not exist: "spec/x.md#y (dqn_ref/z.py f)"."""
    sections = spec_sections(root / "spec")
    return [
        f"spec/{page}.md#{anchor} ({citation.path} {citation.qualname or 'module'})"
        for (page, anchor), found in sorted(cited.items())
        if anchor not in sections.get(page, set())
        for citation in found
    ]
