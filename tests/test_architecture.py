"""The layer order and import rules of docs/architecture.md, checked by walking the source.

Every module of ``src/escucha`` is in one layer; a module imports only from its own layer or the
layers below it, in the domain and shared layers only packages listed after its own, and pure
modules (``__pure__ = True``) only the standard library, NumPy, SciPy and other pure modules. The
import graph (imports inside functions included) has no cycle. The checks read the source with
:mod:`ast` and import nothing, so they run in well under a second.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "escucha"
STDLIB = set(sys.stdlib_module_names)
PURE_THIRD_PARTY = {"numpy", "scipy"}
FRONT = ("escucha.web", "escucha.cli", "escucha.app")

# --- the layers, top to bottom (docs/architecture.md has the same table) --------------------

LAYERS = ("entry", "flows", "domain", "shared", "foundation", "pure")
#: Entry points: what the outside world calls (screens, commands, the HTTP API, job handlers).
ENTRY_MODULES = {"escucha.app", "escucha.api", "escucha.ops", "escucha.__main__"}
ENTRY_PACKAGES = ("escucha.web", "escucha.cli")
#: escucha.<package>.api, .jobs, and .consumer (a loop that takes a PBX's events, ADR 22)
ENTRY_FILES = ("api", "jobs", "consumer")
#: Domain packages, highest first: each may import the packages listed after it, never before.
DOMAIN_ORDER = (
    "asterisk",
    "voice",
    "telephony",
    "callbacks",
    "routing",
    "workforce",
    "speech",
    "qa",
    "surveys",
    "tickets",
    "contacts",
    "staffing",
    "analytics",
)
#: Shared services, highest first, with the same rule.
SHARED_ORDER = ("notifications", "promises", "org", "ivr", "jobs", "audit", "auth")
#: Foundation: the database, settings, errors, the clock, logs, YAML, discovery, and every table.
FOUNDATION_MODULES = {
    "escucha",
    "escucha.config",
    "escucha.errors",
    "escucha.clock",
    "escucha.logs",
    "escucha.yamlio",
    "escucha.discovery",
    "escucha.i18n",
}
FOUNDATION_PACKAGES = ("escucha.db",)
#: Modules that must declare ``__pure__ = True`` (the marker is what the checks go by; these
#: names only make sure the marker is not forgotten where purity is the convention).
MUST_BE_PURE = ("escucha.numerics",)
MUST_BE_PURE_FILES = ("rules",)
#: Imports of the project's own modules written inside functions, outside the entry points.
MAX_FUNCTION_IMPORTS_BELOW_ENTRY = 3


@dataclass(frozen=True)
class Import:
    line: int
    target: str  # the module imported, resolved to a module of the tree when it is one
    in_function: bool
    commented: bool


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    pure: bool
    imports: tuple[Import, ...]
    tree: ast.Module


def _module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _declares_pure(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            value = node.value
            if "__pure__" in names and isinstance(value, ast.Constant) and value.value is True:
                return True
    return False


def _statements(body: list[ast.stmt], in_function: bool) -> Iterator[tuple[ast.stmt, bool]]:
    """Every statement, nested ones included, and whether it is inside a function (imports are
    statements, so the expressions need not be walked)."""
    for node in body:
        yield node, in_function
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for name in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(node, name, None) or [], inner)
        for part in [*getattr(node, "handlers", []), *getattr(node, "cases", [])]:
            yield from _statements(part.body, inner)


def _found_imports(tree: ast.Module, package: str) -> list[tuple[ast.stmt, str, bool]]:
    found: list[tuple[ast.stmt, str, bool]] = []
    for node, in_function in _statements(tree.body, False):
        if isinstance(node, ast.Import):
            found.extend((node, alias.name, in_function) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module or ""]).rstrip(".")
            else:
                module = node.module or ""
            for alias in node.names:
                # ``from pkg import module`` imports the module, ``from module import name``
                # the module: the longest name the tree has wins (see read_tree).
                target = f"{module}.{alias.name}" if alias.name != "*" else module
                found.append((node, target, in_function))
    return found


def _commented(node: ast.stmt, lines: list[str], starts: dict[int, int]) -> bool:
    """A trailing comment on the import, or a comment line above its run of imports."""
    end = node.end_lineno or node.lineno
    if any("#" in lines[i - 1] for i in range(node.lineno, end + 1)):
        return True
    above = node.lineno - 1
    while above in starts:  # the line above ends another import: go to the top of the run
        above = starts[above] - 1
    return above >= 1 and lines[above - 1].strip().startswith("#")


def read_tree(root: Path) -> dict[str, Module]:
    """Every module under ``root`` (a package directory) with its imports of that package."""
    paths = sorted(root.rglob("*.py"))
    names = {_module_name(root, p): p for p in paths}
    top = root.name
    out: dict[str, Module] = {}
    for name, path in names.items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = _found_imports(tree, package)
        starts = {(n.end_lineno or n.lineno): n.lineno for n, _, f in found if f}
        imports: list[Import] = []
        for node, target, in_function in found:
            if target.split(".")[0] != top:
                imports.append(Import(node.lineno, target, in_function, True))
                continue
            resolved = target
            while resolved not in names and "." in resolved:
                resolved = resolved.rsplit(".", 1)[0]
            commented = _commented(node, lines, starts) if in_function else True
            imports.append(Import(node.lineno, resolved, in_function, commented))
        unique = tuple({(i.line, i.target): i for i in imports}.values())
        out[name] = Module(name, path, _declares_pure(tree), unique, tree)
    return out


# --- the rules ------------------------------------------------------------------------------


def _package(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_of(module: Module) -> str | None:
    name = module.name
    parts = name.split(".")
    if module.pure:
        return "pure"
    if name in ENTRY_MODULES or name.startswith(tuple(p + "." for p in ENTRY_PACKAGES)):
        return "entry"
    if name in ENTRY_PACKAGES:
        return "foundation"  # an empty package file
    if len(parts) == 3 and parts[2] in ENTRY_FILES:
        return "entry"
    if _package(name) == "flows":
        return "flows"
    if (
        name in FOUNDATION_MODULES
        or name.startswith(tuple(p + "." for p in FOUNDATION_PACKAGES))
        or name in FOUNDATION_PACKAGES
        or parts[-1] == "models"
        or len(parts) == 2  # a package's __init__ (they import nothing)
    ):
        return "foundation"
    if _package(name) in DOMAIN_ORDER:
        return "domain"
    if _package(name) in SHARED_ORDER:
        return "shared"
    return None


def _should_be_pure(name: str) -> bool:
    parts = name.split(".")
    return name.startswith(MUST_BE_PURE) or (len(parts) == 3 and parts[2] in MUST_BE_PURE_FILES)


def layer_offences(tree: Mapping[str, Module]) -> list[str]:
    """Every import that goes up the layers or up a package order, and every unplaced module."""
    offences = []
    layers = {name: layer_of(m) for name, m in tree.items()}
    for name, module in sorted(tree.items()):
        where = f"{name} ({module.path.name})"
        layer = layers[name]
        if _should_be_pure(name) and not module.pure:
            offences.append(f"{where}: must declare __pure__ = True")
            continue
        if layer is None:
            offences.append(f"{where}: in no layer (add it to the table)")
            continue
        for imp in module.imports:
            top = imp.target.split(".")[0]
            if top not in tree:  # not the project's own
                if module.pure and top not in STDLIB | PURE_THIRD_PARTY | {"__future__"}:
                    offences.append(f"{where}:{imp.line}: pure code imports {imp.target}")
                continue
            target = layers.get(imp.target)
            if target is None or imp.target == name:
                continue
            if module.pure and target != "pure":
                offences.append(f"{where}:{imp.line}: pure code imports {imp.target} ({target})")
                continue
            if LAYERS.index(target) < LAYERS.index(layer):
                offences.append(
                    f"{where}:{imp.line}: {layer} imports {imp.target}, which is {target} (above)"
                )
                continue
            if target == layer and layer in ("domain", "shared"):
                order = DOMAIN_ORDER if layer == "domain" else SHARED_ORDER
                mine, theirs = _package(name), _package(imp.target)
                if mine != theirs and order.index(theirs) < order.index(mine):
                    offences.append(
                        f"{where}:{imp.line}: {layer} package {mine} imports {imp.target}, "
                        f"listed above it ({' > '.join(order)})"
                    )
    return offences


def cycles(tree: Mapping[str, Module]) -> list[list[str]]:
    """The import cycles between modules (Tarjan's strongly connected components)."""
    graph = {
        name: sorted({i.target for i in m.imports if i.target in tree and i.target != name})
        for name, m in tree.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def function_imports(tree: Mapping[str, Module]) -> dict[str, list[str]]:
    """Imports of the project's own modules inside functions: below the entry points, and those
    anywhere without a comment saying why."""
    below, bare = [], []
    for name, module in sorted(tree.items()):
        for imp in module.imports:
            if not imp.in_function or imp.target.split(".")[0] not in tree:
                continue
            where = f"{name}:{imp.line}: {imp.target}"
            if layer_of(module) != "entry":
                below.append(where)
            if not imp.commented:
                bare.append(where)
    return {"below_entry": below, "uncommented": bare}


def _imports_own(node: ast.stmt, tree: Mapping[str, Module]) -> bool:
    if isinstance(node, ast.ImportFrom):
        return bool(node.level) or (node.module or "").split(".")[0] in tree
    if isinstance(node, ast.Import):
        return any(a.name.split(".")[0] in tree for a in node.names)
    return False


def import_error_guards(tree: Mapping[str, Module]) -> list[str]:
    """``try: import <own module> except ImportError``: the project's modules are never optional."""
    out = []
    for name, module in sorted(tree.items()):
        for node, _ in _statements(module.tree.body, False):
            if not isinstance(node, ast.Try):
                continue
            catches = any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers
            )
            own = any(_imports_own(s, tree) for s in node.body)
            if catches and own:
                out.append(f"{name}:{node.lineno}")
    return out


#: What a screen may take from SQLAlchemy: the session's type and the errors it raises. Queries
#: (``select``, ``text``, ``func``, loader options...) belong to the services.
SCREEN_SQLALCHEMY = {"sqlalchemy.orm.Session", "sqlalchemy.orm.sessionmaker", "sqlalchemy.exc"}
#: What a screen may not ask a session: it passes the session to services, which ask.
QUERY_METHODS = {"execute", "scalar", "scalars", "get", "query"}
#: How a screen's session is typed (``DB`` is the request's session, ``escucha.auth.api``).
SESSION_TYPES = {"Session", "DB"}


def _session_names(tree: ast.Module) -> set[str]:
    """The names a module gives its sessions: annotated ``Session``/``DB`` (parameters and
    variables) or bound by ``with factory() as name``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            target = node.arg if isinstance(node, ast.arg) else getattr(node.target, "id", "")
            annotation = node.annotation
            parts = [annotation]
            if isinstance(annotation, ast.BinOp):  # ``Session | None``
                parts = [annotation.left, annotation.right]
            if any(isinstance(a, ast.Name) and a.id in SESSION_TYPES for a in parts):
                names.add(target)
        elif isinstance(node, ast.With):
            for item in node.items:
                if isinstance(item.context_expr, ast.Call) and isinstance(
                    item.optional_vars, ast.Name
                ):
                    names.add(item.optional_vars.id)
    return names


def screen_queries(tree: Mapping[str, Module]) -> list[str]:
    """Queries written in ``escucha.web``: an import of SQLAlchemy's query language, or a
    session asked directly (``db.execute``, ``db.scalar``, ``db.scalars``, ``db.get``,
    ``db.query``) instead of through a service."""
    found = []
    for name, module in sorted(tree.items()):
        if not name.startswith("escucha.web."):
            continue
        sessions = _session_names(module.tree)
        here: list[tuple[int, str]] = []
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                here.extend(
                    (node.lineno, f"imports {a.name}")
                    for a in node.names
                    if a.name.split(".")[0] == "sqlalchemy" and a.name not in SCREEN_SQLALCHEMY
                )
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if node.module not in SCREEN_SQLALCHEMY and full not in SCREEN_SQLALCHEMY:
                        here.append((node.lineno, f"imports {full}"))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in QUERY_METHODS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in sessions
            ):
                here.append((node.lineno, f"{node.func.value.id}.{node.func.attr}(...)"))
        found.extend(f"{name}:{line}: {what}" for line, what in sorted(here))
    return found


# --- the project ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project() -> dict[str, Module]:
    return read_tree(SRC)


def test_every_module_is_in_a_layer_and_imports_only_downwards(project: dict[str, Module]) -> None:
    assert layer_offences(project) == []


def test_no_import_cycle_between_modules(project: dict[str, Module]) -> None:
    assert cycles(project) == []


def test_imports_inside_functions_are_few_and_explained(project: dict[str, Module]) -> None:
    found = function_imports(project)
    assert len(found["below_entry"]) <= MAX_FUNCTION_IMPORTS_BELOW_ENTRY, found["below_entry"]
    assert found["uncommented"] == []


def test_the_project_never_guards_its_own_imports(project: dict[str, Module]) -> None:
    assert import_error_guards(project) == []


def test_pure_modules_are_marked_and_the_marker_is_checked(project: dict[str, Module]) -> None:
    pure = {name for name, m in project.items() if m.pure}
    # The engines are pure though neither file name says so.
    assert {"escucha.routing.engine", "escucha.routing.estimate"} <= pure
    assert {"escucha.numerics.erlang", "escucha.routing.rules"} <= pure


def test_screens_ask_services_not_the_database(project: dict[str, Module]) -> None:
    assert screen_queries(project) == []


def test_domains_never_import_screens_cli_or_app(project: dict[str, Module]) -> None:
    offences = []
    for name, module in project.items():
        if name.startswith(FRONT) or name in ("escucha.api", "escucha.ops", "escucha.__main__"):
            continue
        for imp in module.imports:
            if imp.target.startswith(FRONT):
                offences.append(f"{name}:{imp.line}: imports {imp.target}")
    assert offences == []


# --- the checker sees what it must: a small tree with every kind of fault -------------------


def _write(root: Path, files: dict[str, str]) -> dict[str, Module]:
    for rel, text in files.items():
        path = root / "escucha" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    for d in [root / "escucha", *(p for p in (root / "escucha").rglob("*") if p.is_dir())]:
        (d / "__init__.py").touch()
    return read_tree(root / "escucha")


def test_the_checker_flags_a_wrong_import(tmp_path: Path) -> None:
    tree = _write(
        tmp_path,
        {
            "contacts/service.py": "from escucha.web.pages import render\n",
            "web/pages.py": "def render() -> None: ...\n",
            "org/service.py": "from escucha.routing import service\n",
            "routing/service.py": "from escucha.callbacks.service import reach\n",
            "callbacks/service.py": "def reach() -> None: ...\n",
            "routing/engine.py": "__pure__ = True\nimport sqlalchemy\nfrom escucha import errors\n",
            "errors.py": "",
            "numerics/__init__.py": "__pure__ = True\n",
            "numerics/erlang.py": "import math\n",
            "mystery/thing.py": "",
        },
    )
    offences = "\n".join(layer_offences(tree))
    assert "escucha.contacts.service (service.py):1: domain imports escucha.web.pages" in offences
    assert "escucha.org.service (service.py):1: shared imports escucha.routing.service" in offences
    assert "domain package routing imports escucha.callbacks.service, listed above" in offences
    assert "escucha.routing.engine (engine.py):2: pure code imports sqlalchemy" in offences
    assert "escucha.routing.engine (engine.py):3: pure code imports escucha.errors" in offences
    assert "escucha.numerics.erlang (erlang.py): must declare __pure__ = True" in offences
    assert "escucha.mystery.thing (thing.py): in no layer" in offences
    assert len(layer_offences(tree)) == 7


def test_the_checker_accepts_imports_down_the_layers(tmp_path: Path) -> None:
    tree = _write(
        tmp_path,
        {
            "web/pages.py": "from escucha.flows import wrapup\n",
            "flows/wrapup.py": "from escucha.callbacks import service\n",
            "callbacks/service.py": (
                "from escucha.routing import service\nfrom escucha.org import service as o\n"
            ),
            "routing/service.py": (
                "from escucha.routing import engine\nfrom escucha.contacts.models import C\n"
            ),
            "routing/engine.py": (
                "__pure__ = True\nimport math\nimport numpy\nfrom escucha.routing import rules\n"
            ),
            "routing/rules.py": "__pure__ = True\n",
            "contacts/models.py": "from escucha.db import base\n",
            "db/base.py": "",
            "org/service.py": "from escucha.errors import E\n",
            "errors.py": "",
        },
    )
    assert layer_offences(tree) == []
    assert cycles(tree) == []


def test_the_checker_finds_a_cycle_through_an_import_inside_a_function(tmp_path: Path) -> None:
    tree = _write(
        tmp_path,
        {
            "contacts/service.py": "from escucha.routing import service\n",
            "routing/service.py": (
                "def answer() -> None:\n"
                "    from escucha.callbacks.service import reach\n"
                "    reach()\n"
            ),
            "callbacks/service.py": "from escucha.contacts.service import x\n",
        },
    )
    assert cycles(tree) == [
        ["escucha.callbacks.service", "escucha.contacts.service", "escucha.routing.service"]
    ]
    found = function_imports(tree)
    assert found["below_entry"] == ["escucha.routing.service:2: escucha.callbacks.service"]
    assert found["uncommented"] == found["below_entry"]


def test_the_checker_reads_comments_on_imports_inside_functions(tmp_path: Path) -> None:
    tree = _write(
        tmp_path,
        {
            "cli/staff.py": (
                "def plan() -> None:\n"
                "    # Imported here: the command's start-up stays fast.\n"
                "    from escucha.numerics import erlang\n"
                "    from escucha.numerics import staffing\n"
                "\n"
                "def other() -> None:\n"
                "    from escucha.numerics import erlang  # start-up time\n"
                "    x = 1\n"
                "    from escucha.numerics import staffing\n"
            ),
            "numerics/erlang.py": "__pure__ = True\n",
            "numerics/staffing.py": "__pure__ = True\n",
        },
    )
    assert function_imports(tree) == {
        "below_entry": [],
        "uncommented": ["escucha.cli.staff:9: escucha.numerics.staffing"],
    }


def test_the_checker_finds_import_error_guards(tmp_path: Path) -> None:
    tree = _write(
        tmp_path,
        {
            "surveys/voc.py": (
                "def f() -> None:\n"
                "    try:\n"
                "        from escucha.tickets.models import Ticket\n"
                "    except ImportError:\n"
                "        return\n"
                "try:\n"
                "    import yaml\n"
                "except ImportError:\n"
                "    yaml = None\n"
            ),
            "tickets/models.py": "",
        },
    )
    assert import_error_guards(tree) == ["escucha.surveys.voc:2"]


def test_the_checker_finds_queries_in_screens(tmp_path: Path) -> None:
    tree = _write(
        tmp_path,
        {
            "web/desk.py": (
                "from sqlalchemy import func, select\n"
                "import sqlalchemy as sa\n"
                "from sqlalchemy.orm import Session, selectinload\n"
                "from escucha.auth.api import DB\n"
                "\n"
                "def page(db: DB, user_id: int) -> None:\n"
                "    db.get(User, user_id)\n"
                "    db.scalars(select(User)).all()\n"
                "\n"
                "def stream(factory) -> None:\n"
                "    with factory() as session:\n"
                "        session.execute(sa.text('select 1'))\n"
                "\n"
                "def fragment(s: Session | None) -> None:\n"
                "    s.scalar(select(func.count()))\n"
                "    s.query(User)\n"
            ),
            # What a screen may do: type its session, catch the database's errors, hand the
            # session to services, read its own cookie and dictionaries.
            "web/fine.py": (
                "from sqlalchemy.exc import SQLAlchemyError\n"
                "from sqlalchemy.orm import Session, sessionmaker\n"
                "from escucha.auth.api import DB\n"
                "from escucha.org import service\n"
                "\n"
                "def page(request, db: DB, names: dict) -> None:\n"
                "    service.queues(db)\n"
                "    request.session.get('lang')\n"
                "    names.get('x')\n"
                "    db.rollback()\n"
            ),
            "org/service.py": "from sqlalchemy import select\n\ndef q(db: Session) -> None:\n"
            "    db.scalars(select(Queue))\n",
        },
    )
    assert screen_queries(tree) == [
        "escucha.web.desk:1: imports sqlalchemy.func",
        "escucha.web.desk:1: imports sqlalchemy.select",
        "escucha.web.desk:2: imports sqlalchemy",
        "escucha.web.desk:3: imports sqlalchemy.orm.selectinload",
        "escucha.web.desk:7: db.get(...)",
        "escucha.web.desk:8: db.scalars(...)",
        "escucha.web.desk:12: session.execute(...)",
        "escucha.web.desk:15: s.scalar(...)",
        "escucha.web.desk:16: s.query(...)",
    ]


def _names(paths: Iterable[Path]) -> list[str]:
    return sorted(p.name for p in paths)


def test_importing_everything_has_no_side_effects(tmp_path: Path) -> None:
    """Importing every module creates no database file and opens no connection."""
    code = (
        "import importlib, pkgutil, escucha\n"
        "for m in pkgutil.walk_packages(escucha.__path__, 'escucha.'):\n"
        "    if '.migrations' in m.name or m.name.endswith('__main__'): continue\n"
        "    importlib.import_module(m.name)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=120)
    assert _names(tmp_path.iterdir()) == []
