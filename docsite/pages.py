"""The site's generated pages, as markdown: each spec page with, under every cited heading, the
links to its code and tests; one page per module or test file holding the cited definitions'
source, each under an anchor of its own, with links back to the spec."""

from __future__ import annotations

import ast
import posixpath
import re
from collections import defaultdict
from pathlib import Path

from docsite.spec_citations import HEADING, Citation, slugify


def spec_uri(page: str) -> str:
    return f"spec/{page}.md"


def source_uri(citation: Citation) -> str:
    """code/dqn_ref.bellman.md for dqn_ref/bellman.py; tests/training/test_train.md alike."""
    if citation.path.parts[0] == "tests":
        return citation.path.with_suffix(".md").as_posix()
    return f"code/{citation.module}.md"


def anchor(citation: Citation) -> str:
    return citation.qualname.replace(".", "-") if citation.qualname else ""


def link(citation: Citation, from_uri: str) -> str:
    """A markdown link from the page at `from_uri` to the citation's source."""
    target = posixpath.relpath(source_uri(citation), posixpath.dirname(from_uri))
    fragment = f"#{anchor(citation)}" if citation.qualname else ""
    name = citation.qualname or citation.path.name
    if citation.path.parts[0] == "tests" and citation.qualname:
        name = f"{citation.path.name}::{citation.qualname}"
    elif citation.qualname:
        name = f"{citation.module}.{citation.qualname}"
    suffix = f" ({citation.prop})" if citation.prop else ""
    return f"[`{name}`]({target}{fragment}){suffix}"


def links_block(found: list[Citation], from_uri: str) -> str:
    """The admonition under a spec heading: the implementing code first, then the tests."""
    code = [c for c in found if c.path.parts[0] != "tests"]
    tests = [c for c in found if c.path.parts[0] == "tests"]
    # A test file cited by its docstring is listed only where none of its tests is.
    with_functions = {c.path for c in tests if c.qualname}
    tests = [c for c in tests if c.qualname or c.path not in with_functions]
    # The property tests first, in the spec's order, then the other tests that cite the section.
    tests.sort(key=lambda c: (c.prop is None, int(c.prop[1:]) if c.prop else 0))
    implementing = [c for c in code if c.implements] or code
    lines = ['!!! abstract "Code and tests"']
    if implementing:
        label = "Implemented by" if any(c.implements for c in code) else "Code"
        lines.append(f"    **{label}:** " + ", ".join(link(c, from_uri) for c in implementing))
        lines.append("")
    if tests:
        lines.append("    **Tests:**")
        lines.append("")
        lines += [f"    - {link(c, from_uri)}" for c in tests]
    return "\n".join(lines)


def spec_page(text: str, page: str, cited: dict[tuple[str, str], list[Citation]]) -> str:
    """A spec page with the links block under each heading that code or tests cite."""
    parts: list[str] = []
    position = 0
    in_code = False
    for match in HEADING.finditer(text):
        # A '#' line inside a fenced code block is not a heading.
        in_code ^= text[position : match.start()].count("```") % 2 == 1
        parts.append(text[position : match.end()])
        position = match.end()
        found = cited.get((page, slugify(match.group(2))))
        if found and not in_code:
            parts.append("\n\n" + links_block(found, spec_uri(page)) + "\n")
    parts.append(text[position:])
    return "".join(parts)


def source_page(path: Path, root: Path, found: list[tuple[str, str, Citation]]) -> str:
    """One module's or test file's cited definitions: heading (the anchor the spec links to),
    the sections it cites, its source with the file's line numbers."""
    source = (root / path).read_text()
    lines = source.splitlines()
    by_definition: dict[Citation, list[tuple[str, str]]] = defaultdict(list)
    for page, section, citation in found:
        key = Citation(citation.path, citation.qualname, citation.start, citation.end, False, None)
        by_definition[key].append((page, section))
    uri = source_uri(next(iter(by_definition)))
    title = path.as_posix()
    out = [f"# `{title}`", ""]
    module_doc = ast.get_docstring(ast.parse(source))
    if module_doc:
        out += [escape_markdown(module_doc), ""]
    for definition in sorted(by_definition, key=lambda c: (c.start, c.qualname)):
        sections = list(dict.fromkeys(by_definition[definition]))
        cites = ", ".join(
            f"[{section}]({posixpath.relpath(spec_uri(page), posixpath.dirname(uri))}#{section})"
            for page, section in sections
        )
        if definition.qualname:
            out += [f"## `{definition.qualname}` {{ #{anchor(definition)} }}", ""]
            out += [f"Cites {cites}.", ""]
            body = "\n".join(lines[definition.start - 1 : definition.end])
            out += [f'```python linenums="{definition.start}"', body, "```", ""]
        else:
            out += [f"The module cites {cites}.", ""]
    return "\n".join(out)


def escape_markdown(text: str) -> str:
    """A docstring as plain prose: markdown's own characters shown as they are."""
    text = re.sub(r"([\\`*_\[\]#$])", r"\\\1", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")
