"""Arbitrary and mangled organisation YAML: a result or ``file:line: path: reason``, and an
apply that fails changes nothing.

Inputs are the demo organisation with lines dropped, repeated, cut or replaced by arbitrary
text, and plain arbitrary text. :func:`parse_org` returns or raises
:class:`~escucha.yamlio.YamlFileError` whose problems name the file and a line inside it;
``POST /api/v1/org/apply`` answers 200 or 422 (never a server error), and after a 422 the
exported organisation is exactly what it was.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from escucha import yamlio
from escucha.auth import service as auth_service
from escucha.org import service
from tests.conftest import START
from tests.factories import make_user

DEMO = Path(service.__file__).parent / "demo.yaml"
LINES = DEMO.read_text(encoding="utf-8").splitlines(keepends=True)
_noise = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "  - ",
            ": :",
            "- {name: x}",
            "  skills: {nada: 99}",
            "    timezone: Mars/Base",
            "&a [*a]",
            "!!python/object:os.system ls",
            "\t",
            "users: 3",
            '  - {username: "", role: god}',
            "    weekly: {mon: ['25:00-26:00']}",
        ]
    ),
)


@st.composite
def mangled(draw: st.DrawFn) -> str:
    """The demo file with one to four lines dropped, repeated, cut or replaced."""
    out = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(out) - 1))
        line = out[i]
        action = draw(st.sampled_from(["drop", "twice", "cut", "noise", "value"]))
        if action == "drop":
            del out[i]
        elif action == "twice":
            out.insert(i, line)
        elif action == "cut":
            out[i] = line[: draw(st.integers(0, max(0, len(line) - 2)))] + "\n"
        elif action == "noise":
            indent = line[: len(line) - len(line.lstrip())]
            out[i] = indent + draw(_noise) + "\n"
        elif ":" in line:  # keep the key, change the value
            key = line.split(":", 1)[0]
            out[i] = f"{key}: {draw(_noise)}\n"
    return "".join(out)


_files = st.one_of(mangled(), st.text(max_size=300))


@settings(max_examples=100, deadline=None, database=None)
@given(text=_files)
def test_parse_gives_an_organisation_or_where_and_why(text: str) -> None:
    try:
        org, _doc = service.parse_org(text, "org.yaml")
    except yamlio.YamlFileError as exc:
        refused: yamlio.YamlFileError | None = exc
    else:
        refused = None
    event("parsed" if refused is None else "refused")
    if refused is None:
        assert org.organisation is not None
        return
    assert refused.problems
    lines = text.count("\n") + 1
    for problem in refused.problems:
        assert problem.file == "org.yaml"
        assert problem.line is None or 1 <= problem.line <= lines
        assert problem.message
        assert str(problem).startswith("org.yaml")


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=_files)
def test_an_apply_that_fails_changes_nothing(
    client: TestClient, session: Session, text: str
) -> None:
    headers = _admin(session)
    before = client.get("/api/v1/org/export", headers=headers)
    assert before.status_code == 200
    r = client.post("/api/v1/org/apply", content=text.encode("utf-8"), headers=headers)
    assert r.status_code in (200, 422), r.text
    event(f"status {r.status_code}")
    if r.status_code == 422:
        assert r.json()["error"] in ("invalid_yaml", "invalid_input")
        assert client.get("/api/v1/org/export", headers=headers).json() == before.json()


def _admin(session: Session) -> dict[str, str]:
    """The demo organisation and an admin the files do not name (so no file can take the
    role away), made once: the fixtures are shared by every example."""
    if "fuzz_token" not in session.info:
        service.apply_file(session, DEMO, now=START)
        admin = make_user(session, username="fuzzadmin", role="admin")
        session.info["fuzz_token"] = auth_service.create_token(
            session, admin, "fuzz", now=START, scope="admin"
        )
        session.commit()
    return {"Authorization": f"Bearer {session.info['fuzz_token']}"}
