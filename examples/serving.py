"""Export a trained flow, serve it over HTTP, and load-test the server.

Trains the paper's AbsFlow-style model briefly on the corners data (an `Abs`, then couplings:
a flow whose data and latent differ) and a lower-bound augmented flow, exports both, starts
`examples/flow_server.py` (plain TensorFlow and the standard library, in its own process) on a
loopback port, and runs a load test: concurrent clients send a mix of good requests (log_prob,
sample, iwbo) and bad ones (wrong shapes, bad seeds, n beyond the export's limit, malformed
JSON). Every good answer is checked against the flow computed here; every bad request must get
status 400. Prints requests/s, p50/p99 latency and the count of wrong answers (must be 0).

    python examples/serving.py --update-results
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow_probability as tfp

import tfp_survae as ts
from results_dir import add_output_arguments, output_dir

HERE = os.path.dirname(os.path.abspath(__file__))


def train_flows(epochs: int):
    keras.utils.set_random_seed(0)
    data = ts.data.toy_dataset("corners", 12_800, batch_size=128, seed=0)
    exact = ts.Flow(ts.StandardNormal([2]), [
        ts.Abs(), ts.BijectorTransform(tfp.bijectors.Softplus()),  # |x| onto R
        ts.AffineCoupling(ts.MLP([64, 64], 2)), ts.Reverse(),
        ts.AffineCoupling(ts.MLP([64, 64], 2)),
    ])
    bound = ts.Flow(ts.StandardNormal([4]), [
        ts.Augment(2, encoder=ts.ConditionalNormal([2], ts.MLP([32], 4))),
        ts.AffineCoupling(ts.MLP([64, 64], 4)), ts.Reverse(),
        ts.AffineCoupling(ts.MLP([64, 64], 4)),
    ])
    for flow in (exact, bound):
        flow.compile(keras.optimizers.Adam(1e-3))
        flow.fit(data, epochs=epochs, verbose=0)
    return exact, bound


def start_server(model_dir: str, *options: str):
    """Starts examples/flow_server.py on a free loopback port with `options`; returns (process,
    port)."""
    process = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "flow_server.py"), model_dir, "--port", "0",
         *options],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    line = process.stdout.readline()
    if "serving" not in line:
        process.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    return process, int(line.rsplit(":", 1)[1])


def post(connection, path, body):
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    connection.request("POST", path, payload, {"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def request_pool(flow, rng, max_sample_size, num=32):
    """Good requests with their expected answers, and bad requests."""
    good = []
    for i in range(num):
        x = ts.data.sample_toy("corners", 8, seed=100 + i).astype("float32")
        seed = [int(rng.randint(-(2**31), 2**31 - 1)), int(rng.randint(-(2**31), 2**31 - 1))]
        good.append(("/log_prob", {"x": x.tolist()},
                     ("log_prob", flow.log_prob(x, seed=ts.serving.DEFAULT_SEED).numpy())))
        good.append(("/sample", {"n": 4, "seed": seed},
                     ("x", flow.sample(4, seed=tuple(seed)).numpy())))
        if not flow.is_exact:
            good.append(("/iwbo", {"x": x.tolist(), "k": 5, "seed": seed},
                         ("iwbo", ts.evaluation.iwbo(flow, x, 5, seed=tuple(seed),
                                                     batch_k=100).numpy())))
    bad = [
        ("/log_prob", {"x": [[0.5, 0.5, 0.5]]}),
        ("/log_prob", {"x": [0.5, 0.5]}),
        ("/log_prob", {"x": "zeros"}),
        ("/log_prob", b"{not json"),
        ("/sample", {"n": 4, "seed": [1, 2, 3]}),
        ("/sample", {"n": 4, "seed": [1.5, 2]}),
        ("/sample", {"n": max_sample_size + 1, "seed": [1, 2]}),
        ("/sample", {"n": -1, "seed": [1, 2]}),
        ("/sample", {"n": 4, "seed": [2**31, 0]}),
    ]
    return good, bad


def load_test(port, good, bad, *, clients: int, requests: int, bad_fraction: float):
    """Runs `requests` requests from `clients` threads (one connection each); returns stats."""
    per_client = requests // clients

    def client(worker):
        rng = np.random.RandomState(worker)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies, wrong = [], 0
        for _ in range(per_client):
            is_bad = rng.rand() < bad_fraction
            start = time.perf_counter()
            if is_bad:
                path, body = bad[rng.randint(len(bad))]
                status, answer = post(connection, path, body)
                wrong += status != 400 or "error" not in answer
            else:
                path, body, (key, expected) = good[rng.randint(len(good))]
                status, answer = post(connection, path, body)
                wrong += status != 200 or not np.allclose(
                    np.asarray(answer.get(key, np.nan)), expected, rtol=1e-5, atol=1e-5)
            latencies.append(time.perf_counter() - start)
        connection.close()
        return latencies, wrong

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        outcomes = list(pool.map(client, range(clients)))
    seconds = time.perf_counter() - start
    latencies = np.concatenate([o[0] for o in outcomes]) * 1e3
    return {"requests": int(latencies.size), "clients": clients, "seconds": seconds,
            "requests_per_second": latencies.size / seconds,
            "p50_ms": float(np.percentile(latencies, 50)),
            "p99_ms": float(np.percentile(latencies, 99)),
            "max_ms": float(latencies.max()),
            "wrong_answers": int(sum(o[1] for o in outcomes))}


def _at_least(minimum: int):
    def parse(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}; received {text}")
        return value
    return parse


def _fraction(text):
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1]; received {text}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=_at_least(1), default=2)
    parser.add_argument("--clients", type=_at_least(1), default=8)
    parser.add_argument("--requests", type=_at_least(1), default=4000,
                        help="in all, at least --clients (each client sends requests/clients)")
    parser.add_argument("--bad_fraction", type=_fraction, default=0.25)
    parser.add_argument("--max_sample_size", type=_at_least(4), default=1000,
                        help="the export's limit (the good requests sample 4)")
    add_output_arguments(parser, "serving")
    args = parser.parse_args(argv)
    if args.requests < args.clients:
        parser.error(f"argument --requests: must be at least --clients ({args.clients}); "
                     f"received {args.requests}")
    args.output = output_dir(parser, args, "serving")

    exact, bound = train_flows(args.epochs)
    rng = np.random.RandomState(0)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, flow in [("abs_flow", exact), ("augmented_flow", bound)]:
            path = flow.export(os.path.join(tmp, name), max_sample_size=args.max_sample_size)
            good, bad = request_pool(flow, rng, args.max_sample_size)
            process, port = start_server(path)
            try:
                results[name] = load_test(port, good, bad, clients=args.clients,
                                          requests=args.requests,
                                          bad_fraction=args.bad_fraction)
            finally:
                process.terminate()
                process.wait(timeout=30)
            r = results[name]
            print(f"{name:>15}: {r['requests']} requests from {r['clients']} clients, "
                  f"{r['requests_per_second']:.0f} requests/s, p50 {r['p50_ms']:.1f} ms, "
                  f"p99 {r['p99_ms']:.1f} ms, wrong answers {r['wrong_answers']}")
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
