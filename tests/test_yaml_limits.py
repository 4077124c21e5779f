"""YAML bombs and oversized documents are refused by the one loader, on every door that reads
YAML: the organisation API (admin), the scorecard editor (supervisor) and the CLI (ADR 18)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ruamel.yaml import YAML
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from escucha import yamlio
from escucha.auth import service as auth_service
from escucha.config import Settings
from escucha.org import models as org
from escucha.qa.models import ScorecardVersion
from tests.conftest import START, csrf_from, login
from tests.factories import make_login_user, make_user

# "Billion laughs": 9 levels of 9 aliases each, 9**9 = 387 million strings once expanded.
BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{n}: &{n} [{','.join(['*' + p] * 9)}]"
            for p, n in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)
PASSWORD = "correct-horse-battery"


def _expanded_size(node: Any, memo: dict[int, int]) -> int:
    """Values the document has once its aliases are written out (what copying it costs)."""
    key = id(node)
    if key not in memo:
        if isinstance(node, dict):
            memo[key] = 1 + sum(_expanded_size(v, memo) for v in node.values())
        elif isinstance(node, list):
            memo[key] = 1 + sum(_expanded_size(v, memo) for v in node)
        else:
            memo[key] = 1
    return memo[key]


def test_the_bomb_is_small_and_ruaml_alone_would_expand_it_to_hundreds_of_millions() -> None:
    assert len(BOMB.encode()) < 450
    plain = YAML(typ="rt").load(BOMB)  # shared references: cheap to load ...
    # ... but every copy or validation of it walks hundreds of millions of values
    assert _expanded_size(plain, {}) > 300_000_000


def test_the_loader_refuses_the_bomb_at_its_first_anchor_before_reading_on() -> None:
    started = time.perf_counter()
    with pytest.raises(yamlio.YamlFileError) as refused:
        yamlio.load_text(BOMB, "bomb.yaml")
    elapsed = time.perf_counter() - started
    (problem,) = refused.value.problems
    assert problem.file == "bomb.yaml"
    assert problem.line == 1
    assert "anchor &a refused" in problem.message
    assert str(problem).startswith("bomb.yaml:1: ")
    cause = refused.value.__cause__
    assert isinstance(cause, yamlio.YamlLimitError)
    assert cause.nodes_read <= 2  # the root mapping and the key: nothing was expanded
    assert elapsed < 0.5


def test_an_alias_alone_is_refused_with_its_line() -> None:
    # an anchor the loader cannot see (a node property on a later line) still ends at the alias
    text = "uno: 1\ndos:\n  - x\n  - *nada\n"
    with pytest.raises(yamlio.YamlFileError) as refused:
        yamlio.load_text(text, "f.yaml")
    assert "f.yaml:4" in str(refused.value)
    assert "alias *nada refused" in str(refused.value)


def test_node_count_depth_and_size_are_bounded_with_clear_reasons(tmp_path: Path) -> None:
    limits = yamlio.YamlLimits(max_bytes=1000, max_nodes=20, max_depth=5)
    many = "items:\n" + "".join(f"  - {i}\n" for i in range(30))
    with pytest.raises(yamlio.YamlFileError) as refused:
        yamlio.load_text(many, "many.yaml", limits)
    assert "more than 20 values" in str(refused.value)
    assert refused.value.problems[0].line == 19  # the 21st value: map, key, list, 18th item
    deep = "x: " + "[" * 10 + "]" * 10
    with pytest.raises(yamlio.YamlFileError, match="deeper than 5 levels"):
        yamlio.load_text(deep, "deep.yaml", limits)
    with pytest.raises(yamlio.YamlFileError, match="larger than the 1000 bytes"):
        yamlio.load_text("x: " + "y" * 1000, "big.yaml", limits)
    # a file is not read past the limit: a sparse 1 GB file is refused at once
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as fh:
        fh.truncate(1 << 30)
    started = time.perf_counter()
    with pytest.raises(yamlio.YamlFileError, match="larger than"):
        yamlio.load(huge)
    assert time.perf_counter() - started < 0.5
    # within the limits all is read as before
    assert yamlio.load_text("items: [1, 2]\n", "ok.yaml", limits) == {"items": [1, 2]}


def test_every_shipped_yaml_file_reads_within_the_limits() -> None:
    root = Path(yamlio.__file__).parent
    files = sorted(root.rglob("*.yaml"))
    assert len(files) >= 8
    for path in files:
        assert yamlio.load(path) is not None, path


def test_the_org_api_refuses_the_bomb(client: TestClient, session: Session) -> None:
    admin = make_user(session, username="root", role="admin")
    token = auth_service.create_token(session, admin, "t", now=START, scope="admin")
    session.commit()
    queues = session.scalar(select(func.count()).select_from(org.Queue))
    started = time.perf_counter()
    r = client.post(
        "/api/v1/org/apply",
        content=BOMB.encode(),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert time.perf_counter() - started < 2
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_yaml"
    assert r.json()["detail"].startswith("org.yaml:1: ")
    assert "anchors and aliases are not allowed" in r.json()["detail"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(org.Queue)) == queues


def test_the_scorecard_editor_refuses_the_bomb(client: TestClient, session: Session) -> None:
    make_login_user(session, "sup", "supervisor")
    session.commit()
    assert login(client, "sup", PASSWORD).status_code == 303
    page = client.get("/qa/scorecards")
    versions = session.scalar(select(func.count()).select_from(ScorecardVersion))
    started = time.perf_counter()
    r = client.post("/qa/scorecards", data={"yaml": BOMB, "csrf_token": csrf_from(page.text)})
    assert time.perf_counter() - started < 2
    assert r.status_code == 422
    assert "anchor &amp;a refused" in r.text
    assert "línea 1" in r.text
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ScorecardVersion)) == versions


@pytest.mark.parametrize("command", ["check", "apply"])
def test_the_cli_refuses_the_bomb(settings: Settings, tmp_path: Path, command: str) -> None:
    bomb = tmp_path / "org.yaml"
    bomb.write_text(BOMB, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESCUCHA_")}
    env["ESCUCHA_DATABASE_URL"] = settings.database_url
    done = subprocess.run(
        [sys.executable, "-m", "escucha", "config", command, str(bomb)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert f"{bomb}:1: " in done.stderr
    assert "anchors and aliases are not allowed" in done.stderr
    assert "Traceback" not in done.stderr


PARSER_IMPORT = re.compile(r"^\s*(?:import|from)\s+(?:ruamel|yaml)\b", re.M)


def test_no_module_but_the_loader_parses_yaml() -> None:
    root = Path(yamlio.__file__).parent
    readers = [
        str(path.relative_to(root))
        for path in sorted(root.rglob("*.py"))
        if path.name != "yamlio.py" and PARSER_IMPORT.search(path.read_text(encoding="utf-8"))
    ]
    assert readers == []
