"""Smoke tests: every example runs end to end for a handful of steps and writes its outputs."""

import http.client
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples")

# The examples train under XLA, whose programs stay in memory until the process exits: their
# tests run isolated (tests/isolation.py); those of the example server do not.


@pytest.fixture(autouse=True)
def examples_on_path():
    sys.path.insert(0, EXAMPLES)
    yield
    sys.path.remove(EXAMPLES)


@pytest.mark.isolated
def test_toy_flow(tmp_path):
    import toy_flow

    nll = toy_flow.main(["--dataset", "corners", "--train_samples", "1280", "--test_samples",
                         "1280", "--epochs", "1", "--output", str(tmp_path)])
    assert 2.0 < nll < 10.0
    assert (tmp_path / "corners_flow_density.png").exists()


@pytest.mark.isolated
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
@pytest.mark.slow  # 45-55 s, most of it two XLA compiles; the point-clouds tutorial page trains
# and evaluates both flows in the default run
def test_point_clouds(tmp_path):
    import point_clouds

    results = point_clouds.main(["--epochs", "1", "--max_steps", "2", "--iwbo_k", "2",
                                 "--flow_steps", "1", "--output", str(tmp_path)])
    assert results["sort_flow"]["exact"] and not results["permute_flow"]["exact"]
    assert (tmp_path / "sort_flow_samples.png").exists()


@pytest.mark.isolated
def test_images(tmp_path):
    import images

    results = images.main(["--epochs", "1", "--max_steps", "2", "--iwbo_k", "2", "--output",
                           str(tmp_path)])
    assert set(results) == {"multiscale_flow", "maxpool_flow"}
    assert (tmp_path / "maxpool_flow_samples.png").exists()


@pytest.mark.isolated
@pytest.mark.slow  # eight models trained and evaluated; each is tested on its own elsewhere
def test_connections(tmp_path):
    import connections

    results = connections.main(["--points_2d", "512", "--epochs_2d", "1", "--epochs_vae", "1",
                                "--iwbo_k", "2", "--output", str(tmp_path)])
    assert set(results["dequantization"]) == {"uniform", "variational"}
    assert (tmp_path / "digits_vae_flow_prior_samples.png").exists()


@pytest.mark.isolated
def test_variational_inference(tmp_path):
    import variational_inference

    results = variational_inference.main(["--steps", "20", "--eval_samples", "1000",
                                          "--output", str(tmp_path)])
    assert results["gap"] > -0.05  # ELBO <= log Z, up to Monte Carlo error
    assert (tmp_path / "vi_banana.png").exists()


@pytest.mark.isolated
def test_neutra(tmp_path):
    import neutra

    results = neutra.main(["--vi_steps", "20", "--chains", "2", "--results", "20", "--burnin",
                           "10", "--output", str(tmp_path)])
    assert set(results) == {"hmc", "neutra_hmc", "ratio"}
    assert (tmp_path / "neutra_banana.png").exists()


@pytest.mark.isolated
@pytest.mark.slow
def test_serving_load_test(tmp_path):
    import serving

    results = serving.main(["--epochs", "1", "--requests", "800", "--output", str(tmp_path)])
    for name in ("abs_flow", "augmented_flow"):
        assert results[name]["requests"] == 800
        assert results[name]["wrong_answers"] == 0
        assert results[name]["max_ms"] < 10_000


@pytest.mark.isolated
@pytest.mark.slow  # seven flows (and six zuko models where zuko is installed)
def test_density_estimation(tmp_path):  # checks the builders, conditional ones included
    import density_estimation

    results = density_estimation.main(["--steps", "80", "--cnf-steps", "40", "--train", "512",
                                       "--test", "256", "--seeds", "0",
                                       "--output", str(tmp_path)])
    assert set(results) == {"two moons", "conditional two moons", "torus", "two moons, CNF"}
    for task, rows in results.items():
        expected = {"torus": {"tfp_survae circular_spline_flow (coupling)",
                              "tfp_survae circular MAF (NCSF's architecture)"},
                    "two moons, CNF": {"tfp_survae continuous_flow"}}.get(
                        task, {"tfp_survae MAF (spline)", "tfp_survae NSF (coupling)"})
        assert expected <= set(rows)
        assert all(np.isfinite(r["test_nll_mean"]) for r in rows.values())


