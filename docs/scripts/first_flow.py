"""Redraws docs/assets/first_flow.png: runs the Home page's code, then plots the flow's density.

    python docs/scripts/first_flow.py
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from markdown_blocks import python_blocks, run_blocks  # noqa: E402


def main() -> str:
    page = os.path.join(ROOT, "docs", "index.md")
    with open(page, encoding="utf-8") as f:
        blocks = python_blocks(f.read())
    namespace = {"__name__": "__docs__"}
    run_blocks(blocks, page, namespace)
    import tfp_survae as ts

    path = os.path.join(ROOT, "docs", "assets", "first_flow.png")
    ts.plotting.plot_density_2d(namespace["flow"].log_prob, path)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
