"""A small HTTP server for an exported flow: plain TensorFlow and the standard library only.

Keras, TensorFlow Probability and tfp_survae are made unimportable before TensorFlow loads, so
this is what a serving machine needs: `pip install tensorflow` and the SavedModel directory.

    python examples/flow_server.py MODEL_DIR --port 8500

Requests are JSON POSTs; answers are JSON:

* `/log_prob`  {"x": [[...], ...]}                    -> {"log_prob": [...]}
* `/sample`    {"n": 16, "seed": [1, 2]}              -> {"x": [[...], ...]}
* `/iwbo`      {"x": [...], "k": 100, "seed": [1, 2]} -> {"iwbo": [...]}  (lower-bound flows)

A conditional flow's requests also carry "condition": one row per row of x, or n rows.

A bad request (a body that is not UTF-8 JSON, JSON nested deeper than the data, a bad
Content-Length, a value of the wrong type: a float, boolean or string where the model takes
integers, a boolean or string where it takes numbers; a wrong shape, a seed that is not a pair
of int32 values, n or k out of range) gets status 400 and {"error": "..."} naming the field; a
body larger than --max_body_bytes gets 413, and a request that does not arrive within
--timeout seconds gets 408 (or, while its headers are still coming, a closed connection). The
SavedModel's own in-graph checks make the same calls safe from any number of threads.
"""

from __future__ import annotations

import sys

for _blocked in ("keras", "tf_keras", "tensorflow_probability", "tfp_survae"):
    sys.modules[_blocked] = None  # the server needs plain TensorFlow only

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

INT32 = (-(2**31), 2**31 - 1)
DEFAULT_TIMEOUT = 10.0  # seconds a request may take to arrive
DEFAULT_MAX_BODY_BYTES = 64 * 2**20


