"""The package's shape: no import circles, nothing importing back up its layers, one export
list built from the families', complete annotations on the public API, and the rules every
transform follows (a conformance case, and for non-bijections a declared, exercised ground-truth
test)."""

import ast
import glob
import importlib
import inspect
import os

import pytest

from conformance_cases import public_transforms
from helpers import GROUND_TRUTH

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


# The layers of the package, lowest first: a module imports only from its own layer or below.
LAYERS = [
    ("tfp_survae._types", "tfp_survae._checks", "tfp_survae._seeds", "tfp_survae._state",
     "tfp_survae._tensors",
     "tfp_survae._variables", "tfp_survae._serialization", "tfp_survae._networks",
     "tfp_survae._discrete",
     "tfp_survae.nn", "tfp_survae.data", "tfp_survae.plotting"),
    ("tfp_survae.distributions",),
    ("tfp_survae.transforms",),
    ("tfp_survae.flow_bijector", "tfp_survae.transformed_distribution",
     "tfp_survae.evaluation", "tfp_survae.serving", "tfp_survae.training"),
    ("tfp_survae.flow",),
    ("tfp_survae.conditional_flow",),
    ("tfp_survae.architectures",),
    ("tfp_survae.extend", "tfp_survae._conformance"),
]


def layer_of(module):
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def upward_imports(graph):
    return sorted(
        (name, target) for name, targets in graph.items() for target in targets
        if name != "tfp_survae" and target != "tfp_survae"
        and layer_of(target) > layer_of(name)
    )


def test_every_module_has_a_layer_and_nothing_imports_back_up():
    graph = import_graph()
    assert [m for m in graph if m != "tfp_survae" and layer_of(m) is None] == []
    assert upward_imports(graph) == []


def test_the_layer_rule_finds_an_upward_import():
    assert upward_imports({"tfp_survae.transforms.base": {"tfp_survae.flow"},
                           "tfp_survae.flow": set()}) == [
        ("tfp_survae.transforms.base", "tfp_survae.flow")]


