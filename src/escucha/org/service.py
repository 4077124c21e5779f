"""Apply and export the organisation YAML, all or nothing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from escucha import yamlio
from escucha.auth import service as auth_service
from escucha.auth.models import User
from escucha.ivr.orgcheck import problems_for_org_ivr, storable_ivr
from escucha.org import models as m
from escucha.org.schemas import OrgFile


def parse_org(text: str, filename: str) -> tuple[OrgFile, Any]:
    """Parse and validate the file, cross-references included; every problem is reported."""
    doc = yamlio.load_text(text, filename)
    if not isinstance(doc, dict):
        raise yamlio.YamlFileError(
            [yamlio.YamlProblem(filename, 1, "", "the file must be a mapping (key: value)")]
        )
    org = yamlio.validate(OrgFile, doc, filename)
    problems: list[yamlio.YamlProblem] = []

    def check(section: str, index: int, key: str, value: str | None, known: Iterable[str]) -> None:
        if value is not None and value not in set(known):
            path: list[str | int] = [section, index, key]
            problems.append(
                yamlio.YamlProblem(
                    filename,
                    yamlio.line_of(doc, path),
                    yamlio.dotted(path),
                    f"unknown {key} {value!r}",
                )
            )

    def unique(section: str, names: list[str]) -> None:
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                path: list[str | int] = [section, i, "name"]
                problems.append(
                    yamlio.YamlProblem(
                        filename,
                        yamlio.line_of(doc, path),
                        yamlio.dotted(path),
                        f"{name!r} appears twice",
                    )
                )
            seen.add(name)

    calendars = [c.name for c in org.calendars]
    teams = [t.name for t in org.teams]
    skills = [s.name for s in org.skills]
    queues = [q.name for q in org.queues]
    for section, names in (
        ("calendars", calendars),
        ("teams", teams),
        ("skills", skills),
        ("queues", queues),
        ("sla_policies", [p.name for p in org.sla_policies]),
    ):
        unique(section, names)
    for i, t in enumerate(org.teams):
        check("teams", i, "calendar", t.calendar, calendars)
    for i, q in enumerate(org.queues):
        check("queues", i, "team", q.team, teams)
        check("queues", i, "calendar", q.calendar, calendars)
        check("queues", i, "overflow_queue", q.overflow_queue, queues)
        for skill in q.skills:
            check("queues", i, "skills", skill, skills)
    for i, p in enumerate(org.sla_policies):
        check("sla_policies", i, "team", p.team, teams)
    for i, u in enumerate(org.users):
        check("users", i, "team", u.team, teams)
        for skill in u.skills:
            check("users", i, "skills", skill, skills)
    problems.extend(problems_for_org_ivr(doc, filename))
    if problems:
        raise yamlio.YamlFileError(problems)
    return org, doc


def _upsert(session: Session, model: type[Any], name: str) -> Any:
    row = session.scalar(select(model).where(model.name == name))
    if row is None:
        row = model(name=name)
        session.add(row)
    return row


def _named(value: str | dict[str, str], org: OrgFile, fallback: str) -> tuple[str, dict[str, str]]:
    """One name, or one per language: the name in the organisation's language (else the first
    given) and the names by language (none when only one name was given)."""
    if not isinstance(value, dict):
        return value or fallback, {}
    default = value.get(org.organisation.language) or next(iter(value.values()), "")
    return default or fallback, dict(value)


def apply_org(session: Session, org: OrgFile, *, now: datetime) -> dict[str, int]:
    """Create or update everything the file names (nothing it does not name is deleted)."""
    o = session.scalar(select(m.Organisation))
    if o is None:
        o = m.Organisation()
        session.add(o)
    o.name = org.organisation.name
    o.country = org.organisation.country
    o.subdivision = org.organisation.subdivision
    o.timezone = org.organisation.timezone
    o.language = org.organisation.language
    o.regulatory_profile = org.organisation.regulatory_profile
    o.ivr = storable_ivr(org.ivr)
    o.pbx_trunk = org.pbx.trunk if org.pbx is not None else ""

    cal_ids: dict[str, int] = {}
    for c in org.calendars:
        cal = _upsert(session, m.Calendar, c.name)
        cal.timezone = c.timezone
        cal.holiday_country = c.holidays.country if c.holidays else None
        cal.holiday_subdivision = c.holidays.subdivision if c.holidays else None
        cal.hours = dict(c.hours)
        cal.closures = [{"date": x.date.isoformat(), "reason": x.reason} for x in c.closures]
        session.flush()
        cal_ids[c.name] = cal.id
    team_ids: dict[str, int] = {}
    for t in org.teams:
        team = _upsert(session, m.Team, t.name)
        team.display_name, team.display_names = _named(t.display_name, org, t.name)
        team.calendar_id = cal_ids[t.calendar]
        team.handles_complaints = t.handles_complaints
        session.flush()
        team_ids[t.name] = team.id
    for s in org.skills:
        skill = _upsert(session, m.Skill, s.name)
        skill.description, skill.descriptions = _named(s.description, org, "")
    team_cal = {t.name: t.calendar for t in org.teams}
    for q in org.queues:
        queue = _upsert(session, m.Queue, q.name)
        queue.display_name = dict(q.display_name)
        queue.team_id = team_ids[q.team]
        queue.calendar_id = cal_ids[q.calendar or team_cal[q.team]]
        queue.skills = dict(q.skills)
        queue.priority = q.priority
        queue.callback_threshold_s = q.callback_threshold_s
        queue.overflow_queue = q.overflow_queue
        queue.overflow_after_s = q.overflow_after_s
        queue.short_abandon_s = q.short_abandon_s
        queue.sl_target_pct = q.sl_target_pct
        queue.sl_target_s = q.sl_target_s
        queue.after_hours = q.after_hours
    for p in org.sla_policies:
        pol = _upsert(session, m.SlaPolicy, p.name)
        pol.ticket_kind = p.ticket_kind
        pol.channel = p.channel
        pol.team_id = team_ids[p.team]
        pol.first_response = p.first_response.model_dump()
        pol.resolution = p.resolution.model_dump()
        pol.escalate_at = p.escalate_at
    for u in org.users:
        user = session.scalar(select(User).where(User.username == u.username))
        if user is None:
            user = auth_service.create_user(
                session,
                username=u.username,
                display_name=u.display_name,
                role=u.role,
                email=u.email,
                language=u.language,
                password=u.password,
                now=now,
            )
        else:
            user.display_name = u.display_name or u.username
            user.role = u.role
            user.email = u.email
            user.language = u.language
            if u.password:
                auth_service.set_password(session, user, u.password, now=now)
        profile = session.scalar(select(m.AgentProfile).where(m.AgentProfile.user_id == user.id))
        if profile is None:
            profile = m.AgentProfile(user_id=user.id)
            session.add(profile)
        profile.team_id = team_ids[u.team] if u.team else None
        profile.skills = dict(u.skills)
        profile.languages = list(u.languages)
        profile.pbx_endpoint = u.pbx_endpoint
    session.flush()
    return {
        "calendars": len(org.calendars),
        "teams": len(org.teams),
        "skills": len(org.skills),
        "queues": len(org.queues),
        "sla_policies": len(org.sla_policies),
        "users": len(org.users),
    }


def apply_file(session: Session, path: Path, *, now: datetime) -> dict[str, int]:
    org, _doc = parse_org(yamlio.read_text(path), str(path))
    return apply_org(session, org, now=now)


def queues(session: Session) -> list[m.Queue]:
    """Every queue, by name."""
    return list(session.scalars(select(m.Queue).order_by(m.Queue.name)))


def teams(session: Session) -> list[m.Team]:
    """Every team, by the name people see."""
    return list(session.scalars(select(m.Team).order_by(m.Team.display_name)))


def skills(session: Session) -> list[m.Skill]:
    """Every skill, by name."""
    return list(session.scalars(select(m.Skill).order_by(m.Skill.name)))


def complaint_queues(session: Session) -> set[str]:
    """The names of the queues whose team handles complaints."""
    return set(
        session.scalars(
            select(m.Queue.name)
            .join(m.Team, m.Team.id == m.Queue.team_id)
            .where(m.Team.handles_complaints.is_(True))
        )
    )


def agent_profile(session: Session, user_id: int) -> m.AgentProfile | None:
    """The agent's team, skills and languages (``None`` for a user who is not an agent)."""
    return session.scalar(select(m.AgentProfile).where(m.AgentProfile.user_id == user_id))