def _snapshot(directory):
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _git_status(path):
    try:
        status = subprocess.run(["git", "status", "--porcelain", "--", str(path)], cwd=path,
                                capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None  # not a git checkout: the byte snapshot below still decides
    return status.stdout


@pytest.mark.isolated
def test_committed_results_change_only_with_update_results(tmp_path, monkeypatch):
    import results_dir
    import variational_inference

    committed = pathlib.Path(EXAMPLES) / "results"
    before, status = _snapshot(committed), _git_status(committed)
    args = ["--steps", "20", "--eval_samples", "1000"]

    # Without output flags the script writes under outputs/ of the working directory.
    monkeypatch.chdir(tmp_path)
    variational_inference.main(args)
    assert (tmp_path / "outputs" / "tfp" / "vi_banana.png").exists()
    assert (tmp_path / "outputs" / "tfp" / "vi_banana.json").exists()

    # An --output inside the committed results is refused before any work.
    with pytest.raises(SystemExit):
        variational_inference.main(args + ["--output", str(committed / "tfp")])
    assert _snapshot(committed) == before and _git_status(committed) == status

    # --update-results writes the committed results (redirected here to a scratch copy).
    monkeypatch.setattr(results_dir, "COMMITTED", str(tmp_path / "committed"))
    variational_inference.main(args + ["--update-results"])
    assert (tmp_path / "committed" / "tfp" / "vi_banana.json").exists()
    with pytest.raises(SystemExit):
        variational_inference.main(args + ["--update-results", "--output", str(tmp_path)])


# The example server over real HTTP: nothing coerced, no request left without an answer.


SERVED_FLOWS = {}  # the flows `flow_servers` serves, by name


@pytest.fixture(scope="module")
def flow_servers(tmp_path_factory):
    """Ports of examples/flow_server.py serving a float flow, an integer flow and a
    conditional flow (`SERVED_FLOWS`)."""
    sys.path.insert(0, EXAMPLES)
    try:
        import serving

        import tfp_survae as ts

        flows = SERVED_FLOWS
        flows["float"] = ts.Flow(ts.StandardHalfNormal([2]), [ts.Abs()])
        flows["integer"] = ts.Flow(ts.StandardUniform([2]), [ts.UniformDequantization(16)])
        flows["conditional"] = ts.Flow(ts.ConditionalNormal(
            [2], ts.MLP([8], 4, output_initializer="glorot_uniform")), [ts.Reverse()],
            condition_shape=[1])
        processes, ports = [], {}
        for name, flow in flows.items():
            path = flow.export(str(tmp_path_factory.mktemp(name)))
            process, ports[name] = serving.start_server(path, "--timeout", "2")
            processes.append(process)
    finally:
        sys.path.remove(EXAMPLES)
    yield ports
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def post_json(port, path, body):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, json.dumps(body))
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def raw_request(port, data: bytes):
    """Sends raw bytes; returns (status or None for a connection closed without an answer,
    the JSON answer or None, seconds until the server answered or closed)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    seconds = time.monotonic() - start
    if not received:
        return None, None, seconds
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body), seconds


@pytest.mark.parametrize("model,x,field", [
    ("integer", [[2.7, 3]], "x[0][0] is float 2.7"),
    ("integer", [[2, True]], "x[0][1] is bool true"),
    ("integer", [["2", 3]], 'x[0][0] is str "2"'),
    ("integer", [2, 3], "x[0] is int 2"),
    ("float", [[0.5, False]], "x[0][1] is bool false"),
    ("float", [[0.5, "0.5"]], 'x[0][1] is str "0.5"'),
    ("float", [[[0.5, 0.5]]], "x[0][0] is list"),
])
def test_flow_server_refuses_values_instead_of_coercing_them(flow_servers, model, x, field):
    status, answer = post_json(flow_servers[model], "/log_prob", {"x": x})
    assert status == 400 and field in answer["error"] and answer["error"].startswith("'x' must")


def test_flow_server_answers_well_typed_values(flow_servers):
    status, answer = post_json(flow_servers["integer"], "/log_prob", {"x": [[2, 3], [15, 0]]})
    assert status == 200
    np.testing.assert_allclose(answer["log_prob"], [2 * -np.log(16.0)] * 2, rtol=1e-5)
    status, answer = post_json(flow_servers["float"], "/log_prob", {"x": [[1, 0.5]]})
    assert status == 200 and len(answer["log_prob"]) == 1  # a JSON integer is a number
    status, answer = post_json(flow_servers["float"], "/sample", {"n": True, "seed": [1, 2]})
    assert status == 400 and "'n' must be an int32 integer; received True" in answer["error"]


def test_flow_server_passes_a_conditional_flow_its_condition(flow_servers):
    port, flow = flow_servers["conditional"], SERVED_FLOWS["conditional"]
    x, c = [[0.5, -1.0], [2.0, 0.25]], [[1.0], [-3.0]]
    status, answer = post_json(port, "/log_prob", {"x": x, "condition": c})
    assert status == 200
    expected = flow.log_prob(np.float32(x), condition=np.float32(c)).numpy()
    np.testing.assert_allclose(answer["log_prob"], expected, rtol=1e-5)
    swapped = post_json(port, "/log_prob", {"x": x, "condition": c[::-1]})[1]["log_prob"]
    assert np.max(np.abs(np.array(swapped) - expected)) > 1e-3  # the condition reaches it
    status, answer = post_json(port, "/sample", {"n": 2, "seed": [1, 2], "condition": c})
    assert status == 200
    np.testing.assert_allclose(answer["x"], flow.sample(2, seed=(1, 2), condition=np.float32(
        c)).numpy(), rtol=1e-4, atol=1e-5)
    for body, message in (({"x": x}, "'condition' is missing"),
                          ({"x": x, "condition": [[1.0]]},
                           "condition must have one row per row of x"),
                          ({"x": x, "condition": [[1.0], ["a"]]},
                           "'condition' must hold numbers")):
        status, answer = post_json(port, "/log_prob", body)
        assert status == 400 and message in answer["error"], answer


def test_flow_server_times_out_a_request_whose_body_never_arrives(flow_servers):
    port = flow_servers["float"]
    status, answer, seconds = raw_request(
        port, b"POST /log_prob HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{\"x\": ")
    assert status == 408 and "did not arrive within 2.0 s" in answer["error"]
    assert 1.5 < seconds < 15
    status, _, seconds = raw_request(port, b"POST /log_prob HTTP/1.1\r\nHost: a\r\n")
    assert status is None and seconds < 15  # headers that never end: the connection closes
    assert post_json(port, "/log_prob", {"x": [[0.5, 0.5]]})[0] == 200


def raw_post(body: bytes, length=None) -> bytes:
    length = len(body) if length is None else length
    return b"POST /log_prob HTTP/1.1\r\nContent-Length: %s\r\n\r\n%s" % (
        str(length).encode(), body)


@pytest.mark.parametrize("request_bytes,message", [
    (raw_post(b'{"x": "\xff\xfe"}'), "not UTF-8"),
    (raw_post(b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"), "nested too deeply"),
    (raw_post(b"{}", "abc"), "'Content-Length' must be a non-negative integer; received 'abc'"),
    (raw_post(b"{}", -5), "'Content-Length' must be a non-negative integer; received '-5'"),
], ids=["invalid_utf8", "nested_100000_deep", "length_abc", "negative_length"])
def test_flow_server_answers_malformed_requests_with_400(flow_servers, request_bytes, message):
    status, answer, _ = raw_request(flow_servers["float"], request_bytes)
    assert status == 400 and message in answer["error"]
    assert post_json(flow_servers["float"], "/log_prob", {"x": [[0.5, 0.5]]})[0] == 200


@pytest.mark.parametrize("argv,message", [
    (["--clients", "0"], "argument --clients: must be at least 1; received 0"),
    (["--requests", "3", "--clients", "4"], "--requests: must be at least --clients (4)"),
    (["--bad_fraction", "1.5"], "argument --bad_fraction: must lie in [0, 1]; received 1.5"),
    (["--max_sample_size", "2"], "argument --max_sample_size: must be at least 4"),
])
def test_serving_refuses_bad_arguments(argv, message, capsys):
    import serving

    with pytest.raises(SystemExit) as exit_info:
        serving.main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_flow_server_refuses_bad_arguments():
    # One process for the three (the server blocks Keras' import, so not this one): each
    # refusal is argparse's exit 2 with a message naming the option.
    script = (
        "import contextlib, io, sys; import flow_server\n"
        "for option, value in (('--timeout', '0'), ('--port', '70000'),\n"
        "                      ('--max_body_bytes', '-1')):\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        try:\n"
        "            flow_server.main(['unused', option, value])\n"
        "            code = 0\n"
        "        except SystemExit as exit_info:\n"
        "            code = exit_info.code\n"
        "    print(option, code, repr(err.getvalue()))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=EXAMPLES,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and len(lines) == 3, result.stderr
    for line, option in zip(lines, ("--timeout", "--port", "--max_body_bytes")):
        name, code, message = line.split(" ", 2)
        assert (name, code) == (option, "2") and f"argument {option}: must" in message, line
