"""The benchmark suite as a smoke test: every section runs at tiny sizes and writes its table."""

import os
import subprocess
import sys

import pytest

RUN = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks", "run.py")


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
