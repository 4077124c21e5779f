from __future__ import annotations

import pytest

from escucha.config import DEFAULT_SECRET, Settings, load_settings
from escucha.errors import ConfigurationError


def test_defaults_are_sqlite_and_development() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.environment == "development"
    assert s.is_sqlite
    assert s.database_url == "sqlite:///./escucha.db"


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESCUCHA_PORT", "9123")
    monkeypatch.setenv("ESCUCHA_HOST", "10.1.2.3")
    s = load_settings()
    assert (s.port, s.host) == (9123, "10.1.2.3")
    assert s.public_url == "http://10.1.2.3:9123"


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValueError, match="ESCUCHA_SECRET_KEY"):
        Settings(environment="production", secret_key=DEFAULT_SECRET)
    with pytest.raises(ValueError, match="at least 32"):
        Settings(environment="production", secret_key="short")
    ok = Settings(environment="production", secret_key="x" * 40)
    assert ok.environment == "production"


def test_load_settings_reports_bad_values_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESCUCHA_PORT", "not-a-port")
    with pytest.raises(ConfigurationError, match="port"):
        load_settings()
