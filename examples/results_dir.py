"""Where an example writes: under outputs/ by default, the committed examples/results/ on request.

The results committed under examples/results/ change only when a script is run with
`--update-results`; every other run writes to `--output` (default `outputs/<name>`), and an
`--output` inside examples/results/ without the flag is refused.
"""

from __future__ import annotations

import argparse
import os

COMMITTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def add_output_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Adds `--output` and `--update-results` for an example whose results are `name`."""
    parser.add_argument("--output", default=None,
                        help=f"directory to write to (default: outputs/{name})")
    parser.add_argument("--update-results", action="store_true",
                        help=f"write the committed results, examples/results/{name}")


def output_dir(parser: argparse.ArgumentParser, args: argparse.Namespace, name: str) -> str:
    """The directory this run writes to, created; exits with a usage error on a bad request."""
    committed = os.path.join(COMMITTED, name)
    if args.update_results:
        if args.output is not None:
            parser.error(f"--update-results writes {os.path.relpath(committed)}; "
                         f"received --output {args.output} as well: pass one of them")
        path = os.path.relpath(committed)
    else:
        path = args.output if args.output is not None else os.path.join("outputs", name)
        inside = os.path.commonpath([os.path.realpath(path), os.path.realpath(COMMITTED)])
        if inside == os.path.realpath(COMMITTED):
            parser.error(f"--output {path} lies in examples/results/, the committed results: "
                         "pass --update-results (without --output) to rewrite them")
    os.makedirs(path, exist_ok=True)
    return path
