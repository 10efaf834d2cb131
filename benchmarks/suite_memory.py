"""Peak resident memory and CPU time of the test suite, one test file per pytest process.

Each file runs as `python -m pytest FILE -q -n 0 -p no:cacheprovider [extra args]` in a fresh
process. Its peak is the largest peak resident set of that process and of every process it
waited for (the isolated test processes of tests/isolation.py, servers, ...), as the kernel
reports it at exit (wait4); CPU seconds are user + system time of all of them. CPU time, not
wall time, is the comparable number on a shared machine.

    python benchmarks/suite_memory.py tests/test_conformance.py tests/test_training.py
    python benchmarks/suite_memory.py --all --output table.md   # every tests/test_*.py

Prints a Markdown table (file, peak MB, CPU s, pytest's summary line).
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time


def measure(path: str, extra: list[str]) -> dict:
    """Runs one test file in a fresh pytest process; its peak RSS (MB), CPU s, wall s, summary."""
    with tempfile.TemporaryFile("w+") as log:
        start = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", path, "-q", "-n", "0", "-p", "no:cacheprovider",
             *extra], stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        log.seek(0)
        lines = [line.strip() for line in log.read().splitlines() if line.strip()]
    summary = next((line for line in reversed(lines) if " in " in line and "=" not in line[:1]),
                   lines[-1] if lines else "")
    return {"file": path, "peak_mb": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime +
            usage.ru_stime, "wall_s": wall, "exit": process.returncode, "summary": summary}


def table(rows: list[dict]) -> str:
    lines = ["| file | peak RSS (MB) | CPU s (user+sys) | result |", "|---|---:|---:|---|"]
    for row in rows:
        lines.append(f"| {os.path.basename(row['file'])} | {row['peak_mb']:.0f} | "
                     f"{row['cpu_s']:.0f} | {row['summary']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="test files (default with --all: all of them)")
    parser.add_argument("--all", action="store_true", help="every tests/test_*.py")
    parser.add_argument("--output", help="also write the table to this file")
    parser.add_argument("--pytest-args", default="", help="extra pytest arguments, one string")
    args = parser.parse_args(argv)
    files = args.files or (sorted(glob.glob("tests/test_*.py")) if args.all else [])
    if not files:
        parser.error("name test files, or --all")
    rows = []
    for path in files:
        rows.append(measure(path, args.pytest_args.split()))
        row = rows[-1]
        print(f"{path}: {row['peak_mb']:.0f} MB, {row['cpu_s']:.0f} CPU s, "
              f"{row['wall_s']:.0f} s, {row['summary']}", file=sys.stderr, flush=True)
        if args.output:
            with open(args.output, "w") as f:
                f.write(table(rows) + "\n")
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
