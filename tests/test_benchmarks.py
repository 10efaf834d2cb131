"""The benchmark suite as a smoke test: every section runs at tiny sizes and writes its table."""

import os
import subprocess
import sys
import time

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks")
RUN = os.path.join(BENCHMARKS, "run.py")


@pytest.mark.slow
def test_benchmarks_quick(tmp_path):
    out = tmp_path / "RESULTS.md"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, RUN, "--quick", "--output", str(out)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    for heading in ("1. Abstraction overhead", "2. Against PyTorch", "3. Image scale",
                    "4. IWBO", "5. Cost curves", "6. GPU", "7. Where a training step goes",
                    "8. Against JAX", "9. Evaluation and sampling against JAX"):
        assert f"## {heading}" in text
    assert "largest difference" in text and "Machine:" in text
    gpu = text[text.index("## 6. GPU"):text.index("## 7.")]
    assert "| multiscale_flow | float32 | Keras' loop, no XLA | " in gpu  # a timed image row
    assert "| coupling flow | JAX + optax, 32 steps per lax.scan |" in gpu


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
