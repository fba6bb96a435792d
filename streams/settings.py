"""Runtime configuration: environment variables prefixed `VENDORWATCH_`, overridden by flags.

pydantic-settings reads and validates them, so a bad value stops the process at start with the
variable's name instead of failing minutes later inside a Kafka client. Any variable can also be
read from a file: `VENDORWATCH_X_FILE=/path` (the Docker convention for secrets) or a file named
`vendorwatch_x` in `VENDORWATCH_SECRETS_DIR` (a mounted secrets volume), so secrets need not sit
in the environment of every process that can read it.

Which broker a worker talks to is explicit: `VENDORWATCH_BOOTSTRAP_SERVERS` (Apache Kafka, or any
Kafka-protocol broker) or `VENDORWATCH_EMBEDDED` (a memory-only Tansu of its own, for
development). The broker-facing knobs (group timeouts, fetch wait, replication factor,
producer idempotence) default per broker profile: Apache Kafka's, or the embedded broker's.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as PydanticSettingsError

ENV_PREFIX = "VENDORWATCH_"
FILE_SUFFIX = "_FILE"
SECRETS_DIR_ENV = f"{ENV_PREFIX}SECRETS_DIR"

BrokerProfile = Literal["kafka", "tansu"]


@dataclass(frozen=True)
class BrokerTuning:
    """How a worker's Kafka clients behave towards the broker; one per profile, each field
    overridable by its own variable (README, Configuration)."""

    session_timeout_seconds: float
    rebalance_timeout_seconds: float
    heartbeat_interval_seconds: float
    fetch_max_wait_ms: int
    replication_factor: int
    producer_idempotence: bool


BROKER_PROFILES: dict[str, BrokerTuning] = {
    # Apache Kafka: the client defaults of Kafka 3.x (45 s session, 3 s heartbeat, 500 ms fetch
    # wait, idempotent producer), a rebalance timeout long enough for a worker to finish its
    # batch, and three replicas of each created topic.
    "kafka": BrokerTuning(45.0, 60.0, 3.0, 500, 3, True),
    # The embedded Tansu (docs/broker.md): it completes a join after half the session timeout
    # and answers a fetch after a fraction of the wait, whatever arrived; it has one node and
    # fails InitProducerId, so no replicas and no idempotence.
    "tansu": BrokerTuning(6.0, 3.0, 1.0, 40, 1, False),
}

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
        description="Kafka bootstrap servers (host:port,...); a worker needs them or `embedded`.",
    )
    embedded: bool = Field(
        default=False,
        description="Start a memory-only embedded broker (Tansu) in this process: development "
        "and tests only, never set together with bootstrap_servers.",
    )
    broker_profile: BrokerProfile | None = Field(
        default=None,
        description="Defaults of the broker knobs below: kafka (Apache Kafka) or tansu (the "
        "embedded broker; a `vendorwatch broker` elsewhere). Unset: tansu when embedded.",
    )
    session_timeout_seconds: Annotated[float, Field(ge=1, le=1800, allow_inf_nan=False)] | None = (
        Field(default=None, description="Consumer group session timeout.")
    )
    rebalance_timeout_seconds: (
        Annotated[float, Field(ge=1, le=3600, allow_inf_nan=False)] | None
    ) = Field(default=None, description="How long a rebalance waits for members to rejoin.")
    heartbeat_interval_seconds: (
        Annotated[float, Field(gt=0, le=600, allow_inf_nan=False)] | None
    ) = Field(default=None, description="Group heartbeat interval, below the session timeout.")
    fetch_max_wait_ms: Annotated[int, Field(ge=0, le=30000)] | None = Field(
        default=None, description="Longest a fetch waits for records (the worker consumer's)."
    )
    replication_factor: Annotated[int, Field(ge=1, le=32767)] | None = Field(
        default=None, description="Replicas of the topics this process creates."
    )
    producer_idempotence: bool | None = Field(
        default=None, description="Idempotent producer (needs a broker with InitProducerId)."
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
        default=None,
        description="Name of this worker in logs and DLQ records (default: hostname:port).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags, then variables, then `*_FILE` variables, then the secrets directory."""
        return (
            init_settings,
            env_settings,
            FileVariableSource(settings_cls),
            file_secret_settings,
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

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.embedded and self.bootstrap_servers is not None:
            raise ValueError(
                f"{ENV_PREFIX}EMBEDDED (--embedded) and {ENV_PREFIX}BOOTSTRAP_SERVERS "
                "(--bootstrap-servers) exclude each other: pick one broker"
            )
        tuning = self.tuning
        if tuning.heartbeat_interval_seconds >= tuning.session_timeout_seconds:
            raise ValueError(
                f"{ENV_PREFIX}HEARTBEAT_INTERVAL_SECONDS ({tuning.heartbeat_interval_seconds:g}) "
                f"must be below {ENV_PREFIX}SESSION_TIMEOUT_SECONDS "
                f"({tuning.session_timeout_seconds:g})"
            )
        return self

    @property
    def tuning(self) -> BrokerTuning:
        """The broker knobs in effect: the profile's defaults, overridden one by one."""
        profile = self.broker_profile or ("tansu" if self.embedded else "kafka")
        given = {
            name: getattr(self, name)
            for name in BrokerTuning.__dataclass_fields__
            if getattr(self, name) is not None
        }
        return replace(BROKER_PROFILES[profile], **given)


class FileVariableSource(EnvSettingsSource):
    """`VENDORWATCH_X_FILE=/path`: the value of `VENDORWATCH_X` is the content of that file
    (surrounding whitespace stripped), the convention of Docker's and Kubernetes' secrets.

    Giving both `X` and `X_FILE` is an error, and so is a file that cannot be read: either way
    the process stops at start naming the variable."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = f"{self.env_prefix}{field_name}".upper()
        path = os.environ.get(variable + FILE_SUFFIX)
        if not path:
            return None, field_name, False
        if os.environ.get(variable):
            raise SettingsError(f"{variable} and {variable}{FILE_SUFFIX} are both set; keep one")
        try:
            with open(path, encoding="utf-8") as stream:
                return stream.read().strip(), field_name, False
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise SettingsError(f"{variable}{FILE_SUFFIX}: cannot read {path}: {reason}") from None


class SettingsError(ValueError):
    """A configuration value is invalid; the message names the environment variable."""


def secrets_dir() -> Path | None:
    """`VENDORWATCH_SECRETS_DIR`, checked: it must be a readable directory when set."""
    value = os.environ.get(SECRETS_DIR_ENV)
    if not value:
        return None
    path = Path(value)
    if not path.is_dir() or not os.access(path, os.R_OK | os.X_OK):
        raise SettingsError(f"{SECRETS_DIR_ENV}: {value} is not a readable directory")
    return path


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with command-line `overrides` (None means not given)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(_secrets_dir=secrets_dir(), **given)  # type: ignore[arg-type]
    except PydanticSettingsError as exc:  # a source failed; ours say what and where
        if isinstance(exc.__cause__, SettingsError):
            raise exc.__cause__ from None
        raise SettingsError(f"invalid configuration: {exc}") from None
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False, include_input=False):
            field = ".".join(str(p) for p in err["loc"])
            if not field:  # a check across fields: its message names them
                lines.append(err["msg"].removeprefix("Value error, "))
                continue
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{value_origin(field, given)}: {message}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None


def value_origin(field: str, given: dict[str, object]) -> str:
    """Where the value of `field` came from, as the user set it: the flag, the variable, the
    `_FILE` variable and its path, or the file in the secrets directory (the order in which
    `Settings.settings_customise_sources` reads them). Never the value: it may be a secret."""
    if field in given:
        return f"--{field.replace('_', '-')}"
    variable = f"{ENV_PREFIX}{field}".upper()
    if os.environ.get(variable):
        return variable
    path = os.environ.get(variable + FILE_SUFFIX)
    if path:
        return f"{variable}{FILE_SUFFIX} ({path})"
    directory = os.environ.get(SECRETS_DIR_ENV)
    if directory and (Path(directory) / variable.lower()).is_file():
        return f"{Path(directory) / variable.lower()} ({SECRETS_DIR_ENV})"
    return variable
