"""YAML files that say where they are wrong.

Every YAML document escucha reads (the organisation, IVR menus, scorecards, regulatory
profiles) goes through :func:`load` and :func:`validate`, so a bad file is reported as
``file:line: path.to.key: reason`` and nothing is applied.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from escucha.errors import EscuchaError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class YamlProblem:
    """One problem in a YAML file: where (file, line, dotted path) and why."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path or '<root>'}: {self.message}"


class YamlFileError(EscuchaError):
    """A YAML file that cannot be used; lists every problem found."""

    status_code = 422
    code = "invalid_yaml"

    def __init__(self, problems: Sequence[YamlProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def load_text(text: str, filename: str = "<text>") -> Any:
    """Parse YAML text keeping line numbers; raise :class:`YamlFileError` on syntax errors."""
    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlFileError(
            [YamlProblem(filename, line, "", str(exc.problem or exc.context or exc))]
        ) from exc
    except Exception as exc:  # ruamel raises a few unmarked errors (duplicate keys, ...)
        raise YamlFileError([YamlProblem(filename, None, "", str(exc))]) from exc


def load(path: Path) -> Any:
    """Read and parse a YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlFileError([YamlProblem(str(path), None, "", str(exc))]) from exc
    return load_text(text, str(path))


def line_of(document: Any, path: Sequence[str | int]) -> int | None:
    """1-based line of the deepest node of ``path`` that exists in ``document``."""
    node = document
    line: int | None = None
    for key in path:
        if isinstance(node, CommentedMap) and key in node:
            with contextlib.suppress(KeyError, TypeError):
                line = node.lc.key(key)[0] + 1
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
            with contextlib.suppress(KeyError, TypeError):
                line = node.lc.item(key)[0] + 1
            node = node[key]
        else:
            break
    if line is None and hasattr(document, "lc"):
        line = document.lc.line + 1
    return line


def dotted(path: Sequence[str | int]) -> str:
    """``("queues", 2, "name")`` -> ``queues[2].name``."""
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += f".{key}" if out else str(key)
    return out


def problems_from_validation(
    exc: ValidationError, document: Any, filename: str, prefix: Sequence[str | int] = ()
) -> list[YamlProblem]:
    """Translate a pydantic error into YAML problems with lines."""
    out = []
    for err in exc.errors():
        loc = [*prefix, *(k for k in err["loc"] if isinstance(k, str | int))]
        message = err["msg"].removeprefix("Value error, ")
        out.append(YamlProblem(filename, line_of(document, loc), dotted(loc), message))
    return out


def validate(model: type[M], document: Any, filename: str, prefix: Sequence[str | int] = ()) -> M:
    """Validate ``document`` (or its part at ``prefix``) against ``model``."""
    node = document
    for key in prefix:
        node = node[key]
    try:
        return model.model_validate(to_plain(node))
    except ValidationError as exc:
        raise YamlFileError(problems_from_validation(exc, document, filename, prefix)) from exc


def to_plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    return node


def dump_text(data: Any) -> str:
    """Serialise plain data as block-style YAML."""
    import io

    y = YAML(typ="rt")
    y.default_flow_style = False
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()