def exported_names(path):
    """The names an `__init__.py` exports, by parsing it: its `__all__` literal, and every
    `__all__ += module.__all__` of a module it star-imports. Returns (names, bound) with bound
    the names its import statements bind."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    package = module_name(path)
    names, bound, star = [], set(), set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    star.add(node.module)
                else:
                    bound.add(alias.asname or alias.name)
        elif isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "__all__" for t in node.targets):
            names += ast.literal_eval(node.value)
        elif isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "__all__":
            names += ast.literal_eval(node.value)
        elif isinstance(node, ast.AugAssign) and getattr(node.target, "id", None) == "__all__":
            if isinstance(node.value, ast.Attribute):  # __all__ += family.__all__
                family = f"{package}.{node.value.value.id}"
                assert family in star, f"{path}: __all__ += {family}.__all__ without a star import"
                family_path = os.path.join(os.path.dirname(PACKAGE), *family.split("."))
                family_names, _ = exported_names(
                    os.path.join(family_path, "__init__.py") if os.path.isdir(family_path)
                    else family_path + ".py")
                names += family_names
                bound |= set(family_names)
            else:
                names += ast.literal_eval(node.value)
    return names, bound


def init_files():
    return sorted(glob.glob(os.path.join(PACKAGE, "**", "__init__.py"), recursive=True))


def test_every_export_list_is_bound_by_name_and_lists_each_name_once():
    for path in init_files():
        module = importlib.import_module(module_name(path))
        names, bound = exported_names(path)
        assert names == list(module.__all__), f"{path}: __all__ is built in a way the parser misses"
        duplicated = sorted({n for n in names if names.count(n) > 1})
        assert not duplicated, f"{path}: {duplicated} listed twice"
        lazy = {"plotting"} | set(getattr(module, "_CALLBACKS", ()))  # loaded on first use
        unbound = [n for n in names if n not in bound and n not in lazy
                   and not os.path.exists(os.path.join(os.path.dirname(path), n))
                   and not os.path.exists(os.path.join(os.path.dirname(path), n + ".py"))]
        assert not unbound, f"{path}: {unbound} are in __all__ but not imported by name"
        for name in names:
            assert getattr(module, name) is not None


def test_the_top_level_exports_every_transform_and_distribution():
    assert set(ts.transforms.__all__) <= set(ts.__all__)
    assert set(ts.distributions.__all__) <= set(ts.__all__)


def test_the_export_parser_sees_a_missing_import(tmp_path):
    package = tmp_path / "tfp_survae" / "broken"
    package.mkdir(parents=True)
    init = package / "__init__.py"
    init.write_text("from tfp_survae.flow import Flow\n__all__ = ['Flow', 'Max']\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, str(tmp_path / "tfp_survae")
    try:
        names, bound = exported_names(str(init))
    finally:
        PACKAGE = saved
    assert names == ["Flow", "Max"] and "Max" not in bound


def test_every_non_bijective_transform_has_a_ground_truth_test():
    for path in glob.glob(os.path.join(TESTS, "test_ground_truth_*.py")):
        importlib.import_module(os.path.basename(path)[:-3])  # fills GROUND_TRUTH
    missing = [t.__name__ for t in public_transforms()
               if not t.bijective and t is not ts.Sequential and t not in GROUND_TRUTH]
    assert not missing, f"no ground-truth test (tests/test_ground_truth_*.py) for {missing}"


# ----------------------------------------------------------------------------------------------
# Annotations: every public function, and every public method of a public class (its own and
# those it inherits from the package's classes), annotates each parameter and its return.


def public_api():
    """{defining module: {qualified name: object}} for every class and function that an export
    list names (the top level's and those of the public modules it lists)."""
    modules = [ts] + [getattr(ts, n) for n in ts.__all__ if inspect.ismodule(getattr(ts, n))]
    found = {}
    for module in modules:
        for name in module.__all__:
            obj = getattr(module, name)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and \
                    obj.__module__.startswith("tfp_survae"):
                found.setdefault(obj.__module__, {})[obj.__qualname__] = obj
    return found


def _missing(function, where, skip_first):
    parameters = list(inspect.signature(function).parameters.values())[int(skip_first):]
    missing = [f"{where}: parameter {p.name}" for p in parameters
               if p.annotation is inspect.Parameter.empty]
    if "return" not in function.__annotations__ and function.__name__ != "__init__":
        missing.append(f"{where}: return")
    return missing


def unannotated(obj, package="tfp_survae"):
    """What `obj` (a function or a class) leaves unannotated, as "where: what" strings. A
    class's public methods (and `__init__`, `__call__`), properties, class and static methods
    count, from the class and every base class defined in `package`."""
    if inspect.isfunction(obj):
        return _missing(obj, obj.__qualname__, skip_first=False)
    missing, seen = [], set()
    for cls in obj.__mro__:
        if not cls.__module__.startswith(package):
            continue
        for name, attribute in vars(cls).items():
            if name in seen or (name.startswith("_") and name not in ("__init__", "__call__")):
                continue
            seen.add(name)
            where = f"{obj.__qualname__}.{name}"
            if isinstance(attribute, property):
                function, skip_first = attribute.fget, True
            elif isinstance(attribute, staticmethod):
                function, skip_first = attribute.__func__, False
            elif isinstance(attribute, classmethod):
                function, skip_first = attribute.__func__, True
            elif inspect.isfunction(attribute):
                function, skip_first = attribute, True
            else:
                continue
            if function is not None and function.__module__.startswith(package):
                missing += _missing(function, where, skip_first)
    return missing


@pytest.mark.parametrize("module", sorted(public_api()))
def test_the_public_api_is_annotated(module):
    missing = [m for obj in public_api()[module].values() for m in unannotated(obj)]
    assert not missing, f"{module} leaves unannotated: {missing}"


def test_the_annotation_check_finds_what_is_missing():
    def annotated(x: int, *args: int, y: str = "", **kwargs: float) -> int:
        return x

    def no_return(x: int):
        return x

    def bare(x, *args, **kwargs) -> None:
        pass

    class Base:
        def inherited(self, x) -> None:
            pass

    class Layer(Base):
        def __init__(self, a: int) -> None:
            pass

        def call(self, x: int, training=None) -> int:
            return x

        @property
        def size(self):
            return 1

        @classmethod
        def from_config(cls, config: dict):
            return cls(1)

        @staticmethod
        def make(n) -> None:
            pass

        def _private(self, x):
            pass

    class Complete:
        def __init__(self, a: int) -> None:
            pass

        @property
        def size(self) -> int:
            return 1

    package = __name__
    assert unannotated(annotated, package) == []
    assert unannotated(no_return, package) == [f"{no_return.__qualname__}: return"]
    assert [m.split(": ")[1] for m in unannotated(bare, package)] == [
        "parameter x", "parameter args", "parameter kwargs"]
    assert sorted(m.split(".")[-1] for m in unannotated(Layer, package)) == sorted([
        "call: parameter training", "size: return", "from_config: return",
        "make: parameter n", "inherited: parameter x"])
    assert unannotated(Complete, package) == []
