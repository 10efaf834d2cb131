"""tf.distribute: MirroredStrategy on 2 logical CPUs, MultiWorkerMirroredStrategy on 2 loopback
workers, and fault tolerance (a training process killed mid-epoch, then resumed)."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def run_script(name, *args, timeout=300, check=True):
    return subprocess.run([sys.executable, os.path.join(SCRIPTS, name), *map(str, args)],
                          env=ENV, timeout=timeout, check=check, capture_output=True, text=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_mirrored_strategy_matches_one_device(tmp_path):
    out = tmp_path / "mirrored.json"
    run_script("mirrored_fit.py", out)
    result = json.loads(out.read_text())
    assert result["replicas"] == 2
    np.testing.assert_allclose(result["mirrored_fit"], result["single_fit"], rtol=2e-3)
    np.testing.assert_allclose(result["mirrored_loop"], result["single_loop"], rtol=2e-3)
    np.testing.assert_allclose(result["single_loop"], result["single_fit"], rtol=2e-3)
    assert result["halted_losses_are_nan"] == [True, True]
    assert result["halted_weights_unchanged"] and result["halted_iterations"] == 0


@pytest.mark.slow
def test_several_steps_per_execution_under_mirrored_strategy_are_refused_with_the_reason(
        tmp_path):
    out = tmp_path / "steps.json"
    run_script("mirrored_steps.py", out)
    result = json.loads(out.read_text())
    assert result["replicas"] == 2
    assert result["default_steps"] == 1 and np.all(np.isfinite(result["default_fit"]))
    for key in ("explicit_compile", "explicit_fit"):
        assert result[key].startswith("ValueError: "), result[key]
        assert "steps_per_execution must be 1" in result[key], result[key]
        assert "received 4" in result[key] and "keras-team/keras#19246" in result[key]
        assert "distributed_fit" in result[key]
    assert np.all(np.isfinite(result["loop_of_5"]))


@pytest.mark.slow
def test_multi_worker_training_matches_one_device(tmp_path):
    ports = f"{free_port()},{free_port()}"
    outs = [tmp_path / f"worker{i}.json" for i in range(2)]
    workers = [subprocess.Popen([sys.executable, os.path.join(SCRIPTS, "multi_worker.py"), str(i),
                                 ports, str(outs[i])], env=ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for i in range(2)]
    try:
        logs = [w.communicate(timeout=240)[0] for w in workers]
    finally:
        for w in workers:
            w.kill()
    assert all(w.returncode == 0 for w in workers), "\n".join(log[-3000:] for log in logs)
    losses = [json.loads(o.read_text())["loss"] for o in outs]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)

    sys.path.insert(0, SCRIPTS)
    try:
        from distributed_setup import STEPS, dataset_fn, make_flow, make_optimizer

        import tfp_survae as ts

        _, single = ts.training.distributed_fit(make_flow, dataset_fn, steps_per_epoch=STEPS,
                                                epochs=2, make_optimizer=make_optimizer,
                                                verbose=0)
    finally:
        sys.path.remove(SCRIPTS)
    np.testing.assert_allclose(losses[0], single["loss"], rtol=2e-3)


@pytest.mark.slow
def test_training_killed_mid_epoch_resumes_to_the_same_weights(tmp_path):
    reference = tmp_path / "reference.npz"
    run_script("resume_training.py", reference, tmp_path / "backup_reference")
    resumed = tmp_path / "resumed.npz"
    killed = run_script("resume_training.py", resumed, tmp_path / "backup", 2, 4, check=False)
    assert killed.returncode == -9, killed.stdout + killed.stderr  # SIGKILL, mid-epoch 3
    assert not resumed.exists()
    assert (tmp_path / "backup").exists()
    run_script("resume_training.py", resumed, tmp_path / "backup")
    a, b = np.load(reference), np.load(resumed)
    assert len(a.files) == len(b.files) > 10
    for key in a.files:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-6, atol=1e-7, err_msg=key)
