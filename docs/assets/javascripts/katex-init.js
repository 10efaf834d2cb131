// Renders the math that pymdownx.arithmatex (generic mode) leaves in .arithmatex elements, with
// the KaTeX copy under assets/katex/ (no CDN). document$ emits on every page load, including
// the theme's instant navigation.
document$.subscribe(({ body }) => {
  body.querySelectorAll(".arithmatex").forEach((element) => {
    renderMathInElement(element, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,
    });
  });
});
