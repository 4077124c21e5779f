"""Administration in the browser: people and the organisation's settings, with the same
validation as the organisation YAML and every change in the audit trail.

A section of the organisation (calendars, teams, queues...) is edited as its YAML: the admin's
text replaces that section of the exported organisation and the whole is checked by
:func:`escucha.org.service.parse_org` and applied by :func:`escucha.org.service.apply_org`, all
or nothing, exactly as ``escucha config apply`` would. The edited text comes first in the
document checked, so the line numbers of its problems are the admin's own.

People are edited with forms: the account (:mod:`escucha.auth`) and the agent profile (team,
skills with levels, languages) change together; disabling a person or resetting their password
ends their sessions at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha import languages, yamlio
from escucha.audit import service as audit
from escucha.auth import service as auth_service
from escucha.auth.models import User
from escucha.errors import InvalidInput, NotFound
from escucha.org import models as m
from escucha.org.schemas import UserIn
from escucha.org.service import apply_org, export_org, parse_org

#: The sections an admin edits as YAML, in the order of the organisation file.
SECTIONS = ("organisation", "calendars", "teams", "skills", "queues", "sla_policies")
#: The languages a person can serve customers in.
LANGUAGES: tuple[str, ...] = languages.CODES


def section_yaml(session: Session, section: str) -> str:
    """One section of the organisation as the YAML the admin edits."""
    if section not in SECTIONS:
        raise NotFound(f"no section {section!r}")
    current = export_org(session)
    return yamlio.dump_text(
        {section: current.get(section, [] if section != "organisation" else {})}
    )


def overview(session: Session) -> tuple[m.Organisation | None, dict[str, int]]:
    """The organisation and how many queues, teams, users and calendars it has."""
    counts = {
        key: int(session.scalar(select(func.count()).select_from(model)) or 0)
        for key, model in (
            ("queues", m.Queue),
            ("teams", m.Team),
            ("users", User),
            ("calendars", m.Calendar),
        )
    }
    return session.scalar(select(m.Organisation).order_by(m.Organisation.id).limit(1)), counts


def apply_section(
    session: Session, section: str, text: str, *, now: datetime, actor: str
) -> dict[str, int]:
    """Check the whole organisation with ``section`` replaced by ``text`` and apply it."""
    if section not in SECTIONS:
        raise NotFound(f"no section {section!r}")
    filename = f"{section}.yaml"
    edited = yamlio.load_text(text, filename)
    if not isinstance(edited, dict) or set(edited) != {section}:
        raise yamlio.YamlFileError(
            [yamlio.YamlProblem(filename, 1, "", f"the text must have one key, {section}:")]
        )
    current = export_org(session)
    if not current and section != "organisation":
        raise InvalidInput("load the organisation first (its name, country and time zone)")
    rest = {k: v for k, v in current.items() if k != section}
    composed = text.rstrip("\n") + "\n" + (yamlio.dump_text(rest) if rest else "")
    org, doc = parse_org(composed, filename)
    applied = apply_org(session, org, now=now)
    audit.record(
        session,
        action="org.section_changed",
        actor=actor,
        subject_kind="organisation",
        subject_ref=section,
        now=now,
        data={"before": current.get(section), "after": yamlio.to_plain(doc[section])},
    )
    return applied


@dataclass(frozen=True)
class Person:
    """A user as the admin sees them: account and agent profile together."""

    id: int
    username: str
    display_name: str
    role: str
    email: str | None
    language: str
    active: bool
    team: str | None
    skills: dict[str, int]
    languages: list[str]


@dataclass
class PersonForm:
    """What the admin typed; checked by the organisation file's own user schema."""

    username: str
    display_name: str = ""
    role: str = "agent"
    email: str = ""
    language: str = "es"
    team: str = ""
    skills: dict[str, int] = field(default_factory=dict)
    languages: list[str] = field(default_factory=lambda: ["es"])
    password: str = ""

    def checked(self) -> UserIn:
        data: dict[str, Any] = {
            "username": self.username.strip(),
            "display_name": self.display_name.strip(),
            "role": self.role,
            "email": self.email.strip() or None,
            "language": self.language,
            "team": self.team or None,
            "skills": {k: v for k, v in self.skills.items() if v > 0},
            "languages": self.languages or ["es"],
            "password": self.password or None,
        }
        return yamlio.validate(UserIn, data, "user")


