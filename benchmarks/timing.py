"""Measurement helpers: interleaved repetitions, warm-up excluded, medians and ranges, and
memory-isolated runs in subprocesses."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Variant:
    """Something to time: `run(n)` does n units of work and returns the seconds it took."""

    name: str
    run: Callable[[int], float]
    group: str = ""
    times: list = field(default_factory=list)

    def summary(self, units: int) -> dict:
        per = np.asarray(self.times) / units * 1e3  # ms per unit
        return {"median_ms": float(np.median(per)), "min_ms": float(per.min()),
                "max_ms": float(per.max()), "repetitions": len(per)}


def interleave(variants, units: int, repetitions: int, warmup: int = 1) -> dict:
    """Runs every variant `warmup` times (discarded), then `repetitions` rounds in which each
    variant runs once, in order, so slow drifts of the machine hit all variants alike."""
    for v in variants:
        for _ in range(warmup):
            v.run(units)
    for _ in range(repetitions):
        for v in variants:
            v.times.append(v.run(units))
    return {v.name: v.summary(units) for v in variants}


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def memory_kb() -> dict:
    """Current and peak resident memory of this process (Linux), in KiB."""
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                values[key] = int(value.split()[0])
    return {"rss_kb": values.get("VmRSS"), "peak_rss_kb": values.get("VmHWM")}


def run_isolated(task: str, timeout: float = 1800, **kwargs) -> dict:
    """Runs `worker.py TASK` in a fresh process (so peak memory is the task's own) and returns
    the JSON it prints; {"error": ...} if it fails or times out."""
    command = [sys.executable, os.path.join(HERE, "worker.py"), task, json.dumps(kwargs)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:] or ["failed"]}
    return json.loads(lines[-1])


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            memory = int(f.readline().split()[1]) // (1024 * 1024)
    except OSError:
        memory = None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": memory,
            "python": platform.python_version(), "platform": platform.platform()}


def run_streaming(task: str, timeout: float, **kwargs) -> tuple:
    """Runs `worker.py TASK` in a fresh process and collects every JSON line it prints, also
    when it is stopped after `timeout` seconds. Returns (rows, error or None)."""
    command = [sys.executable, os.path.join(HERE, "worker.py"), task, json.dumps(kwargs)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        output, error = done.stdout, None
        if done.returncode != 0:
            error = ((done.stderr or "").strip().splitlines() or ["failed"])[-1]
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout or ""
        output = output.decode() if isinstance(output, bytes) else output
        error = f"stopped after {timeout:.0f} s"
    rows = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return rows, error
