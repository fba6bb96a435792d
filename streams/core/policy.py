"""The scoring policy a security team edits: who competes with us, what our data is worth, how
each signal weighs and fades, the severity bands and the alert rules.

The policy is data, not code, so that a new policy can be tried on the past (`vendorwatch
backtest`) and every score can say which policy produced it: the version is a hash of the
policy's canonical content, so reformatting the YAML or reordering keys does not change it.
"""

from __future__ import annotations

import hashlib
import string
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from vendorwatch.schemas.events import Classification, IncidentSeverity, Seniority, StatementKind
from vendorwatch.streams.core.names import Resolver
from vendorwatch.streams.core.names import normalise_org as normalise_org  # re-exported

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
"""Ordered from least to most severe; the index is the numeric level used in metrics."""

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Unit = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
OrgName = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Organisation(_Strict):
    """An organisation and the other names it appears under in events."""

    name: OrgName
    aliases: list[OrgName] = Field(default_factory=list, max_length=50)

    def names(self) -> list[str]:
        return [self.name, *self.aliases]


class VolumePolicy(_Strict):
    """How record volume scales a dataset's weight: logarithmically, from `floor` up to 1."""

    reference_records: Annotated[int, Field(ge=1)] = 1_000_000
    floor: Unit = 0.3


class DataPolicy(_Strict):
    """What the data we share is worth, per classification, before volume."""

    classification_weights: dict[Classification, Unit] = Field(
        default_factory=lambda: {
            Classification.PUBLIC: 0.0,
            Classification.INTERNAL: 0.3,
            Classification.CONFIDENTIAL: 0.9,
            Classification.RESTRICTED: 1.0,
        }
    )
    volume: VolumePolicy = VolumePolicy()

    @field_validator("classification_weights")
    @classmethod
    def _all_levels(cls, value: dict[Classification, float]) -> dict[Classification, float]:
        missing = [c.value for c in Classification if c not in value]
        if missing:
            raise ValueError(f"missing weights for {', '.join(missing)}")
        return value


class _Signal(_Strict):
    """Every signal has a weight (hazard units) and a half-life in days (null: no decay)."""

    weight: NonNegative
    half_life_days: Positive | None


class OwnershipSignal(_Signal):
    weight: NonNegative = 1.6
    half_life_days: Positive | None = None
    full_stake_pct: Annotated[float, Field(gt=0, le=100)] = 50.0
    board_seat_weight: NonNegative = 0.2
    voting_control_weight: NonNegative = 2.5
    acquisition_weight: NonNegative = 3.0
    funding_investor_weight: NonNegative = 0.3


class KeyPersonSignal(_Signal):
    weight: NonNegative = 1.0
    half_life_days: Positive | None = 180.0
    seniority: dict[Seniority, Unit] = Field(
        default_factory=lambda: {
            Seniority.EXECUTIVE: 1.0,
            Seniority.SENIOR: 0.6,
            Seniority.STAFF: 0.25,
        }
    )


class PeerPauseSignal(_Signal):
    weight: NonNegative = 0.5
    half_life_days: Positive | None = 60.0
    terminated_multiplier: NonNegative = 1.5


class IncidentSignal(_Signal):
    weight: NonNegative = 1.0
    half_life_days: Positive | None = 90.0
    severity: dict[IncidentSeverity, NonNegative] = Field(
        default_factory=lambda: {
            IncidentSeverity.LOW: 0.2,
            IncidentSeverity.MEDIUM: 0.5,
            IncidentSeverity.HIGH: 1.0,
            IncidentSeverity.CRITICAL: 2.0,
        }
    )
    same_title_window_days: NonNegative = 7.0
    """Reports of an incident without `incident_id` and with the same title (ignoring case and
    spacing) within this many days of its first report are one incident."""


class WorkforceSignal(_Signal):
    weight: NonNegative = 0.45
    half_life_days: Positive | None = 365.0
    reference_added: Annotated[int, Field(ge=1)] = 500
    remote_weight: NonNegative = 0.5


class DemandSignal(_Signal):
    weight: NonNegative = 0.35
    half_life_days: Positive | None = 90.0
    min_factor: Annotated[float, Field(ge=1)] = 1.2
    assumed_factor: Annotated[float, Field(ge=1)] = 1.5


class MitigationSignal(_Signal):
    weight: NonNegative = 0.4
    half_life_days: Positive | None = 60.0
    kinds: dict[StatementKind, NonNegative] = Field(
        default_factory=lambda: {
            StatementKind.STATEMENT: 0.5,
            StatementKind.REMEDIATION: 1.0,
            StatementKind.AUDIT: 1.5,
        }
    )
    max_offset_ratio: Unit = 0.5
    repeat_window_days: NonNegative = 30.0
    """A statement of a kind within this many days after a counted one of the same kind does
    not count (0: every statement counts). Repeating a reassurance is not new mitigation."""