def people(session: Session) -> list[Person]:
    teams = {t.id: t.name for t in session.scalars(select(m.Team))}
    profiles = {p.user_id: p for p in session.scalars(select(m.AgentProfile))}
    out = []
    for u in session.scalars(select(User).order_by(User.active.desc(), User.username)):
        p = profiles.get(u.id)
        out.append(
            Person(
                id=u.id,
                username=u.username,
                display_name=u.display_name,
                role=u.role,
                email=u.email,
                language=u.language,
                active=u.active,
                team=teams.get(p.team_id) if p and p.team_id else None,
                skills=dict(p.skills) if p else {},
                languages=list(p.languages) if p else [],
            )
        )
    return out


def person(session: Session, user_id: int) -> Person:
    found = next((p for p in people(session) if p.id == user_id), None)
    if found is None:
        raise NotFound(f"user {user_id} not found")
    return found


def _known(session: Session, form: UserIn) -> int | None:
    """The team's id, after checking the team and skills exist."""
    team_id = None
    if form.team:
        team_id = session.scalar(select(m.Team.id).where(m.Team.name == form.team))
        if team_id is None:
            raise InvalidInput(f"team: unknown team {form.team!r}")
    skills = set(session.scalars(select(m.Skill.name)))
    unknown = sorted(set(form.skills) - skills)
    if unknown:
        raise InvalidInput(f"skills: unknown skill {unknown[0]!r}")
    return team_id


def _profile(session: Session, user: User, form: UserIn, team_id: int | None) -> None:
    profile = session.scalar(select(m.AgentProfile).where(m.AgentProfile.user_id == user.id))
    if profile is None:
        profile = m.AgentProfile(user_id=user.id)
        session.add(profile)
    profile.team_id = team_id
    profile.skills = dict(form.skills)
    profile.languages = list(form.languages)


def _audit(
    session: Session,
    user: User,
    action: str,
    *,
    now: datetime,
    actor: str,
    data: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        action=action,
        actor=actor,
        subject_kind="user",
        subject_id=user.id,
        subject_ref=user.username,
        now=now,
        data=data,
    )


def create_person(session: Session, form: PersonForm, *, now: datetime, actor: str) -> User:
    checked = form.checked()
    team_id = _known(session, checked)
    user = auth_service.create_user(
        session,
        username=checked.username,
        display_name=checked.display_name,
        role=checked.role,
        email=checked.email,
        language=checked.language,
        password=checked.password,
        now=now,
    )
    _profile(session, user, checked, team_id)
    session.flush()
    _audit(
        session,
        user,
        "user.created",
        now=now,
        actor=actor,
        data=checked.model_dump(exclude={"password"}),
    )
    return user


def update_person(
    session: Session, user_id: int, form: PersonForm, *, now: datetime, actor: str
) -> User:
    user = auth_service.get_user(session, user_id)
    before = person(session, user_id)
    form.username = user.username  # the username names the person everywhere: it stays
    checked = form.checked()
    team_id = _known(session, checked)
    user.display_name = checked.display_name or user.username
    user.role = checked.role
    user.email = checked.email
    user.language = checked.language
    _profile(session, user, checked, team_id)
    session.flush()
    _audit(
        session,
        user,
        "user.changed",
        now=now,
        actor=actor,
        data={
            "before": {k: v for k, v in before.__dict__.items() if k != "id"},
            "after": checked.model_dump(exclude={"password", "username"}),
        },
    )
    return user


def set_active(
    session: Session, user_id: int, active: bool, *, now: datetime, actor: str, by: int
) -> User:
    """Enable or disable a person; a disabled person's sessions end at once."""
    if user_id == by and not active:
        raise InvalidInput("you cannot disable your own account")
    user = auth_service.get_user(session, user_id)
    user.active = active
    ended = 0 if active else auth_service.end_sessions(session, user, now=now, reason="disabled")
    _audit(
        session,
        user,
        "user.enabled" if active else "user.disabled",
        now=now,
        actor=actor,
        data={"sessions_ended": ended},
    )
    return user


def reset_password(session: Session, user_id: int, *, now: datetime, actor: str) -> str:
    """A new random password for the person, shown once to the admin; their sessions end and
    their API tokens are revoked (see :func:`escucha.auth.service.set_password`)."""
    user = auth_service.get_user(session, user_id)
    password = secrets.token_urlsafe(12)
    auth_service.set_password(session, user, password, now=now)
    _audit(session, user, "user.password_reset", now=now, actor=actor)
    return password


def end_sessions(session: Session, user_id: int, *, now: datetime, actor: str) -> int:
    user = auth_service.get_user(session, user_id)
    ended = auth_service.end_sessions(session, user, now=now, reason="admin")
    _audit(
        session, user, "user.sessions_ended", now=now, actor=actor, data={"sessions_ended": ended}
    )
    return ended
