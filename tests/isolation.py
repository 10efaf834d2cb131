"""Tests marked `isolated` run in a separate pytest process, which is replaced once it grows.

TensorFlow keeps every XLA program it compiles until the process exits (its compilation cache
has no eviction: tensorflow/compiler/jit/device_compilation_cache.h), so a process that runs
many XLA-compiling tests (the conformance suite under XLA, training, the examples) grows by
tens to hundreds of MB per test. Isolated tests run in a child process that collects the files
holding them once and then runs them one by one, as this process reaches them, until its peak
resident memory passes RECYCLE_ABOVE_MB; the next one starts a fresh child. The child runs the
whole pytest protocol (fixtures, marks, assertion rewriting); the test here reports its
outcome. A test marked `isolated(alone=True)`, one that alone grows a process by more than
3 GB - RECYCLE_ABOVE_MB, runs in a child of its own. `--no-isolation` runs isolated tests in
this process instead (e.g. to debug one with --pdb).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import tempfile

import pytest

# A child serves isolated tests until its peak resident memory passes this, so that with the
# growth of the next test (up to about 0.7 GB; `alone` for more) it stays under 3 GB.
RECYCLE_ABOVE_MB = 2200

IN_CHILD = False  # set in a child process, whose isolated tests run in it
files: set = set()  # the files holding isolated tests (set at collection)


def peak_mb() -> float:
    """This process's peak resident memory since it started. Linux's `ru_maxrss` would not
    do: it keeps the peak of the memory replaced at exec, which for a spawned child is the
    parent's resident set at the fork (a pytest worker's 2 GB made every new child look full,
    and each isolated test then paid a fresh process); VmHWM counts this program's alone."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def describe(reports) -> tuple[str, str]:
    """(outcome, text) of one test from its setup, call and teardown reports."""
    for report in reports:
        if report.failed or hasattr(report, "wasxfail") and report.skipped:  # xfail: fail here
            sections = "".join(f"\n--- {name} ---\n{text}" for name, text in report.sections)
            return "failed", f"{report.when}: {report.longreprtext}{sections}"
    for report in reports:
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else \
                str(report.longrepr)
            return "skipped", reason
    return "passed", ""


class _Server:
    """The child's pytest plugin: after collection, runs the tests the parent names."""

    def __init__(self, conn):
        self.conn = conn
        self.reports = []
        self.collection_errors = []

    def pytest_collectreport(self, report):
        if report.failed:
            self.collection_errors.append(report.longreprtext)

    def pytest_runtest_logreport(self, report):
        self.reports.append(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        items = {item.nodeid: item for item in session.items}
        self.conn.send("ready")
        while (nodeid := self.conn.recv()) is not None:
            self.reports = []
            if nodeid in items:
                items[nodeid].ihook.pytest_runtest_protocol(item=items[nodeid], nextitem=None)
                outcome = describe(self.reports)
            else:
                outcome = ("failed", f"{nodeid} was not collected in the isolated process:\n"
                           + "\n".join(self.collection_errors))
            self.conn.send((*outcome, peak_mb()))
        return True


def _serve(conn, paths: list, rootdir: str, inifile: str, log: str) -> None:
    """The child process: pytest on `paths`, serving their tests through `_Server`."""
    global IN_CHILD
    IN_CHILD = True
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    args = [*paths, "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-o", "addopts=",
            "--rootdir", rootdir] + (["-c", inifile] if inifile else [])
    pytest.main(args, plugins=[_Server(conn)])


class Child:
    """A child process serving the isolated tests of some files."""

    def __init__(self, paths: list, config):
        self.paths = paths
        self.peak_mb = 0.0
        handle, self.log = tempfile.mkstemp(prefix="isolated-", suffix=".log")
        os.close(handle)
        context = multiprocessing.get_context("spawn")
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(
            target=_serve, daemon=True,
            args=(child_conn, paths, str(config.rootpath),
                  str(config.inipath) if config.inipath else "", self.log))
        self.process.start()
        child_conn.close()
        self._receive()  # "ready": the files are collected

    def _receive(self):
        try:
            return self.conn.recv()
        except EOFError:
            self.process.join(10)
            with open(self.log, errors="replace") as f:
                tail = f.read()[-6000:]
            os.unlink(self.log)
            raise RuntimeError(f"the isolated test process died (exit code "
                               f"{self.process.exitcode}); the end of its output:\n{tail}")

    def run(self, nodeid: str) -> tuple[str, str]:
        self.conn.send(nodeid)
        outcome, text, self.peak_mb = self._receive()
        return outcome, text

    def close(self):
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()
        os.unlink(self.log)


_child: Child | None = None


def run(item) -> None:
    """Runs an isolated test in a child process; fails or skips here as it did there. A test
    marked `alone` runs in a child of its own, beside the shared child, which lives on."""
    global _child
    path = str(item.path)
    alone = item.get_closest_marker("isolated").kwargs.get("alone", False)
    if not alone and _child is not None and (path not in _child.paths
                                             or _child.peak_mb > RECYCLE_ABOVE_MB):
        close()
    if not alone and _child is None:
        _child = Child(sorted(files | {path}), item.config)
    child = Child([path], item.config) if alone else _child
    try:
        outcome, text = child.run(item.nodeid)
    except RuntimeError as died:  # the child is gone
        outcome, text = "died", str(died)
        if not alone:
            _child = None
    else:
        if alone:
            child.close()
    if outcome == "died":
        pytest.fail(text, pytrace=False)
    if outcome == "failed":
        pytest.fail(f"in the isolated process: {text}", pytrace=False)
    if outcome == "skipped":
        pytest.skip(text)


def close() -> None:
    global _child
    if _child is not None:
        _child.close()
        _child = None
