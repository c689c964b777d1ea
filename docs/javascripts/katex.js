// Renders the spec's equations: pymdownx.arithmatex (generic mode) leaves them as \(...\) and
// \[...\] in elements of class "arithmatex"; KaTeX's auto-render typesets them on each page.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
  });
});