def organisation_name(session: Session) -> str:
    """The organisation's name (``""`` before one is configured)."""
    name = session.scalar(select(m.Organisation.name).order_by(m.Organisation.id).limit(1))
    return name or ""


def export_org(session: Session) -> dict[str, Any]:
    """The organisation as a plain structure that ``apply`` accepts (passwords never leave)."""
    o = session.scalar(select(m.Organisation))
    if o is None:
        return {}
    cals = {c.id: c for c in session.scalars(select(m.Calendar).order_by(m.Calendar.name))}
    teams = {t.id: t for t in session.scalars(select(m.Team).order_by(m.Team.name))}
    out: dict[str, Any] = {
        "organisation": {
            "name": o.name,
            "country": o.country,
            **({"subdivision": o.subdivision} if o.subdivision else {}),
            "timezone": o.timezone,
            "language": o.language,
            "regulatory_profile": o.regulatory_profile,
        },
        "calendars": [
            {
                "name": c.name,
                "timezone": c.timezone,
                **(
                    {
                        "holidays": {
                            "country": c.holiday_country,
                            **(
                                {"subdivision": c.holiday_subdivision}
                                if c.holiday_subdivision
                                else {}
                            ),
                        }
                    }
                    if c.holiday_country
                    else {}
                ),
                "hours": c.hours,
                "closures": c.closures,
            }
            for c in cals.values()
        ],
        "teams": [
            {
                "name": t.name,
                "display_name": dict(t.display_names) if t.display_names else t.display_name,
                "calendar": cals[t.calendar_id].name,
                "handles_complaints": t.handles_complaints,
            }
            for t in teams.values()
        ],
        "skills": [
            {
                "name": s.name,
                "description": dict(s.descriptions) if s.descriptions else s.description,
            }
            for s in session.scalars(select(m.Skill).order_by(m.Skill.name))
        ],
        "queues": [
            {
                "name": q.name,
                "display_name": q.display_name,
                "team": teams[q.team_id].name,
                "calendar": cals[q.calendar_id].name,
                "skills": q.skills,
                "priority": q.priority,
                "callback_threshold_s": q.callback_threshold_s,
                **({"overflow_queue": q.overflow_queue} if q.overflow_queue else {}),
                **({"overflow_after_s": q.overflow_after_s} if q.overflow_after_s else {}),
                "short_abandon_s": q.short_abandon_s,
                "sl_target_pct": q.sl_target_pct,
                "sl_target_s": q.sl_target_s,
                "after_hours": q.after_hours,
            }
            for q in session.scalars(select(m.Queue).order_by(m.Queue.name))
        ],
        "sla_policies": [
            {
                "name": p.name,
                "ticket_kind": p.ticket_kind,
                "channel": p.channel,
                "team": teams[p.team_id].name,
                "first_response": p.first_response,
                "resolution": p.resolution,
                "escalate_at": p.escalate_at,
            }
            for p in session.scalars(select(m.SlaPolicy).order_by(m.SlaPolicy.name))
        ],
    }
    profiles = {p.user_id: p for p in session.scalars(select(m.AgentProfile))}
    users = []
    for u in session.scalars(select(User).order_by(User.username)):
        prof = profiles.get(u.id)
        entry: dict[str, Any] = {
            "username": u.username,
            "display_name": u.display_name,
            "role": u.role,
            "language": u.language,
        }
        if u.email:
            entry["email"] = u.email
        if prof is not None:
            if prof.team_id:
                entry["team"] = teams[prof.team_id].name
            entry["skills"] = prof.skills
            entry["languages"] = prof.languages
            if prof.pbx_endpoint:
                entry["pbx_endpoint"] = prof.pbx_endpoint
        users.append(entry)
    out["users"] = users
    if o.ivr:
        out["ivr"] = o.ivr
    if o.pbx_trunk:
        out["pbx"] = {"trunk": o.pbx_trunk}
    return out
