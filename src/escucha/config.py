"""Settings, built once and passed into ``create_app(settings)``.

Every value can come from an ``ESCUCHA_``-prefixed environment variable. Tests build
``Settings(...)`` directly and never read the machine's environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from escucha.errors import ConfigurationError

DEFAULT_SECRET = "escucha-development-secret-change-me"  # noqa: S105 - refused outside development

Environment = Literal["development", "test", "production"]


class Settings(BaseSettings):
    """Runtime configuration of one escucha deployment."""

    model_config = SettingsConfigDict(env_prefix="ESCUCHA_", extra="ignore")

    environment: Environment = "development"
    database_url: str = "sqlite:///./escucha.db"
    secret_key: str = DEFAULT_SECRET
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    base_url: str = ""
    default_language: Literal["es", "en"] = "es"
    run_worker: bool = True
    #: Seconds an idle HTTP connection stays open: longer than a proxy's or Twilio's reuse of
    #: it, so no request is sent on a connection the server is closing.
    keep_alive_s: int = Field(default=75, ge=1, le=3600)
    worker_poll_s: float = Field(default=1.0, gt=0)
    job_lock_s: float = Field(default=30.0, gt=0)
    #: Days a finished job is kept (failed ones stay until an admin acts on them).
    job_retention_days: float = Field(default=7.0, gt=0)
    log_json: bool = True
    log_level: str = "INFO"
    session_max_age_s: int = 12 * 3600
    secure_cookies: bool = False
    login_rate_per_min: int = 10
    status_rate_per_min: int = 20
    max_upload_bytes: int = 5 * 1024 * 1024
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 0
    smtp_from: str = "escucha@localhost"
    smtp_listen_port: int = 0
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = ""
    #: Twilio's REST API address; set only to point escucha at a stand-in (load tests).
    twilio_api_url: str = ""
    sms_webhook_url: str = ""
    outbox_dir: Path = Path("./outbox")
    #: WebRTC ICE servers for web calls: a JSON list of {"urls", "username", "credential"}
    #: (STUN/TURN). Empty: host candidates only, enough on one machine or a LAN.
    ice_servers: str = ""
    #: Sites allowed to show the web call in a frame (``/phone/embed``): origins separated by
    #: spaces, e.g. "https://www.example.org". Empty: no site may frame it.
    phone_embed_origins: str = ""
    #: Record web calls in the agent's desk (ADR 15); callers are told on the call's page.
    record_calls: bool = False
    #: Days a call recording is kept before the retention job deletes it.
    recording_retention_days: float = Field(default=90.0, gt=0)

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.environment == "production" and (
            self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32
        ):
            raise ValueError(
                "ESCUCHA_SECRET_KEY must be set to a random value of at least 32 characters "
                "outside development"
            )
        return self

    @model_validator(mode="after")
    def _check_ice_servers(self) -> Settings:
        from escucha.voice.rules import parse_embed_origins, parse_ice_servers

        parse_ice_servers(self.ice_servers)  # a ValueError that says where and why
        parse_embed_origins(self.phone_embed_origins)
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def public_url(self) -> str:
        return self.base_url.rstrip("/") or f"http://{self.host}:{self.port}"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with a clear error instead of a traceback."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigurationError(f"invalid settings: {exc}") from exc
