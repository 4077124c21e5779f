"""Settings, built once and passed into ``create_app(settings)``.

Every value can come from an ``ESCUCHA_``-prefixed environment variable. Tests build
``Settings(...)`` directly and never read the machine's environment.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from escucha.asterisk.rules import events_url
from escucha.errors import ConfigurationError
from escucha.voice.rules import parse_embed_origins, parse_ice_servers, parse_sip_ws_url

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
    #: The session cookie is sent over HTTPS only. Unset: on in production, off elsewhere;
    #: production refuses ``false``.
    secure_cookies: bool | None = None
    #: Proxies whose ``X-Forwarded-For``/``-Proto`` headers are believed: comma-separated
    #: addresses or networks (``10.0.0.5,192.168.1.0/24``); none by default.
    trusted_proxies: str = ""
    #: Failed logins a minute from one address, whatever the account.
    login_rate_per_min: int = 10
    status_rate_per_min: int = 20
    #: Largest request body of an uploading route (``escucha.bodylimit.ROUTE_LIMITS``).
    max_upload_bytes: int = 5 * 1024 * 1024
    #: Largest request body of every other route (forms, JSON).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: Largest body of a provider's webhook (Twilio), checked before its signature.
    max_webhook_bytes: int = Field(default=64 * 1024, ge=1024)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 0
    smtp_from: str = "escucha@localhost"
    smtp_listen_port: int = 0
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = ""
    #: Twilio's REST API address; set only to point escucha at a stand-in (load tests).
    twilio_api_url: str = ""
    #: Agents' desks on Twilio's Voice JavaScript SDK: an API key (SK...) and its secret, and
    #: the TwiML app (AP...) the SDK's calls use; access tokens live this long (ADR 24).
    twilio_api_key_sid: str = ""
    twilio_api_key_secret: str = ""
    twilio_twiml_app_sid: str = ""
    twilio_token_ttl_s: int = Field(default=600, ge=60, le=3600)
    sms_webhook_url: str = ""
    outbox_dir: Path = Path("./outbox")
    #: Speech (recorded calls to transcripts): engine and server per language, see
    #: docs/guides/speech.md. pocketsphinx is offline English; vosk and whisper are servers.
    speech_engine: Literal["pocketsphinx", "vosk", "whisper"] = "pocketsphinx"
    speech_engine_en: Literal["", "pocketsphinx", "vosk", "whisper"] = ""
    speech_engine_es: Literal["", "pocketsphinx", "vosk", "whisper"] = ""
    speech_url: str = ""
    speech_url_en: str = ""
    speech_url_es: str = ""
    speech_dir: Path = Path("./recordings")
    speech_mask_numbers: bool = True
    speech_retention_days: float = Field(default=90.0, gt=0)
    #: Both sides silent this long is a hold; unannounced, it fails "announces holds".
    speech_silence_s: float = Field(default=8.0, gt=0)
    #: The agent speaking this long without the customer is a monologue.
    speech_monologue_s: float = Field(default=30.0, gt=0)
    #: The agent speaking over the customer this long is talking over them.
    speech_overlap_s: float = Field(default=1.0, gt=0)
    #: Channel of the agent in two-channel recordings (Twilio's dual recordings: 1).
    speech_twilio_agent_channel: int = Field(default=1, ge=0, le=1)
    #: The offline English engine's language model: "contact_centre" (the general model's
    #: words mixed with what agents and customers say, escucha.speech.lm) or "general".
    speech_pocketsphinx_lm: Literal["contact_centre", "general"] = "contact_centre"
    #: Share of the contact-centre text in the mixed model's word frequencies.
    speech_pocketsphinx_lm_weight: float = Field(default=0.5, gt=0, le=1)

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
    #: The PBX's WebSocket for agents' browser phones (ADR 23), e.g.
    #: "wss://pbx.example.org:8089/ws". Empty: no agent's phone is the browser.
    sip_ws_url: str = ""
    #: The SIP domain of agents' addresses (``sip:<username>@<domain>``); empty: the PBX's host.
    sip_domain: str = ""

    #: Asterisk REST Interface (ADR 22): the base address (``https://pbx:8089/ari``), the ari.conf
    #: user and password, and the Stasis application the dialplan sends calls to. When the
    #: address is set, the process that runs the job worker also drives the PBX's calls.
    ari_url: str = ""
    ari_user: str = ""
    ari_password: str = ""
    ari_app: str = Field(default="escucha", pattern=r"^[A-Za-z0-9_.-]{1,80}$")
    #: Seconds the node consuming the PBX's events holds its lease; another node takes over
    #: within this when it stops.
    ari_lease_s: float = Field(default=6.0, gt=0, le=300)
    #: Asterisk Manager Interface, observe-only mode: Asterisk's own queues answer the calls and
    #: escucha writes their events into its contact log (its promises do not apply there).
    ami_host: str = ""
    ami_port: int = Field(default=5038, ge=1, le=65535)
    ami_user: str = ""
    ami_secret: str = ""

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.environment == "production" and (
            self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32
        ):
            raise ValueError(
                "ESCUCHA_SECRET_KEY must be set to a random value of at least 32 characters "
                "outside development"
            )
        if self.environment == "production" and self.secure_cookies is False:
            raise ValueError(
                "ESCUCHA_SECURE_COOKIES cannot be false in production: the session cookie "
                "must travel over HTTPS only"
            )
        for item in self.trusted_proxy_list:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"ESCUCHA_TRUSTED_PROXIES: {item!r} is not an IP address or network"
                ) from None
        return self

    @model_validator(mode="after")
    def _check_ice_servers(self) -> Settings:
        parse_ice_servers(self.ice_servers)  # a ValueError that says where and why
        parse_embed_origins(self.phone_embed_origins)
        parse_sip_ws_url(self.sip_ws_url)
        if self.ari_url:
            events_url(self.ari_url, self.ari_app)  # ESCUCHA_ARI_URL: not an http(s) address
        return self

    @property
    def cookies_secure(self) -> bool:
        """Whether the session cookie carries the ``Secure`` flag."""
        if self.secure_cookies is None:
            return self.environment == "production"
        return self.secure_cookies

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

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
