"""``escucha voc``: the voice of the customer (M3).

``escucha voc themes FILE.csv [--k N] [--seed S] [--labels LABELS.yaml] [--json]`` groups
survey comments and complaint texts into themes. The CSV has a header with ``id`` and
``text`` and, optionally, ``at`` (ISO date or date-time, for the weekly trend) and
``source``. ``LABELS.yaml`` maps theme keys to labels people wrote.
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from escucha.surveys.themes import Comment, ThemeReport

voc_app = typer.Typer(
    name="voc",
    help="Voz del cliente: temas de comentarios y reclamaciones / Voice of the customer.",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _parse_at(value: str, where: str) -> date | datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _fail(f"{where}: 'at' is not an ISO date: {value!r}") from exc


def read_comments(path: Path) -> list[Comment]:
    """Read the CSV of texts; errors name the file and line."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.surveys.themes import Comment

    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise _fail(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("id", "text") if c not in (reader.fieldnames or [])]
        if missing:
            raise _fail(f"{path}:1: missing columns {', '.join(missing)}")
        out = []
        seen: set[str] = set()
        for line, row in enumerate(reader, start=2):
            where = f"{path}:{line}"
            ident = (row.get("id") or "").strip()
            if not ident:
                raise _fail(f"{where}: empty id")
            if ident in seen:
                raise _fail(f"{where}: duplicate id {ident!r}")
            seen.add(ident)
            out.append(
                Comment(
                    id=ident,
                    text=row.get("text") or "",
                    at=_parse_at(row.get("at") or "", where),
                    source=(row.get("source") or "survey").strip() or "survey",
                )
            )
    return out


def _read_labels(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    # Imported when the command runs, so the CLI starts fast.
    from escucha import yamlio

    try:
        document = yamlio.load(path)
    except yamlio.YamlFileError as exc:
        raise _fail(exc.message) from exc
    if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
        raise _fail(f"{path}: expected a mapping of theme key to label")
    return {str(k): str(v) for k, v in document.items()}


def report_json(report: ThemeReport) -> dict[str, Any]:
    return {
        "n_texts": report.n_texts,
        "k": report.k,
        "silhouette": report.silhouette,
        "themes": [
            {
                "key": t.key,
                "label": t.label,
                "top_terms": list(t.top_terms),
                "size": t.size,
                "member_ids": list(t.member_ids),
                "weekly": t.weekly,
            }
            for t in report.themes
        ],
    }


@voc_app.command("themes")
def themes(
    file: Annotated[Path, typer.Argument(help="CSV with id,text[,at,source].")],
    k: Annotated[
        int | None, typer.Option("--k", min=1, help="Number of themes (default: chosen).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="YAML: theme key -> label.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")] = False,
) -> None:
    """Group survey comments and complaints into themes, with a weekly trend."""
    # Imported when the command runs, so the CLI starts fast.
    from escucha.surveys.themes import find_themes

    comments = read_comments(file)
    report = find_themes(comments, k=k, seed=seed, labels=_read_labels(labels))
    if as_json:
        typer.echo(json.dumps(report_json(report), ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{file}: {report.n_texts} textos / texts")
    for column in ("key", "label", "size", "top terms", "weekly"):
        table.add_column(column)
    for t in report.themes:
        weekly = " ".join(f"{w}:{n}" for w, n in t.weekly.items())
        table.add_row(t.key, t.label, str(t.size), ", ".join(t.top_terms), weekly)
    Console(soft_wrap=True).print(table)


def register(app: typer.Typer) -> None:
    """Add the ``voc`` group to the root command."""
    app.add_typer(voc_app, name="voc")
