from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha import yamlio
from escucha.auth import service as auth_service
from escucha.org import models as m
from escucha.org import service
from tests.conftest import START

DEMO = Path(service.__file__).parent / "demo.yaml"


def test_the_demo_organisation_applies_and_exports_round_trip(session: Session) -> None:
    counts = service.apply_file(session, DEMO, now=START)
    assert counts["queues"] == 3
    assert counts["users"] == 5
    exported = service.export_org(session)
    assert exported["organisation"]["regulatory_profile"] == "es-ley-10-2025"
    assert {q["name"] for q in exported["queues"]} == {"facturas", "averias", "reclamaciones"}
    assert all("password" not in u for u in exported["users"])
    text = yamlio.dump_text(exported)
    org, _ = service.parse_org(text, "exported.yaml")
    assert service.apply_org(session, org, now=START) == counts
    assert session.scalar(select(func.count()).select_from(m.Queue)) == 3


def test_demo_accounts_can_log_in(session: Session) -> None:
    service.apply_file(session, DEMO, now=START)
    assert auth_service.authenticate(session, "ana", "escucha-demo").role == "agent"


BAD = """\
organisation:
  name: Test
  country: ES
calendars:
  - name: main
    timezone: Europe/Nowhere
    hours:
      mon: ["09:00-08:00"]
teams:
  - {name: t1, calendar: main}
queues:
  - name: billing
    team: nobody
    skills: {facturas: 1}
"""


def test_a_bad_file_names_path_and_line_of_every_problem() -> None:
    with pytest.raises(yamlio.YamlFileError) as err:
        service.parse_org(BAD, "org.yaml")
    text = str(err.value)
    assert "org.yaml:6: calendars[0].timezone" in text
    assert "Europe/Nowhere" in text
    assert "org.yaml:7: calendars[0].hours: mon: '09:00-08:00' ends before it starts" in text


def test_unknown_references_are_reported_with_lines() -> None:
    fixed = BAD.replace("Europe/Nowhere", "Europe/Madrid").replace("09:00-08:00", "09:00-18:00")
    with pytest.raises(yamlio.YamlFileError) as err:
        service.parse_org(fixed, "org.yaml")
    problems = {(p.line, p.path) for p in err.value.problems}
    assert (13, "queues[0].team") in problems
    assert (14, "queues[0].skills") in problems


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(yamlio.YamlFileError) as err:
        service.parse_org("organisation:\n  name: [unclosed\n", "x.yaml")
    assert err.value.problems[0].line is not None
    assert str(err.value).startswith("x.yaml:")


def test_nothing_is_half_applied(session_factory: object, tmp_path: Path) -> None:
    from sqlalchemy.orm import sessionmaker

    from escucha.db.session import transaction

    assert isinstance(session_factory, sessionmaker)
    text = DEMO.read_text(encoding="utf-8").replace(
        "password: escucha-demo, language: es, team: atencion}",
        "password: short, language: es, team: atencion}",
    )
    bad = tmp_path / "org.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(yamlio.YamlFileError), transaction(session_factory) as s:
        service.apply_file(s, bad, now=START)
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(m.Queue)) == 0
        assert s.scalar(select(m.Organisation)) is None