class Signals(_Strict):
    """One section per signal; the names are the `signal` of a score's contributions."""

    competitor_ownership: OwnershipSignal = OwnershipSignal()
    key_person_to_competitor: KeyPersonSignal = KeyPersonSignal()
    peer_client_pause: PeerPauseSignal = PeerPauseSignal()
    security_incident: IncidentSignal = IncidentSignal()
    workforce_growth: WorkforceSignal = WorkforceSignal()
    demand_surge: DemandSignal = DemandSignal()
    vendor_mitigation: MitigationSignal = MitigationSignal()


class SeverityBands(_Strict):
    """Lower bounds (inclusive) of each severity on the 0-100 score; below `low` is `info`."""

    low: Annotated[float, Field(ge=0, le=100)] = 20
    medium: Annotated[float, Field(ge=0, le=100)] = 40
    high: Annotated[float, Field(ge=0, le=100)] = 60
    critical: Annotated[float, Field(ge=0, le=100)] = 80

    @model_validator(mode="after")
    def _ascending(self) -> SeverityBands:
        if not self.low <= self.medium <= self.high <= self.critical:
            raise ValueError("bands must ascend: low <= medium <= high <= critical")
        return self

    def severity(self, score: float) -> Severity:
        if score >= self.critical:
            return "critical"
        if score >= self.high:
            return "high"
        if score >= self.medium:
            return "medium"
        if score >= self.low:
            return "low"
        return "info"


# --- alert rules (evaluated by vendorwatch.streams.core.rules) -----------------------------------