class BadRequest(ValueError):
    """A request to refuse: `status` (400 by default) and a message naming the field."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(body, name):
    value = body.get(name)
    if not _is_int(value) or not INT32[0] <= value <= INT32[1]:
        raise BadRequest(f"'{name}' must be an int32 integer; received {value!r}")
    return tf.constant(value, tf.int32)


def _seed(body):
    seed = body.get("seed")
    if not (isinstance(seed, list) and len(seed) == 2 and all(
            _is_int(s) and INT32[0] <= s <= INT32[1] for s in seed)):
        raise BadRequest(f"'seed' must be a pair of int32 integers; received {seed!r}")
    return tf.constant(seed, tf.int32)


def _array(body, name, dtype, rank=None):
    """body[name] as a tensor of `dtype`: a nested list of depth `rank` (the model's; None: the
    depth of its first elements, the graph checking the shape), whose elements are JSON
    integers for an integer model and numbers for a float one; nothing is coerced."""
    if name not in body:
        raise BadRequest(f"'{name}' is missing")
    if rank is None:
        rank, first = 0, body[name]
        while isinstance(first, list) and first and rank < 64:
            rank, first = rank + 1, first[0]
    integers = dtype.is_integer
    expected = "integers" if integers else "numbers"
    stack = [(body[name], name, 0)]
    while stack:  # a loop, not recursion: the depth is the client's choice
        value, where, depth = stack.pop()
        if depth < rank:
            if not isinstance(value, list):
                raise BadRequest(f"'{name}' must be a nested list of {expected} of depth "
                                 f"{rank}; {where} is {type(value).__name__} {_short(value)}")
            stack.extend((value[i], f"{where}[{i}]", depth + 1)  # the first on top
                         for i in reversed(range(len(value))))
        elif not (_is_int(value) or (not integers and isinstance(value, float))):
            raise BadRequest(f"'{name}' must hold {expected} (the model takes {dtype.name}); "
                             f"{where} is {type(value).__name__} {_short(value)}")
    try:
        array = np.asarray(body[name], dtype=dtype.as_numpy_dtype)
    except (TypeError, ValueError, OverflowError) as error:
        raise BadRequest(f"'{name}' must be a rectangular nested list of {expected} that fit "
                         f"{dtype.name}: {error}") from None
    return tf.constant(array)


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


class FlowService:
    """The endpoints of one SavedModel, turned into JSON handlers."""

    def __init__(self, model_dir: str):
        self.model = tf.saved_model.load(model_dir)
        inputs = self.model.signatures["log_prob"].structured_input_signature[1]
        self.x_dtype = inputs["x"].dtype
        # a conditional flow's endpoints take a condition last
        self.condition_dtype = inputs["condition"].dtype if "condition" in inputs else None
        # log_prob takes any shape (and checks it in the graph); sample's output has x's rank
        sample_spec, = self.model.signatures["sample"].structured_outputs.values()
        self.x_rank = sample_spec.shape.rank
        self.routes = {"/log_prob": self.log_prob, "/sample": self.sample}
        if "iwbo" in self.model.signatures:
            self.routes["/iwbo"] = self.iwbo

    def _condition(self, body):
        """[the request's condition] for a conditional flow's endpoints, else []."""
        if self.condition_dtype is None:
            return []
        return [_array(body, "condition", self.condition_dtype)]

    def log_prob(self, body):
        x = _array(body, "x", self.x_dtype, self.x_rank)
        return {"log_prob": self.model.log_prob(x, *self._condition(body)).numpy().tolist()}

    def sample(self, body):
        x = self.model.sample(_int(body, "n"), _seed(body), *self._condition(body))
        return {"x": x.numpy().tolist()}

    def iwbo(self, body):
        value = self.model.iwbo(_array(body, "x", self.x_dtype, self.x_rank), _int(body, "k"),
                                _seed(body), *self._condition(body))
        return {"iwbo": value.numpy().tolist()}

    def handle(self, path: str, raw: bytes):
        """Returns (status, answer)."""
        route = self.routes.get(path)
        if route is None:
            return 404, {"error": f"unknown endpoint {path}; try {sorted(self.routes)}"}
        try:
            body = json.loads(raw.decode("utf-8"))
            if not isinstance(body, dict):
                raise BadRequest("the request body must be a JSON object")
            return 200, route(body)
        except BadRequest as error:
            return error.status, {"error": str(error)}
        except UnicodeDecodeError as error:
            return 400, {"error": f"the request body is not UTF-8: {error}"}
        except json.JSONDecodeError as error:
            return 400, {"error": f"the request body is not JSON: {error}"}
        except RecursionError:
            return 400, {"error": "the request body's JSON is nested too deeply"}
        except tf.errors.InvalidArgumentError as error:
            return 400, {"error": error.message.strip().splitlines()[-1][:500]
                         if "[tfp_survae]" not in error.message
                         else error.message[error.message.index("[tfp_survae]"):].split("\n")[0]}


def _content_length(headers, max_body_bytes: int) -> int:
    text = headers.get("Content-Length")
    if text is None:
        raise BadRequest("a POST needs a Content-Length header", 411)
    if not text.strip().isdigit():
        raise BadRequest(f"'Content-Length' must be a non-negative integer; received {text!r}")
    length = int(text)
    if length > max_body_bytes:
        raise BadRequest(f"the body ({length} bytes) exceeds the server's limit of "
                         f"{max_body_bytes} bytes", 413)
    return length


def make_server(model_dir: str, host: str = "127.0.0.1", port: int = 8500, *,
                timeout: float = DEFAULT_TIMEOUT, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES):
    """A threading HTTP server for the SavedModel in `model_dir`; each connection may wait
    `timeout` seconds for the next part of a request, and a body is at most `max_body_bytes`."""
    service = FlowService(model_dir)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def setup(self):
            self.timeout = timeout  # the socket's timeout, for the headers and the body
            super().setup()

        def do_POST(self):  # noqa: N802 (the standard library's name)
            try:
                raw = self.rfile.read(_content_length(self.headers, max_body_bytes))
                status, answer = service.handle(self.path, raw)
            except BadRequest as error:
                status, answer = error.status, {"error": str(error)}
            except TimeoutError:
                status, answer = 408, {"error": f"the request body did not arrive within "
                                                f"{timeout} s (is Content-Length right?)"}
            except Exception as error:  # an answer, whatever failed
                status, answer = 500, {"error": f"{type(error).__name__}: {error}"[:500]}
            if status >= 400:
                self.close_connection = True  # the rest of the stream cannot be trusted
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def _positive(kind):
    def parse(text):
        value = kind(text)
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be a positive number; received {text}")
        return value
    return parse


def _port(text):
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must lie in [0, 65535]; received {text}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_port, default=8500, help="0 picks a free port")
    parser.add_argument("--timeout", type=_positive(float), default=DEFAULT_TIMEOUT,
                        help="seconds a request may take to arrive")
    parser.add_argument("--max_body_bytes", type=_positive(int), default=DEFAULT_MAX_BODY_BYTES)
    args = parser.parse_args(argv)
    server = make_server(args.model_dir, args.host, args.port, timeout=args.timeout,
                         max_body_bytes=args.max_body_bytes)
    print(f"serving {args.model_dir} on http://{args.host}:{server.server_address[1]}",
          flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
