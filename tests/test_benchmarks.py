"""The benchmark suite as a smoke test: every section runs at tiny sizes and writes its table."""

import importlib.util
import os
import subprocess
import sys
import time

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks")
RUN = os.path.join(BENCHMARKS, "run.py")


# Each section of `run.py --quick` in a process of its own, so that a section that stalls is
# named and the sections spread over the test workers.
QUICK_SECTIONS = {
    "overhead": "1. Abstraction overhead", "torch": "2. Against PyTorch", "image": "3. Image scale",
    "iwbo": "4. IWBO", "cost": "5. Cost curves", "gpu": "6. GPU",
    "profile": "7. Where a training step goes", "jax": "8. Against JAX",
    "memory": "12. Fit from memory", "throughput": "9. Evaluation and sampling against JAX"}


def test_every_section_has_a_smoke_run(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    import run

    assert set(QUICK_SECTIONS) == set(run.SECTIONS)


@pytest.mark.slow
@pytest.mark.parametrize("section", list(QUICK_SECTIONS))
def test_benchmark_section_quick(section, tmp_path):
    out = tmp_path / "RESULTS.md"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, RUN, "--quick", "--sections", section,
                           "--output", str(out)], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    assert f"## {QUICK_SECTIONS[section]}" in text and "Machine:" in text
    if section == "overhead":
        assert "largest difference" in text
    if section == "gpu":
        assert "| multiscale_flow | float32 | Keras' loop, no XLA | " in text  # a timed image row
        if importlib.util.find_spec("jax") and importlib.util.find_spec("optax"):
            assert "| coupling flow | JAX + optax, 32 steps per lax.scan |" in text
        else:  # CI installs neither: the section says so instead of a JAX row
            assert "JAX rows not run: JAX here: not installed" in text
    if section == "memory" and importlib.util.find_spec("jax") and importlib.util.find_spec(
            "optax"):  # both dot libraries, the second in a worker process that ran
        for dots in ("default", "YNNPACK fusions"):
            assert f"| coupling flow | {dots} | the compiled program alone" in text
        assert "failed:" not in text


@pytest.fixture
def gpu_module(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    import gpu

    return gpu


@pytest.mark.parametrize("name, key", [
    ("NVIDIA H100 80GB HBM3", "H100"), ("NVIDIA H100 PCIe", "H100 PCIe"),
    ("NVIDIA H200", "H200"), ("NVIDIA A100-SXM4-80GB", "A100"), ("NVIDIA L4", "L4"),
    ("Tesla T4", "T4"), ("Intel(R) Xeon(R) Processor", None)])
def test_gpu_peaks_by_device_name(gpu_module, name, key):
    found, peaks = gpu_module.peak_for(name)
    assert found == key
    assert (peaks is None) == (key is None)


@pytest.mark.slow
def test_gpu_image_jobs_stop_at_the_deadline(gpu_module):
    rows = []
    gpu_module.image_rows(True, deadline=time.perf_counter(), emit=rows.append)
    jobs = gpu_module.image_jobs(True)
    assert len(rows) == len(jobs)
    assert "ms_per_step" in rows[0] and rows[0]["ms_per_step"] > 0  # the first always runs
    assert all(r.get("skipped") == "time budget" for r in rows[1:])


def test_a_run_of_some_sections_keeps_the_others(monkeypatch):
    """`run.py --sections jax` replaces section 8 of an existing RESULTS.md and keeps every
    other section, the hand-written ones among them, and the header."""
    monkeypatch.syspath_prepend(BENCHMARKS)
    import run

    existing = ("# Benchmark results\n\nMachine: x.\n\n## 1. One\n\nkept 1\n\n"
                "## 8. Against JAX\n\nold 8\n\n## 10. Notes\n\nkept 10\n")
    text = run.merge_sections(existing, ["## 8. Against JAX: new\n\nnew 8"],
                              "python benchmarks/run.py --sections jax",
                              {"cpu": "a CPU", "cores": 2})
    assert text.startswith("# Benchmark results\n\nMachine: x.\n\n## 1. One\n\nkept 1\n\n"
                           "## 8. Against JAX: new\n\nRun by `python benchmarks/run.py "
                           "--sections jax` on ")
    assert "old 8" not in text and "new 8" in text
    assert text.index("new 8") < text.index("## 10. Notes\n\nkept 10")
    added = run.merge_sections(existing, ["## 9. Throughput\n\nnew 9"], "c", {"cpu": "a",
                                                                             "cores": 2})
    assert added.index("old 8") < added.index("new 9") < added.index("kept 10")
