"""Schema versions per event type and the upcasters that read old events as the current model.

The event history never expires, so events written years ago under an older payload shape must
still be read. Each payload change bumps that type's version; an upcaster turns a version-N
`data` dict into version N+1. The version travels in CloudEvents' `dataschema` attribute as
`urn:vendorwatch:schema:<type>:v<N>`; an event without it is taken to be current.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vendorwatch.schemas.events import EVENT_TYPES

DATASCHEMA_PREFIX = "urn:vendorwatch:schema:"

CURRENT_VERSIONS: dict[str, int] = dict.fromkeys(EVENT_TYPES, 1) | {
    # v1 carried the stake as a fraction (`stake`, 0-1) and `amount`; v2 uses percent and USD.
    "ownership.stake_acquired": 2,
    # First version: an investor no longer holds any of the vendor (a 0% report, said plainly).
    "ownership.divested": 1,
    # First version: a producer takes back one of its own events.
    "event.retracted": 1,
}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UpcastError(ValueError):
    """An event's schema version cannot be brought to the current one."""


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning `data` of `from_version` into `from_version + 1`."""

    def register(fn: Upcaster) -> Upcaster:
        UPCASTERS[(event_type, from_version)] = fn
        return fn

    return register


def dataschema_for(event_type: str, version: int | None = None) -> str:
    """The `dataschema` URN of a type at a version (default: the current one)."""
    return f"{DATASCHEMA_PREFIX}{event_type}:v{version or CURRENT_VERSIONS[event_type]}"


def version_of(event_type: str, dataschema: object) -> int:
    """The schema version an event declares; no (or a foreign) dataschema means current."""
    current = CURRENT_VERSIONS.get(event_type, 1)
    if not isinstance(dataschema, str) or not dataschema.startswith(DATASCHEMA_PREFIX):
        return current
    declared_type, _, version = dataschema[len(DATASCHEMA_PREFIX) :].rpartition(":v")
    if declared_type != event_type or not version.isdigit():
        raise UpcastError(f"{dataschema!r} does not name type {event_type!r} with a version")
    return int(version)


def upcast(raw: dict[str, Any]) -> dict[str, Any]:
    """Return `raw` with its `data` brought to the current version of its type.

    Cheap when nothing is to be done (the common case): the dict is returned untouched.
    """
    event_type = raw.get("type")
    if not isinstance(event_type, str) or event_type not in CURRENT_VERSIONS:
        return raw  # the model reports unknown or missing types with a precise error
    dataschema = raw.get("dataschema")
    if dataschema is None:
        return raw
    version = version_of(event_type, dataschema)
    current = CURRENT_VERSIONS[event_type]
    if version == current:
        return raw
    if version > current:
        raise UpcastError(
            f"version {version} of {event_type!r} is newer than this "
            f"vendorwatch understands (v{current}); upgrade vendorwatch"
        )
    data = raw.get("data")
    if not isinstance(data, dict):
        return raw
    for step in range(version, current):
        fn = UPCASTERS.get((event_type, step))
        if fn is None:
            raise UpcastError(f"no upcaster from v{step} of {event_type!r}")
        data = fn(dict(data))
    return {**raw, "data": data, "dataschema": dataschema_for(event_type, current)}


@upcaster("ownership.stake_acquired", 1)
def _stake_fraction_to_percent(data: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2: `stake` (0-1 fraction) becomes `stake_pct`, `amount` becomes `amount_usd`."""
    if "stake" in data:
        stake = data.pop("stake")
        data["stake_pct"] = round(stake * 100, 6) if isinstance(stake, int | float) else stake
    if "amount" in data:
        data["amount_usd"] = data.pop("amount")
    return data
