"""Runtime configuration: environment variables prefixed `VENDORWATCH_`, overridden by flags.

pydantic-settings reads and validates them, so a bad value stops the process at start with the
variable's name instead of failing minutes later inside a Kafka client.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "VENDORWATCH_"

DEFAULT_MAX_FUTURE_SKEW = 86400.0
"""How far past now an event may be dated, in seconds (a day: clocks and time zones of honest
producers differ by hours, a typo in the year by decades). Also the default of the validators
built without settings (tests, benchmarks)."""


class Settings(BaseSettings):
    """Every knob of a vendorwatch process; README "Configuration" lists them with examples."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,  # `KEY=` in an env file means unset, not ""
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    bootstrap_servers: str | None = Field(
        default=None,
        description="Kafka bootstrap servers (host:port,...). Unset: start the embedded broker.",
    )
    web_host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on.")
    web_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        default=6066, description="Port of the HTTP API (/vendors, /events, /metrics)."
    )
    broker_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        default=0, description="Port of the embedded broker (0: pick a free one)."
    )
    data_dir: Path = Field(
        default=Path(".vendorwatch"),
        description="Where the embedded broker's journal and delivery records are kept.",
    )
    policy: Path | None = Field(default=None, description="Policy YAML (unset: the default).")
    partitions: Annotated[int, Field(ge=1, le=1024)] = Field(
        default=4, description="Partitions of topics this process creates."
    )
    log_format: Literal["json", "console"] = Field(
        default="json", description="json for production, console for people."
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    ingest_token: Annotated[SecretStr, Field(min_length=16)] | None = Field(
        default=None,
        description="Bearer token required by POST /events, 16+ characters (unset: endpoint off).",
    )
    max_request_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = Field(
        default=1024 * 1024, description="Largest accepted POST /events body."
    )
    max_future_skew_seconds: Annotated[float, Field(gt=0, allow_inf_nan=False)] = Field(
        default=DEFAULT_MAX_FUTURE_SKEW,
        description="How far past now an event's time may be (seconds); later ones are refused "
        "(reason time_in_future): one typo dated 2052 would otherwise freeze its vendor's score.",
    )
    clock: Literal["wall", "scenario"] = Field(
        default="wall",
        description="What moves stream time: the wall clock (production), or the scenario "
        "being played (the demo, tests): its clock records and the times of its events.",
    )
    tick_seconds: Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)] = Field(
        default=60.0,
        description="How often a wall-clock worker evaluates the deadlines that fell due "
        "(alerts that end, scores that decay across a band); the live view is at most this late.",
    )
    slack_webhook_url: SecretStr | None = None
    webhook_url: SecretStr | None = None
    webhook_secret: Annotated[SecretStr, Field(min_length=16)] | None = None
    alertmanager_url: str | None = None
    worker_id: str | None = Field(
        default=None, description="Name of this worker in logs (default: host and port)."
    )

    @field_validator("bootstrap_servers")
    @classmethod
    def _servers(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        servers = [s.strip() for s in value.split(",")]
        for server in servers:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"{server!r} is not host:port")
        return ",".join(servers)

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # a Standard Webhooks secret is `whsec_` + base64; refused here, at start, rather than
        # when the first notification is signed (the message never repeats the secret)
        text = value.get_secret_value() if value is not None else ""
        if text.startswith("whsec_"):
            try:
                key = base64.b64decode(text[len("whsec_") :], validate=True)
            except (binascii.Error, ValueError):
                key = b""
            if not key:
                raise ValueError("a whsec_ secret must be non-empty base64 after the prefix")
        return value

    @property
    def max_future_skew(self) -> float:
        """`max_future_skew_seconds` under the name the validators use (seconds, > 0)."""
        return self.max_future_skew_seconds

    @property
    def embedded(self) -> bool:
        """True when no Kafka is configured and the embedded broker must be started."""
        return self.bootstrap_servers is None


class SettingsError(ValueError):
    """A configuration value is invalid; the message names the environment variable."""


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with command-line `overrides` (None means not given)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False, include_input=False):
            field = ".".join(str(p) for p in err["loc"])
            source = f"--{field.replace('_', '-')}" if field in given else f"{ENV_PREFIX}{field}"
            lines.append(
                f"{source.upper() if source.startswith(ENV_PREFIX) else source}: {err['msg']}"
            )
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None
