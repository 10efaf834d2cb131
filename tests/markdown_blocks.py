"""Runs the Python code blocks of a Markdown page (the docs pages and the README).

The conventions, repeated in docs/contributing.md:

* Every ```python block of a page runs, top to bottom, in one fresh namespace per page: a page
  may use what its earlier blocks defined, never what another page defined.
* A block whose first line is `# not run: <reason>` is skipped, and counted as skipped.
* Output a page shows is asserted. A ```python block followed directly by a ```text block (only
  blank lines between them) must print that text; and a ```python block whose first line starts
  with `>>>` runs as a doctest in the page's namespace. Both compare with doctest's checker,
  ELLIPSIS and NORMALIZE_WHITESPACE on, so `...` stands for any text (a loss value, a timing).
"""

from __future__ import annotations

import contextlib
import dataclasses
import doctest
import io
import re
import textwrap

DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
SKIP_PREFIX = "# not run:"

# A fence of three or more backticks, closed by the same fence at the same indentation (so a
# ````markdown block can show fences without them running).
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<lang>[\w+-]*)[^\n`]*\n(?P<body>.*?)"
    r"^(?P=indent)(?P=fence)[ \t]*$",
    re.M | re.S,
)


@dataclasses.dataclass
class Block:
    """One ```python block: its code, where it starts, what it must print, or why it is skipped."""

    code: str
    line: int
    expected_output: str | None = None
    skip_reason: str | None = None

    @property
    def is_doctest(self) -> bool:
        return self.code.lstrip().startswith(">>>")


@dataclasses.dataclass
class PageResult:
    ran: int
    skipped: int


def python_blocks(text: str) -> list[Block]:
    """The ```python blocks of a Markdown text, each with the ```text block that follows it."""
    fences = list(_FENCE.finditer(text))
    blocks = []
    for i, fence in enumerate(fences):
        if fence.group("lang") != "python":
            continue
        code = textwrap.dedent(fence.group("body"))
        line = text.count("\n", 0, fence.start()) + 2  # the first line of code
        block = Block(code=code, line=line)
        first = code.lstrip().split("\n", 1)[0]
        if first.startswith(SKIP_PREFIX):
            block.skip_reason = first[len(SKIP_PREFIX):].strip()
            if not block.skip_reason:
                raise ValueError(f"line {line}: '{SKIP_PREFIX}' needs a reason after the colon")
        following = fences[i + 1] if i + 1 < len(fences) else None
        if (following is not None and following.group("lang") == "text"
                and not text[fence.end():following.start()].strip()):
            block.expected_output = textwrap.dedent(following.group("body"))
        blocks.append(block)
    return blocks


def run_blocks(blocks: list[Block], source: str, namespace: dict | None = None) -> PageResult:
    """Runs `blocks` in order in one namespace; raises AssertionError naming the failing line."""
    namespace = {"__name__": "__docs__"} if namespace is None else namespace
    ran = skipped = 0
    for block in blocks:
        if block.skip_reason is not None:
            skipped += 1
            continue
        where = f"{source}:{block.line}"
        if block.is_doctest:
            _run_doctest(block, where, namespace)
        else:
            _run_code(block, source, where, namespace)
        ran += 1
    return PageResult(ran=ran, skipped=skipped)


def _run_code(block: Block, source: str, where: str, namespace: dict) -> None:
    # Padding keeps the traceback's line numbers those of the Markdown file.
    code = compile("\n" * (block.line - 1) + block.code, source, "exec")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, namespace)  # noqa: S102
    if block.expected_output is not None:
        checker = doctest.OutputChecker()
        got = printed.getvalue()
        if not checker.check_output(block.expected_output, got, DOCTEST_FLAGS):
            example = doctest.Example("", block.expected_output)
            raise AssertionError(f"{where}: the block printed other text than the page shows:\n"
                                 + checker.output_difference(example, got, DOCTEST_FLAGS))


def _run_doctest(block: Block, where: str, namespace: dict) -> None:
    test = doctest.DocTestParser().get_doctest(block.code, namespace, where, where, block.line)
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
    result = runner.run(test, out=report.write, clear_globs=False)
    if result.failed:
        raise AssertionError(f"{where}: {result.failed} of {result.attempted} examples failed\n"
                             + report.getvalue())
