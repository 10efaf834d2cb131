"""A small HTTP server for an exported flow: plain TensorFlow and the standard library only.

Keras, TensorFlow Probability and tfp_survae are made unimportable before TensorFlow loads, so
this is what a serving machine needs: `pip install tensorflow` and the SavedModel directory.

    python examples/flow_server.py MODEL_DIR --port 8500

Requests are JSON POSTs; answers are JSON:

* `/log_prob`  {"x": [[...], ...]}                    -> {"log_prob": [...]}
* `/sample`    {"n": 16, "seed": [1, 2]}              -> {"x": [[...], ...]}
* `/iwbo`      {"x": [...], "k": 100, "seed": [1, 2]} -> {"iwbo": [...]}  (lower-bound flows)

A bad request (malformed JSON, a wrong shape or type, a seed that is not a pair of int32
values, n or k out of range) gets status 400 and {"error": "..."} naming the argument; the
SavedModel's own in-graph checks make the same calls safe from any number of threads.
"""

from __future__ import annotations

import sys

for _blocked in ("keras", "tf_keras", "tensorflow_probability", "tfp_survae"):
    sys.modules[_blocked] = None  # the server needs plain TensorFlow only

import argparse  # noqa: E402
import json  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

INT32 = (-(2**31), 2**31 - 1)


class BadRequest(ValueError):
    pass


def _int(body, name):
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not INT32[0] <= value <= INT32[1]:
        raise BadRequest(f"'{name}' must be an int32 integer; received {value!r}")
    return tf.constant(value, tf.int32)


def _seed(body):
    seed = body.get("seed")
    if not (isinstance(seed, list) and len(seed) == 2 and all(
            isinstance(s, int) and not isinstance(s, bool) and INT32[0] <= s <= INT32[1]
            for s in seed)):
        raise BadRequest(f"'seed' must be a pair of int32 integers; received {seed!r}")
    return tf.constant(seed, tf.int32)


def _data(body, dtype):
    if "x" not in body:
        raise BadRequest("'x' is missing")
    try:
        array = np.asarray(body["x"], dtype=dtype.as_numpy_dtype)
    except (TypeError, ValueError, OverflowError) as error:
        raise BadRequest(f"'x' must be a nested list of numbers: {error}") from None
    return tf.constant(array)


class FlowService:
    """The endpoints of one SavedModel, turned into JSON handlers."""

    def __init__(self, model_dir: str):
        self.model = tf.saved_model.load(model_dir)
        self.x_dtype = self.model.signatures["log_prob"].structured_input_signature[1]["x"].dtype
        self.routes = {"/log_prob": self.log_prob, "/sample": self.sample}
        if "iwbo" in self.model.signatures:
            self.routes["/iwbo"] = self.iwbo

    def log_prob(self, body):
        return {"log_prob": self.model.log_prob(_data(body, self.x_dtype)).numpy().tolist()}

    def sample(self, body):
        return {"x": self.model.sample(_int(body, "n"), _seed(body)).numpy().tolist()}

    def iwbo(self, body):
        value = self.model.iwbo(_data(body, self.x_dtype), _int(body, "k"), _seed(body))
        return {"iwbo": value.numpy().tolist()}

    def handle(self, path: str, raw: bytes):
        """Returns (status, answer)."""
        route = self.routes.get(path)
        if route is None:
            return 404, {"error": f"unknown endpoint {path}; try {sorted(self.routes)}"}
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise BadRequest("the request body must be a JSON object")
            return 200, route(body)
        except (BadRequest, json.JSONDecodeError) as error:
            return 400, {"error": str(error)}
        except tf.errors.InvalidArgumentError as error:
            return 400, {"error": error.message.strip().splitlines()[-1][:500]
                         if "[tfp_survae]" not in error.message
                         else error.message[error.message.index("[tfp_survae]"):].split("\n")[0]}


def make_server(model_dir: str, host: str = "127.0.0.1", port: int = 8500):
    service = FlowService(model_dir)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def do_POST(self):  # noqa: N802 (the standard library's name)
            length = int(self.headers.get("Content-Length") or 0)
            status, answer = service.handle(self.path, self.rfile.read(length))
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8500)
    args = parser.parse_args(argv)
    server = make_server(args.model_dir, args.host, args.port)
    print(f"serving {args.model_dir} on http://{args.host}:{server.server_address[1]}",
          flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
