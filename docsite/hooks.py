"""MkDocs hooks (mkdocs.yml, `hooks:`): add the spec's pages, with their links to code and tests,
and the pages of the cited source to the site, and point the guides' links to spec/ (written to
work on GitHub, from docs/) at the site's copy."""

from __future__ import annotations

import logging
import posixpath
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

# MkDocs loads this file by its path; the package beside it is imported from the project's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from docsite.pages import source_page, source_uri, spec_page, spec_uri
from docsite.spec_citations import ROOT, Citation, citations, unknown_sections

log = logging.getLogger("mkdocs.plugins.docsite")
LIST_ITEM = re.compile(r"^(?:[-*+]|\d+\.) ")
LINK = re.compile(r"(\]\()([^)\s#]+)(#[^)\s]*)?(\))")


def on_files(files: Files, config: MkDocsConfig) -> Files:
    cited = citations(ROOT)
    for problem in unknown_sections(cited, ROOT):
        log.warning(f"a citation of a spec section that does not exist: {problem}")
    for page in sorted((ROOT / "spec").glob("*.md")):
        content = spec_page(page.read_text(), page.stem, cited)
        files.append(File.generated(config, spec_uri(page.stem), content=content))
    by_file: dict[Path, list[tuple[str, str, Citation]]] = defaultdict(list)
    for (page_name, section), found in cited.items():
        for citation in found:
            by_file[citation.path].append((page_name, section, citation))
    for path, in_file in sorted(by_file.items()):
        uri = source_uri(in_file[0][2])
        files.append(File.generated(config, uri, content=source_page(path, ROOT, in_file)))
    return files


def separate_lists(markdown: str) -> str:
    """A blank line before a list that follows a paragraph's last line at once: GitHub starts a
    list there, Python-Markdown would run the items into the paragraph."""
    lines = markdown.split("\n")
    out: list[str] = []
    in_code = False
    for line in lines:
        if line.lstrip().startswith("```"):
            in_code = not in_code
        previous = out[-1] if out else ""
        after_paragraph = previous.strip() and not previous.startswith((" ", "\t", "|", ">"))
        starts_list = LIST_ITEM.match(line) and not LIST_ITEM.match(previous)
        if not in_code and starts_list and after_paragraph:
            out.append("")
        out.append(line)
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, **_: Any) -> str:
    """A link from a page of docs/ to ../spec/x.md (a file of the repository) goes to the
    site's spec/x.md."""
    markdown = separate_lists(markdown)
    if page.file.generated_by is not None:
        return markdown
    docs_dir = Path(config.docs_dir).resolve()
    here = (docs_dir / page.file.src_uri).parent

    def rewrite(match: re.Match[str]) -> str:
        target = match.group(2)
        if "://" in target or target.startswith(("/", "mailto:")):
            return match.group(0)
        resolved = (here / target).resolve()
        if resolved.is_relative_to(docs_dir) or not resolved.is_relative_to(ROOT / "spec"):
            return match.group(0)
        site_target = "spec/" + resolved.relative_to(ROOT / "spec").as_posix()
        relative = posixpath.relpath(site_target, posixpath.dirname(page.file.src_uri))
        return f"{match.group(1)}{relative}{match.group(3) or ''}{match.group(4)}"

    return LINK.sub(rewrite, markdown)
