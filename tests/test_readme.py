"""The README's Python blocks run, in order, in one namespace, by the docs' conventions
(tests/markdown_blocks.py: `# not run: <reason>` skips a block, a following ```text block is
asserted)."""

import math
import pathlib

import numpy as np
import pytest

from markdown_blocks import python_blocks, run_blocks

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.isolated  # the snippets train under XLA, whose programs stay until exit
def test_readme_snippets_run():
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    namespace = {"__name__": "readme"}
    result = run_blocks(blocks, "README.md", namespace)
    assert result.ran == 2 and result.skipped == 0
    assert sorted(namespace["history"].history) == ["bits_per_dim", "loss"]
    assert namespace["log_p"].shape == (5,) and namespace["flow"].is_exact
    assert namespace["samples"].shape == (1000, 2)
    # The folded normal: 2 N(x; 0, 1) on x >= 0.
    folded = [math.log(2.0) - 0.5 * v * v - 0.5 * math.log(2.0 * math.pi) for v in (0.5, 2.0)]
    np.testing.assert_allclose(namespace["folded_log_p"], folded, rtol=1e-5)
    assert namespace["dist"].event_shape == (2,)
