"""The package's shape: no import circles, an explicit public surface, and the rules every
transform follows (a conformance case, and for non-bijections a ground-truth test)."""

import ast
import glob
import os

import tfp_survae as ts

PACKAGE = os.path.dirname(ts.__file__)
TESTS = os.path.dirname(__file__)


def module_name(path):
    relative = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].replace(os.sep, ".")
    return relative[: -len(".__init__")] if relative.endswith(".__init__") else relative


def imports(path):
    """tfp_survae modules a module imports, at module level or inside a function (a lazy import
    hides a circle; it does not remove it)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("tfp_survae")}
        elif isinstance(node, ast.ImportFrom) and node.module and \
                node.module.startswith("tfp_survae"):
            found.add(node.module)
            for alias in node.names:  # `from tfp_survae import _utils` imports a module
                candidate = f"{node.module}.{alias.name}"
                if os.path.exists(os.path.join(os.path.dirname(PACKAGE),
                                               *candidate.split(".")) + ".py") or \
                        os.path.isdir(os.path.join(os.path.dirname(PACKAGE),
                                                   *candidate.split("."))):
                    found.add(candidate)
    return found


def import_graph():
    graph = {}
    for path in glob.glob(os.path.join(PACKAGE, "**", "*.py"), recursive=True):
        graph[module_name(path)] = imports(path)
    # Importing a module runs its packages' __init__ first (except the importer's own
    # packages, which are already being imported).
    for name, targets in graph.items():
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        for target in list(targets):
            parts = target.split(".")
            targets |= {".".join(parts[:i]) for i in range(2, len(parts))}
        targets -= own | {name}
    return graph


def find_cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target == "tfp_survae" or target not in graph:
                continue  # the top-level package imports everything: it is the root
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_import_graph_has_no_circle():
    graph = import_graph()
    assert "tfp_survae.flow" in graph and "tfp_survae.transformed_distribution" in graph
    cycle = find_cycle(graph)
    assert cycle is None, f"import circle: {' -> '.join(cycle)}"


def test_the_circle_finder_finds_circles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_every_public_name_is_listed_explicitly():
    source = open(os.path.join(PACKAGE, "__init__.py"), encoding="utf-8").read()
    for name in ts.__all__:
        assert getattr(ts, name) is not None
        assert source.count(name) >= 2, f"{name} is not imported by name in __init__.py"
    assert "import *" not in source


def public_transforms():
    found = [getattr(ts.transforms, name) for name in ts.transforms.__all__]
    return [t for t in found if isinstance(t, type) and issubclass(t, ts.Transform)
            and t not in (ts.Transform, ts.Bijection, ts.Surjection, ts.StochasticTransform)]


def test_every_non_bijective_transform_has_a_ground_truth_test():
    sources = "".join(open(p, encoding="utf-8").read()
                      for p in glob.glob(os.path.join(TESTS, "test_ground_truth_*.py")))
    missing = [t.__name__ for t in public_transforms()
               if not t.bijective and t is not ts.Sequential
               and f"ts.{t.__name__}(" not in sources]
    assert not missing, f"no ground-truth test (tests/test_ground_truth_*.py) for {missing}"