class _Rule(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
    severity: Severity
    summary: Annotated[str, Field(min_length=1, max_length=500)]
    enabled: bool = True

    @field_validator("summary")
    @classmethod
    def _template_fields(cls, summary: str) -> str:
        allowed = {"vendor_id", "vendor_name", "score", "severity", *cls.template_fields()}
        try:
            parsed = list(string.Formatter().parse(summary))
        except ValueError as exc:  # an unmatched brace
            raise ValueError(f"not a valid template: {exc}") from None
        for _, field_name, _, _ in parsed:
            if field_name is not None and field_name not in allowed:
                raise ValueError(f"uses {{{field_name}}}; allowed: {', '.join(sorted(allowed))}")
        return summary

    @classmethod
    def template_fields(cls) -> tuple[str, ...]:
        return ()


class ThresholdRule(_Rule):
    """Fire when the score reaches `fire_at`; resolve only once it falls below `resolve_below`."""

    kind: Literal["threshold"]
    fire_at: Annotated[float, Field(ge=0, le=100)]
    resolve_below: Annotated[float, Field(ge=0, le=100)]

    @field_validator("resolve_below")
    @classmethod
    def _hysteresis(cls, resolve_below: float, info: ValidationInfo) -> float:
        fire_at = info.data.get("fire_at")  # absent when fire_at itself was invalid
        if fire_at is not None and resolve_below >= fire_at:
            raise ValueError(f"must be lower than fire_at ({fire_at:g}): hysteresis")
        return resolve_below

    @classmethod
    def template_fields(cls) -> tuple[str, ...]:
        return ("fire_at", "resolve_below")


class JumpRule(_Rule):
    """Fire when the score rises by at least `points` within `window_days` of event time."""

    kind: Literal["jump"]
    points: Positive
    window_days: Positive
    min_score: Annotated[float, Field(ge=0, le=100)] = 0.0
    """Only a rise that ends at or above this score fires: a jump among quiet vendors is noise."""

    @classmethod
    def template_fields(cls) -> tuple[str, ...]:
        return ("points", "window_days", "rise", "min_score")


class CompetitorStakeRule(_Rule):
    """Fire at once when a named competitor holds >= `min_stake_pct`, has control (voting
    control or a board seat, whatever the percentage) or acquires the vendor; fire again when
    its holding grows; resolve when no competitor holds that any more (divestment, a later
    report below the bar, a later acquisition by someone else)."""

    kind: Literal["competitor_stake"]
    min_stake_pct: Annotated[float, Field(ge=0, le=100)] = 10.0

    @classmethod
    def template_fields(cls) -> tuple[str, ...]:
        # control: " (with voting control and 2 board seats)", or empty without control
        return ("competitor", "stake_pct", "min_stake_pct", "control")


class KeyPersonRule(_Rule):
    """Fire at once when a person of at least `min_seniority` leaves the vendor for a competitor."""

    kind: Literal["key_person_to_competitor"]
    min_seniority: Seniority = Seniority.SENIOR
    active_days: Positive = 90.0
    """How long (event time) after the move the alert stays firing."""

    @classmethod
    def template_fields(cls) -> tuple[str, ...]:
        return ("person", "role", "from_org", "competitor")


class PeerPauseRule(_Rule):
    """Fire when at least `min_clients` other clients pause or leave within `within_days`."""

    kind: Literal["peer_pauses"]
    min_clients: Annotated[int, Field(ge=1, le=1000)] = 2
    within_days: Positive = 14.0
    lapse_days: Positive = 90.0
    """A pause (or termination) counts for this long after it was reported, unless renewed by
    another report from the same client; the alert resolves when fewer than `min_clients`
    pauses still count."""

    @classmethod
    def template_fields(cls) -> tuple[str, ...]:
        return ("clients", "count", "min_clients", "within_days")


AlertRule = Annotated[
    ThresholdRule | JumpRule | CompetitorStakeRule | KeyPersonRule | PeerPauseRule,
    Field(discriminator="kind"),
]


class AlertPolicy(_Strict):
    """Alert rules and their lifecycle timing (modelled on Prometheus Alertmanager)."""

    group_wait_seconds: Annotated[float, Field(ge=0, le=600)] = 0.05
    repeat_interval_hours: Positive = 24.0
    rules: list[AlertRule] = Field(default_factory=list, max_length=100)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[AlertRule]) -> list[AlertRule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise ValueError(f"duplicate rule name {rule.name!r}")
            seen.add(rule.name)
        return rules


class LivePolicy(_Strict):
    """How closely the live score follows time between events."""

    refresh_points: Annotated[float, Field(gt=0, le=100)] = 1.0
    """A vendor whose score drifts by this many points through decay alone is scored and
    published again, so what the API, metrics and dashboards show is never further than this
    from the score at stream time (severity bands and alert thresholds are met exactly)."""


class Policy(_Strict):
    """A complete scoring and alerting policy; see streams/data/default_policy.yaml."""

    label: Annotated[str, Field(min_length=1, max_length=100)] = "unnamed"
    organisation: Organisation
    competitors: list[Organisation] = Field(default_factory=list, max_length=500)
    data: DataPolicy = DataPolicy()
    signals: Signals = Signals()
    severity_bands: SeverityBands = SeverityBands()
    alerts: AlertPolicy = AlertPolicy()
    live: LivePolicy = LivePolicy()

    @cached_property
    def version(self) -> str:
        """Hash of the canonical content: same policy, same version, whatever the YAML layout."""
        canonical = orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
        return "p-" + hashlib.sha256(canonical).hexdigest()[:12]

    @property
    def resolver(self) -> Resolver:
        """Who the names in events are (`names.Resolver`), built once per policy version."""
        resolver = _RESOLVERS.get(self.version)
        if resolver is None:
            resolver = _RESOLVERS[self.version] = Resolver(
                (self.organisation.name, self.organisation.aliases),
                [(c.name, c.aliases) for c in self.competitors],
            )
        return resolver

    def competitor(self, org: str) -> str | None:
        """The canonical name of the competitor `org` refers to, or None if it is not one
        (by canonical form: legal form, case, punctuation and spacing ignored)."""
        return self.resolver.competitor(org)

    def is_own_organisation(self, org: str) -> bool:
        """True when `org` is the organisation running the monitor (its own actions are not
        peer signals)."""
        return self.resolver.is_own_organisation(org)

    def severity(self, score: float) -> Severity:
        return self.severity_bands.severity(score)


_RESOLVERS: dict[str, Resolver] = {}
"""Resolvers per policy version (same content, same names)."""


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the offending field."""


_RULE_KINDS = frozenset(
    kind
    for rule in (ThresholdRule, JumpRule, CompetitorStakeRule, KeyPersonRule, PeerPauseRule)
    for kind in rule.model_fields["kind"].annotation.__args__  # type: ignore[union-attr]
)


def _dotted(loc: tuple[int | str, ...]) -> str:
    """`alerts.rules.0.fire_at`: the YAML path, without the union tags and `[key]` markers
    pydantic inserts."""
    parts = [
        str(p)
        for i, p in enumerate(loc)
        if p != "[key]" and not (p in _RULE_KINDS and i >= 1 and isinstance(loc[i - 1], int))
    ]
    return ".".join(parts) or "(top level)"


def _format_errors(source: str, exc: ValidationError) -> str:
    lines = [f"invalid policy {source}:"]
    for err in exc.errors(include_url=False, include_input=False):
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        else:
            message = err["msg"].removeprefix("Value error, ")
        lines.append(f"  {_dotted(err['loc'])}: {message}")
    return "\n".join(lines)


def policy_from_dict(raw: Any, source: str = "<dict>") -> Policy:
    """Validate a policy given as plain data."""
    if not isinstance(raw, dict):
        raise PolicyError(f"invalid policy {source}: the top level must be a mapping")
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(_format_errors(source, exc)) from None


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a policy file; None loads the shipped default policy."""
    if path is None:
        text = resources.files("vendorwatch.streams").joinpath("data/default_policy.yaml")
        return policy_from_dict(yaml.safe_load(text.read_text("utf-8")), "default_policy.yaml")
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policy {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid policy {path}: not valid YAML: {exc}") from None
    return policy_from_dict(raw, str(path))
