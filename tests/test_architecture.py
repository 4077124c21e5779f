"""The import rules of docs/architecture.md, checked by walking the source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "escucha"
STDLIB = set(sys.stdlib_module_names)
PURE_THIRD_PARTY = {"numpy", "scipy"}
FRONT = ("escucha.web", "escucha.cli", "escucha.app")


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                out.append((node.lineno, ".".join([*base, node.module or ""]).rstrip(".")))
            elif node.module:
                out.append((node.lineno, node.module))
    return out


def _is_pure_module(name: str) -> bool:
    return name.startswith("escucha.numerics") or name.endswith(".rules")


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_pure_code_imports_only_stdlib_numpy_scipy_and_other_pure_code() -> None:
    offences = []
    for path in _sources():
        name = _module_name(path)
        if not _is_pure_module(name):
            continue
        for line, imported in _imports(path):
            top = imported.split(".")[0]
            if top in STDLIB or top in PURE_THIRD_PARTY or top == "__future__":
                continue
            if top == "escucha" and _is_pure_module(imported):
                continue
            offences.append(f"{path.relative_to(SRC)}:{line}: imports {imported}")
    assert offences == []


def test_domains_never_import_screens_cli_or_app() -> None:
    offences = []
    for path in _sources():
        name = _module_name(path)
        if name.startswith(FRONT) or name in ("escucha.api", "escucha.ops", "escucha.__main__"):
            continue
        for line, imported in _imports(path):
            if imported.startswith(FRONT):
                offences.append(f"{path.relative_to(SRC)}:{line}: imports {imported}")
    assert offences == []


def test_rule_checker_sees_a_violation(tmp_path: Path) -> None:
    """The walk above is not vacuous: it finds imports in a known file."""
    found = dict(_imports(SRC / "db" / "session.py"))
    assert "sqlalchemy.orm" in found.values()


def test_importing_everything_has_no_side_effects(tmp_path: Path) -> None:
    """Importing every module creates no database file and opens no connection."""
    code = (
        "import importlib, pkgutil, escucha\n"
        "for m in pkgutil.walk_packages(escucha.__path__, 'escucha.'):\n"
        "    if '.migrations' in m.name or m.name.endswith('__main__'): continue\n"
        "    importlib.import_module(m.name)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=120)
    assert list(tmp_path.iterdir()) == []
