"""MkDocs hook: writes the API reference pages at build time from the package itself.

The pages follow the code as it changes: every name in `tfp_survae.__all__` gets an entry on
the page of its family (chosen by the module that defines it), and every public module listed
there (`data`, `training`, ...) gets a page of its own listing the names of its `__all__`.
Entries are rendered by mkdocstrings; each heading's anchor is the name's dotted path
(`#tfp_survae.Flow`), which `tests/test_docs.py` checks for every public name.
"""

from __future__ import annotations

import importlib
import inspect
import types

from mkdocs.structure.files import File

PACKAGE = "tfp_survae"
API_DIR = "api"

# (slug, title, what the family is, module prefixes that define its names), in page order.
# A name whose module matches no prefix lands on the "Other names" page, so nothing is dropped.
FAMILIES = (
    ("flows", "Flows", "Flows and their TensorFlow Probability views.",
     ("flow", "transformed_distribution", "flow_bijector", "conditional_flow", "flows")),
    ("transform-contract", "Transform contract",
     "The base classes every transform derives from, and what a layer author builds on.",
     ("transforms.base", "extend")),
    ("bijections", "Bijections", "Exact and deterministic both ways; V = log |det dz/dx|.",
     ("transforms.bijections",)),
    ("surjections", "Surjections",
     "Inference surjections (exact) and generative surjections (a lower bound, or exact over "
     "a finite preimage).", ("transforms.surjections",)),
    ("stochastic", "Stochastic transforms",
     "Both directions sample; V = log p(x | z) - log q(z | x).", ("transforms.stochastic",)),
    ("distributions", "Distributions",
     "Bases, encoders and decoders: Keras layers mapping a condition to a tfd.Distribution.",
     ("distributions",)),
    ("networks", "Networks", "Networks that parameterise couplings, classifiers, encoders and "
     "decoders.", ("nn",)),
)
OTHER = ("other", "Other names", "Public names outside the families above.", ())

ENTRY_OPTIONS = """    options:
      heading_level: 2
      show_root_heading: true
      show_root_full_path: false
"""


def _matches(module_name: str, prefix: str) -> bool:
    full = f"{PACKAGE}.{prefix}"
    return module_name == full or module_name.startswith(full + ".")


def family_of(obj) -> tuple:
    """The family whose module prefixes match the module that defines `obj`."""
    module_name = getattr(obj, "__module__", None) or ""
    for family in FAMILIES:
        if any(_matches(module_name, prefix) for prefix in family[3]):
            return family
    return OTHER


def _entry(identifier: str) -> str:
    return f"::: {identifier}\n{ENTRY_OPTIONS}\n"


def _module_member_identifier(module: types.ModuleType, name: str) -> str:
    """The dotted path mkdocstrings resolves for `module.name`.

    Names that the module loads lazily (through a module `__getattr__`) are not visible to
    static analysis under the module, so they are documented under their defining module.
    """
    if name in vars(module):
        return f"{module.__name__}.{name}"
    obj = getattr(module, name)
    return f"{obj.__module__}.{name}"


def build_pages() -> dict:
    """Maps page paths (under docs/) to their Markdown, for the current package."""
    package = importlib.import_module(PACKAGE)
    grouped, modules = {}, []
    for name in package.__all__:
        obj = getattr(package, name)
        if isinstance(obj, types.ModuleType):
            modules.append(obj)
        else:
            grouped.setdefault(family_of(obj), []).append(name)

    pages, index = {}, ["# API reference\n",
                        "Generated from the code at build time: every public name of "
                        f"`{PACKAGE}` (its `__all__`), grouped by family, then the public "
                        "modules. Each entry shows its signature, docstring and source.\n"]
    index.append("## Top-level names\n")
    index.append("| family | names |\n|---|---|")
    for family in (*FAMILIES, OTHER):
        names = grouped.get(family)
        if not names:
            continue
        slug, title, blurb, _ = family
        path = f"{API_DIR}/{slug}.md"
        body = [f"# {title}\n", f"{blurb}\n"]
        body += [_entry(f"{PACKAGE}.{name}") for name in names]
        pages[path] = "\n".join(body)
        links = ", ".join(f"[`{name}`]({slug}.md#{PACKAGE}.{name})" for name in names)
        index.append(f"| [{title}]({slug}.md) | {links} |")

    index.append("\n## Modules\n")
    index.append("| module | what it holds |\n|---|---|")
    for module in modules:
        short = module.__name__.split(".", 1)[1]
        page = f"modules/{short.replace('.', '/')}.md"
        path = f"{API_DIR}/{page}"
        summary = (inspect.getdoc(module) or "").split("\n", 1)[0]
        if not hasattr(module, "__all__"):  # no explicit public names: every documented one
            pages[path] = f"# {module.__name__}\n\n::: {module.__name__}\n"
            index.append(f"| [`{module.__name__}`]({page}) | {summary} |")
            continue
        body = [f"# {module.__name__}\n",
                f"::: {module.__name__}\n    options:\n      members: false\n"
                "      show_root_heading: false\n      show_source: false\n"]
        names = list(module.__all__)
        shared = [n for n in names if n in package.__all__
                  and getattr(module, n) is getattr(package, n)]
        documented = [n for n in names if n not in shared]
        up = "../" * page.count("/")
        if shared:
            body.append("Also exported at the top level, and documented there: " + ", ".join(
                f"[`{n}`]({up}{family_of(getattr(module, n))[0]}.md#{PACKAGE}.{n})"
                for n in shared) + ".\n")
        body += [_entry(_module_member_identifier(module, n)) for n in documented]
        pages[path] = "\n".join(body)
        index.append(f"| [`{module.__name__}`]({page}) | {summary} |")
    pages[f"{API_DIR}/index.md"] = "\n".join(index) + "\n"
    return pages


_PAGES: dict = {}


def on_config(config, **kwargs):
    """Builds the pages once per build and appends them to the navigation."""
    _PAGES.clear()
    _PAGES.update(build_pages())
    section = [{"Overview": f"{API_DIR}/index.md"}]
    for path, text in _PAGES.items():
        if path != f"{API_DIR}/index.md":
            section.append({text.split("\n", 1)[0].lstrip("# ").strip(): path})
    nav = config.nav or []
    for item in nav:
        if isinstance(item, dict) and "API reference" in item:
            item["API reference"] = section
            break
    else:
        nav.append({"API reference": section})
    config.nav = nav
    return config


def on_files(files, config, **kwargs):
    for path, text in _PAGES.items():
        files.append(File.generated(config, path, content=text))
    return files
