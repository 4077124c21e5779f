"""YAML files that say where they are wrong.

Every YAML document escucha reads (the organisation, IVR menus and task files, scorecards,
regulatory profiles, CSV mappings) goes through :func:`load` and :func:`validate`, so a bad file
is reported as ``file:line: path.to.key: reason`` and nothing is applied.

The loader reads a safe part of YAML, bounded before any work is spent on it (ADR 18): no
anchors or aliases (``&name``/``*name``, the "billion laughs" that expand a few hundred bytes
into billions of nodes), at most :attr:`YamlLimits.max_bytes` bytes, :attr:`YamlLimits.max_nodes`
nodes and :attr:`YamlLimits.max_depth` levels of nesting. A document past a limit is refused
while it is being read, with the line where it went past.
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
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent

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


@dataclass(frozen=True)
class YamlLimits:
    """How big a YAML document escucha agrees to read.

    Generous for the files escucha reads (the demo organisation is 7 KB and 600 values; an
    organisation of 2,000 agents about 30,000), small enough that the largest document allowed
    is read in a few seconds.
    """

    max_bytes: int = 1024 * 1024
    max_nodes: int = 100_000
    max_depth: int = 40


LIMITS = YamlLimits()


class YamlLimitError(MarkedYAMLError):
    """A document that goes past a limit of :class:`YamlLimits` or uses an alias;
    ``nodes_read`` says how many values had been read when it was refused."""

    nodes_read: int = 0


class _GuardedComposer(Composer):
    """ruamel's composer, refusing anchors and aliases and counting nodes and depth as it goes,
    so a refused document is never built, let alone expanded."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        try:
            return self._compose_node(parent, index)
        except YamlLimitError as exc:
            exc.nodes_read = exc.nodes_read or self.nodes
            raise

    def _compose_node(self, parent: Any, index: Any) -> Any:
        limits: YamlLimits = getattr(self.loader, "escucha_limits", LIMITS)
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            raise YamlLimitError(
                problem=f"alias *{event.anchor} refused: anchors and aliases are not allowed "
                "(they can expand a small file into billions of values); write the value out",
                problem_mark=event.start_mark,
            )
        if getattr(event, "anchor", None) is not None:
            raise YamlLimitError(
                problem=f"anchor &{event.anchor} refused: anchors and aliases are not allowed "
                "(they can expand a small file into billions of values); write the value out",
                problem_mark=event.start_mark,
            )
        self.nodes += 1
        if self.nodes > limits.max_nodes:
            raise YamlLimitError(
                problem=f"the document has more than {limits.max_nodes} values; split it",
                problem_mark=event.start_mark,
            )
        if self.depth >= limits.max_depth:
            raise YamlLimitError(
                problem=f"the document nests deeper than {limits.max_depth} levels",
                problem_mark=event.start_mark,
            )
        return super().compose_node(parent, index)


def _yaml(limits: YamlLimits = LIMITS) -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    y.Composer = _GuardedComposer
    y.escucha_limits = limits  # type: ignore[attr-defined]
    return y


def _too_big(filename: str, limits: YamlLimits) -> YamlFileError:
    why = f"the file is larger than the {limits.max_bytes} bytes allowed for a YAML document"
    return YamlFileError([YamlProblem(filename, None, "", why)])


def load_text(text: str, filename: str = "<text>", limits: YamlLimits = LIMITS) -> Any:
    """Parse YAML text keeping line numbers; raise :class:`YamlFileError` on syntax errors,
    aliases or a document past ``limits``."""
    # characters first: a text with more characters than the limit has more bytes too
    if len(text) > limits.max_bytes or len(text.encode("utf-8", "replace")) > limits.max_bytes:
        raise _too_big(filename, limits)
    try:
        return _yaml(limits).load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlFileError(
            [YamlProblem(filename, line, "", str(exc.problem or exc.context or exc))]
        ) from exc
    except Exception as exc:  # ruamel raises a few unmarked errors (duplicate keys, ...)
        raise YamlFileError([YamlProblem(filename, None, "", str(exc))]) from exc


def read_text(path: Path, limits: YamlLimits = LIMITS) -> str:
    """A YAML file's text, reading no more than ``limits.max_bytes`` of it."""
    try:
        with path.open("rb") as fh:
            data = fh.read(limits.max_bytes + 1)
        if len(data) > limits.max_bytes:
            raise _too_big(str(path), limits)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlFileError([YamlProblem(str(path), None, "", str(exc))]) from exc


def load(path: Path, limits: YamlLimits = LIMITS) -> Any:
    """Read and parse a YAML file (see :func:`read_text` and :func:`load_text`)."""
    return load_text(read_text(path, limits), str(path), limits)


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
