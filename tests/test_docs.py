"""The documentation runs: every page's code, every docstring example, and the site's build.

Conventions (docs/contributing.md repeats them for authors):

* Pages: every ```python block of every docs/**/*.md page runs, top to bottom, in one fresh
  namespace per page (pages share no state); one test per page. Pages whose names start with
  `_` are not part of the site and do not run.
* A block whose first line is `# not run: <reason>` is skipped, and counted.
* Output a page shows is asserted: a ```python block followed directly by a ```text block must
  print that text, and a ```python block whose first line starts with `>>>` runs as a doctest
  in the page's namespace (ELLIPSIS and NORMALIZE_WHITESPACE: `...` matches anything).
* Docstrings: every `>>>` example of every module under tfp_survae runs with doctest, one test
  per module, ELLIPSIS and NORMALIZE_WHITESPACE on; the examples see their module's globals and
  `ts`, `tf`, `tfp`, `tfd`, `tfb`, `keras` and `np`.
* The site: `mkdocs build --strict` passes with no warning, and every name in
  `tfp_survae.__all__` has an anchor (`id="tfp_survae.NAME"`) on the API reference pages.
"""

from __future__ import annotations

import doctest
import importlib
import pathlib
import re

import pytest

from docs_build import build_site
from markdown_blocks import DOCTEST_FLAGS, python_blocks, run_blocks

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGE = ROOT / "tfp_survae"


def site_pages() -> list[pathlib.Path]:
    return sorted(p for p in DOCS.rglob("*.md")
                  if not any(part.startswith("_") for part in p.relative_to(DOCS).parts))


def pages_with_code() -> list[pathlib.Path]:
    return [p for p in site_pages() if python_blocks(p.read_text(encoding="utf-8"))]


def modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>>" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _page_id(path: pathlib.Path) -> str:
    return str(path.relative_to(DOCS))


@pytest.mark.isolated  # pages train flows: compiled executions are XLA programs
@pytest.mark.parametrize("page", pages_with_code(), ids=_page_id)
def test_page_code_runs(page):
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    result = run_blocks(blocks, str(page.relative_to(ROOT)))
    assert result.ran + result.skipped == len(blocks)


def test_block_conventions():
    """The runner runs blocks in order in one namespace, skips `# not run:`, checks output."""
    page = "\n".join([
        "```python", "a = 2", "```", "",
        "```python", "# not run: raises on purpose", "raise RuntimeError", "```",
        "  ```python", "  print(a * 21, 'nats')", "  ```", "",
        "  ```text", "  42 ...", "  ```",
        "```python", ">>> a + 1", "3", "```",
    ])
    blocks = python_blocks(page)
    assert [b.skip_reason for b in blocks] == [None, "raises on purpose", None, None]
    assert blocks[2].expected_output == "42 ...\n" and blocks[2].line == 10
    assert run_blocks(blocks, "page.md").skipped == 1

    wrong_output = python_blocks("```python\nprint(1)\n```\n\n```text\n2\n```\n")
    with pytest.raises(AssertionError, match="page.md:2: the block printed other text"):
        run_blocks(wrong_output, "page.md")
    wrong_doctest = python_blocks("```python\n>>> 1 + 1\n3\n```\n")
    with pytest.raises(AssertionError, match="1 of 1 examples failed"):
        run_blocks(wrong_doctest, "page.md")
    with pytest.raises(ValueError, match="needs a reason"):
        python_blocks("```python\n# not run:\nx = 1\n```\n")


def _doctest_globals() -> dict:
    import keras
    import numpy as np
    import tensorflow as tf
    import tensorflow_probability as tfp

    import tfp_survae

    return {"ts": tfp_survae, "tf": tf, "tfp": tfp, "tfd": tfp.distributions,
            "tfb": tfp.bijectors, "keras": keras, "np": np}


@pytest.mark.parametrize("module_name", modules_with_examples())
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    tests = doctest.DocTestFinder().find(module, module_name, extraglobs=_doctest_globals())
    tests = [t for t in tests if t.examples]
    assert tests, f"{module_name} holds '>>>' but doctest found no example in its docstrings"
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
    report = []
    for test in tests:
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)


def test_every_page_is_collected():
    """Every site page either has code that runs or has none; none of the site is left out."""
    pages = site_pages()
    assert DOCS / "index.md" in pages
    assert not [p for p in pages if p.name.startswith("_")]
    with_code = pages_with_code()
    assert set(with_code) <= set(pages) and DOCS / "index.md" in with_code


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    """The site built by `mkdocs build --strict`, and the finished build."""
    site = tmp_path_factory.mktemp("site")
    return site, build_site(site)


def test_site_builds_strict(built_site):
    site, build = built_site
    log = build.stdout + build.stderr
    assert build.returncode == 0, log
    assert not re.findall(r"^WARNING +-", log, flags=re.M), log
    assert (site / "index.html").exists() and (site / "api" / "index.html").exists()


def test_every_public_name_has_an_api_entry(built_site):
    import tfp_survae

    site, build = built_site
    assert build.returncode == 0, build.stdout + build.stderr
    anchors = set()
    for page in (site / "api").rglob("*.html"):
        anchors |= set(re.findall(r'id="(tfp_survae\.[\w.]+)"', page.read_text(encoding="utf-8")))
    missing = [name for name in tfp_survae.__all__ if f"tfp_survae.{name}" not in anchors]
    assert not missing, f"public names without an entry in the API reference: {missing}"


def test_changelog_and_setup_name_the_package_version():
    import tfp_survae

    released = re.findall(r"^## (\d+\.\d+)\s*$", (DOCS / "changelog.md").read_text(
        encoding="utf-8"), flags=re.M)
    assert released, "docs/changelog.md lists no version ('## X.Y')"
    text = (DOCS / "changelog.md").read_text(encoding="utf-8")
    major, minor = (int(part) for part in released[0].split("."))
    if "## Unreleased" in text:  # work after the newest release: the next minor's dev version
        assert tfp_survae.__version__.startswith(f"{major}.{minor + 1}.0.dev"), (
            tfp_survae.__version__, released)
    else:
        assert tfp_survae.__version__.startswith(released[0] + "."), (
            tfp_survae.__version__, released)
    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    assert f'version="{tfp_survae.__version__}"' in setup
