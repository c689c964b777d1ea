"""The documentation site's build: the spec's pages with links from each ID to the code that
implements it and the tests that check it (spec_citations.py finds them, pages.py writes the
pages, hooks.py hands them to MkDocs)."""
