"""Smoke tests: every example runs end to end for a handful of steps and writes its outputs."""

import json
import os
import sys

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples")

# Every example trains under XLA, whose programs stay in memory until the process exits.
pytestmark = pytest.mark.isolated


@pytest.fixture(autouse=True)
def examples_on_path():
    sys.path.insert(0, EXAMPLES)
    yield
    sys.path.remove(EXAMPLES)


def test_toy_flow(tmp_path):
    import toy_flow

    nll = toy_flow.main(["--dataset", "corners", "--train_samples", "1280", "--test_samples",
                         "1280", "--epochs", "1", "--output", str(tmp_path)])
    assert 2.0 < nll < 10.0
    assert (tmp_path / "corners_flow_density.png").exists()


def test_symmetric_2d(tmp_path):
    import symmetric_2d

    results = symmetric_2d.main(["--datasets", "checkerboard", "eight_gaussians", "--epochs", "1",
                                 "--train_samples", "1280", "--test_samples", "1280",
                                 "--output", str(tmp_path)])
    assert set(results) == {"checkerboard", "eight_gaussians"}
    assert results["checkerboard"]["abs_flow"]["parameters"] == 20801  # a quarter of 82,808
    assert results["eight_gaussians"]["flow"]["parameters"] == 82808
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["paper"]["corners"] == [3.19, 3.03]
    assert (tmp_path / "checkerboard_abs_flow.png").exists()


@pytest.mark.isolated(alone=True)  # grows a process by 1.2 GB
def test_point_clouds(tmp_path):
    import point_clouds

    results = point_clouds.main(["--epochs", "1", "--max_steps", "2", "--iwbo_k", "2",
                                 "--flow_steps", "1", "--output", str(tmp_path)])
    assert results["sort_flow"]["exact"] and not results["permute_flow"]["exact"]
    assert (tmp_path / "sort_flow_samples.png").exists()


def test_images(tmp_path):
    import images

    results = images.main(["--epochs", "1", "--max_steps", "2", "--iwbo_k", "2", "--output",
                           str(tmp_path)])
    assert set(results) == {"multiscale_flow", "maxpool_flow"}
    assert (tmp_path / "maxpool_flow_samples.png").exists()


@pytest.mark.slow  # eight models trained and evaluated; each is tested on its own elsewhere
def test_connections(tmp_path):
    import connections

    results = connections.main(["--points_2d", "512", "--epochs_2d", "1", "--epochs_vae", "1",
                                "--iwbo_k", "2", "--output", str(tmp_path)])
    assert set(results["dequantization"]) == {"uniform", "variational"}
    assert (tmp_path / "digits_vae_flow_prior_samples.png").exists()


def test_variational_inference(tmp_path):
    import variational_inference

    results = variational_inference.main(["--steps", "20", "--eval_samples", "1000",
                                          "--output", str(tmp_path)])
    assert results["gap"] > -0.05  # ELBO <= log Z, up to Monte Carlo error
    assert (tmp_path / "vi_banana.png").exists()


def test_neutra(tmp_path):
    import neutra

    results = neutra.main(["--vi_steps", "20", "--chains", "2", "--results", "20", "--burnin",
                           "10", "--output", str(tmp_path)])
    assert set(results) == {"hmc", "neutra_hmc", "ratio"}
    assert (tmp_path / "neutra_banana.png").exists()


@pytest.mark.slow
def test_serving_load_test(tmp_path):
    import serving

    results = serving.main(["--epochs", "1", "--requests", "800", "--output", str(tmp_path)])
    for name in ("abs_flow", "augmented_flow"):
        assert results[name]["requests"] == 800
        assert results[name]["wrong_answers"] == 0
        assert results[name]["max_ms"] < 10_000


@pytest.mark.slow  # six flows and four zuko models trained; test_splines_autoregressive
def test_density_estimation(tmp_path):  # checks the builders, conditional ones included
    import density_estimation

    results = density_estimation.main(["--steps", "80", "--train", "512", "--test", "256",
                                       "--seeds", "0", "--output", str(tmp_path)])
    assert set(results) == {"two moons", "conditional two moons"}
    for rows in results.values():
        assert {"tfp_survae MAF (spline)", "tfp_survae NSF (coupling)"} <= set(rows)
        assert all(np.isfinite(r["test_nll_mean"]) for r in rows.values())
