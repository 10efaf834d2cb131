"""The README's Python snippets run, in order, in one namespace (those not marked "not run")."""

import os
import re

import pytest

README = os.path.join(os.path.dirname(os.path.dirname(__file__)), "README.md")


def snippets():
    text = open(README, encoding="utf-8").read()
    return [block for block in re.findall(r"```python\n(.*?)```", text, flags=re.S)
            if not block.lstrip().startswith("# not run")]


@pytest.mark.isolated  # the snippets train under XLA, whose programs stay until exit
def test_readme_snippets_run():
    blocks = snippets()
    assert len(blocks) >= 8
    namespace = {"__name__": "readme"}
    for block in blocks:
        exec(compile(block, README, "exec"), namespace)  # noqa: S102
    assert namespace["log_p"].shape == (5,)
    assert namespace["samples"].shape == (1000, 2)
