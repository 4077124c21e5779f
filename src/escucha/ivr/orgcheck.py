"""The ``ivr:`` part of the organisation YAML, checked before it is applied (requirement C1).

The organisation schema keeps ``ivr`` as a free mapping; :func:`problems_for_org_ivr` gives
``escucha config apply`` / ``check`` the same verdict as ``escucha ivr lint``: structural
problems and lint errors (warnings never block), plus queue names the organisation does not
define. Every problem names the file, the line and the path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from typing import Any

from escucha.ivr.lint import errors, lint
from escucha.ivr.rules import IvrModel
from escucha.ivr.schemas import validate_ivr
from escucha.ivr.service import say
from escucha.yamlio import YamlFileError, YamlProblem, dotted, line_of

PREFIX: tuple[str, ...] = ("ivr",)


def unknown_queues(model: IvrModel, known: Iterable[str]) -> list[tuple[str, str]]:
    """``(node id, queue)`` of queue and callback nodes naming a queue not in ``known``."""
    names = set(known)
    return [
        (node.id, node.queue)
        for node in model.nodes.values()
        if node.type in ("queue", "callback") and node.queue is not None
        if node.queue not in names
    ]


def problems_for_org_ivr(
    doc: Any, filename: str, *, check_queues: bool = True
) -> list[YamlProblem]:
    """Problems of the ``ivr:`` key of a loaded organisation document (``[]`` when fine).

    ``doc`` is the document from :func:`escucha.yamlio.load_text` (lines are kept). Without
    an ``ivr:`` key (or ``ivr: null``) there is nothing to check. With ``check_queues`` the
    queue of every queue and callback node must be one of the document's ``queues:``.
    """
    if not isinstance(doc, Mapping) or doc.get("ivr") is None:
        return []
    try:
        spec = validate_ivr(doc, filename, PREFIX)
    except YamlFileError as exc:
        return list(exc.problems)
    model = spec.to_model()
    out = [
        YamlProblem(
            filename,
            line_of(doc, (*PREFIX, *f.path)),
            dotted((*PREFIX, *f.path)),
            f"[{f.rule}] {say(f.message, 'en')}",
        )
        for f in errors(lint(model))
    ]
    if check_queues:
        queues = doc.get("queues") or []
        known = [q.get("name") for q in queues if isinstance(q, Mapping)]
        for node_id, queue in unknown_queues(model, (k for k in known if isinstance(k, str))):
            loc = (*PREFIX, "nodes", node_id, "queue")
            out.append(
                YamlProblem(
                    filename,
                    line_of(doc, loc),
                    dotted(loc),
                    f"unknown queue {queue!r} (queues: {', '.join(sorted(map(str, known)))})",
                )
            )
    return out


def storable_ivr(ivr: Any) -> dict[str, Any]:
    """The IVR as JSON-safe plain data (dates and times as ISO text) for ``Organisation.ivr``.

    YAML reads ``closed_dates: [2026-12-24]`` as dates, which a JSON column cannot hold; the
    IVR schema reads the ISO text back as dates.
    """
    if ivr is None:
        return {}
    plain = _plain(ivr)
    if not isinstance(plain, dict):
        raise TypeError("the IVR must be a mapping")
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value
