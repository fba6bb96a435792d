"""The scoring policy: the default loads, bad files fail fast naming the field, versions are
content hashes."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from vendorwatch.streams.core.policy import (
    SEVERITIES,
    Policy,
    PolicyError,
    load_policy,
    normalise_org,
    policy_from_dict,
)


def default_dict() -> dict[str, Any]:
    text = resources.files("vendorwatch.streams").joinpath("data/default_policy.yaml")
    return yaml.safe_load(text.read_text("utf-8"))


def write(tmp_path: Path, content: dict[str, Any] | str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


def error_of(path: Path) -> str:
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    return str(info.value)


def test_the_default_policy_loads() -> None:
    policy = load_policy()
    assert policy.organisation.name == "Google"
    assert policy.competitor("Meta Platforms, Inc.") == "Meta"
    assert policy.competitor("x.ai corp") == "xAI"
    assert policy.competitor("Scale AI") is None
    assert policy.is_own_organisation("Google DeepMind")
    assert not policy.is_own_organisation("OpenAI")
    assert policy.version.startswith("p-")
    assert len(policy.version) == 14
    assert {r.kind for r in policy.alerts.rules} == {
        "threshold",
        "jump",
        "competitor_stake",
        "key_person_to_competitor",
        "peer_pauses",
    }


def test_the_shipped_file_equals_the_loaded_default(tmp_path: Path) -> None:
    assert load_policy(write(tmp_path, default_dict())) == load_policy()


def test_organisation_is_the_only_required_field() -> None:
    policy = policy_from_dict({"organisation": {"name": "Acme"}})
    assert policy.competitors == []
    assert policy.signals.competitor_ownership.weight > 0
    with pytest.raises(PolicyError, match=r"organisation: Field required"):
        policy_from_dict({})


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        ("signals.key_person_to_competitor.half_life_days", -1, "greater than 0"),
        ("signals.peer_client_pause.weight", -0.5, "greater than or equal to 0"),
        ("signals.vendor_mitigation.max_offset_ratio", 1.5, "less than or equal to 1"),
        ("data.volume.reference_records", 0, "greater than or equal to 1"),
        ("data.classification_weights.secret", 1.0, "Input should be"),
        ("severity_bands.critical", 101, "less than or equal to 100"),
        ("competitors.0.name", "", "at least 1 character"),
        ("alerts.rules.1.min_seniority", "intern", "Input should be"),
    ],
)
def test_an_invalid_field_is_reported_with_file_and_dotted_path(
    tmp_path: Path, path: str, value: Any, complaint: str
) -> None:
    content = default_dict()
    node: Any = content
    *parents, leaf = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(leaf) if leaf.isdigit() else leaf] = value
    file = write(tmp_path, content)
    message = error_of(file)
    assert message.startswith(f"invalid policy {file}:")
    assert f"  {path}: " in message
    assert complaint in message


@pytest.mark.parametrize(
    "where", [(), ("signals",), ("signals", "security_incident"), ("alerts", "rules", 0)]
)
def test_unknown_keys_are_rejected(tmp_path: Path, where: tuple[str | int, ...]) -> None:
    content = default_dict()
    node: Any = content
    for part in where:
        node = node[part]
    node["halflife_days"] = 30  # a typo must not silently fall back to a default
    message = error_of(write(tmp_path, content))
    dotted = ".".join(str(p) for p in (*where, "halflife_days"))
    assert f"  {dotted}: unknown field" in message


def test_bad_yaml_is_reported_with_the_file_and_position(tmp_path: Path) -> None:
    file = write(tmp_path, "organisation:\n  name: Google\n signals: [\n")
    message = error_of(file)
    assert message.startswith(f"invalid policy {file}: not valid YAML")
    assert "line 3" in message


@pytest.mark.parametrize("content", ["- just\n- a list\n", "42\n", ""])
def test_a_policy_must_be_a_mapping(tmp_path: Path, content: str) -> None:
    assert "the top level must be a mapping" in error_of(write(tmp_path, content))


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert error_of(missing).startswith(f"cannot read policy {missing}")


def rule(**fields: Any) -> dict[str, Any]:
    return {"name": "r", "severity": "high", "summary": "{vendor_name} at {score}", **fields}


def with_rules(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"organisation": {"name": "Acme"}, "alerts": {"rules": list(rules)}}


@pytest.mark.parametrize(("fire_at", "resolve_below"), [(80, 80), (80, 90)])
def test_threshold_rules_need_hysteresis(fire_at: float, resolve_below: float) -> None:
    raw = with_rules(rule(kind="threshold", fire_at=fire_at, resolve_below=resolve_below))
    with pytest.raises(PolicyError) as info:
        policy_from_dict(raw, "p.yaml")
    assert "alerts.rules.0.resolve_below: must be lower than fire_at" in str(info.value)
    ok = with_rules(rule(kind="threshold", fire_at=fire_at, resolve_below=fire_at - 0.5))
    assert policy_from_dict(ok).alerts.rules[0].resolve_below == fire_at - 0.5  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kind_fields", "summary", "complaint"),
    [
        ({"kind": "threshold", "fire_at": 80, "resolve_below": 70}, "{vendor} hot", "{vendor}"),
        ({"kind": "jump", "points": 10, "window_days": 7}, "{competitor} bought", "{competitor}"),
        ({"kind": "competitor_stake"}, "{rise} points", "{rise}"),
        ({"kind": "peer_pauses"}, "{vendor_name", "not a valid template"),
    ],
)
def test_unknown_template_placeholders_are_rejected(
    kind_fields: dict[str, Any], summary: str, complaint: str
) -> None:
    with pytest.raises(PolicyError) as info:
        policy_from_dict(with_rules(rule(summary=summary, **kind_fields)))
    assert "alerts.rules.0.summary: " in str(info.value)
    assert complaint in str(info.value)


def test_each_rule_kind_accepts_its_own_placeholders() -> None:
    rules = [
        rule(name="a", kind="threshold", fire_at=80, resolve_below=70, summary="{fire_at}"),
        rule(name="b", kind="jump", points=10, window_days=7, summary="{rise} in {window_days}"),
        rule(name="c", kind="competitor_stake", summary="{competitor} {stake_pct}"),
        rule(name="d", kind="key_person_to_competitor", summary="{person} {role}"),
        rule(name="e", kind="peer_pauses", summary="{count} {clients} {within_days}"),
    ]
    assert len(policy_from_dict(with_rules(*rules)).alerts.rules) == 5


def test_rule_names_are_unique_and_kinds_known() -> None:
    twice = with_rules(rule(kind="competitor_stake"), rule(kind="peer_pauses"))
    with pytest.raises(PolicyError, match="duplicate rule name 'r'"):
        policy_from_dict(twice)
    with pytest.raises(PolicyError, match=r"alerts\.rules\.0: Input tag 'jumpy'"):
        policy_from_dict(with_rules(rule(kind="jumpy")))


def test_severity_bands_must_ascend() -> None:
    raw = {"organisation": {"name": "Acme"}, "severity_bands": {"medium": 70, "high": 60}}
    with pytest.raises(PolicyError, match="severity_bands: bands must ascend"):
        policy_from_dict(raw)


def test_missing_classification_weights_are_named() -> None:
    raw = {"organisation": {"name": "A"}, "data": {"classification_weights": {"public": 0}}}
    with pytest.raises(PolicyError, match="missing weights for internal, confidential"):
        policy_from_dict(raw)


def _reordered(value: Any) -> Any:
    """The same content with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


def test_the_version_ignores_layout_comments_and_key_order(tmp_path: Path) -> None:
    content = default_dict()
    flow = yaml.safe_dump(_reordered(content), default_flow_style=True, sort_keys=False)
    block = "# a comment\n\n" + yaml.safe_dump(content, indent=4, sort_keys=True)
    versions = {
        load_policy(write(tmp_path, flow, "flow.yaml")).version,
        load_policy(write(tmp_path, block, "block.yaml")).version,
        load_policy().version,
    }
    assert len(versions) == 1
    assert flow != block


def test_the_version_ignores_spelled_out_defaults() -> None:
    bare = policy_from_dict({"organisation": {"name": "Acme"}})
    explicit = policy_from_dict(
        {
            "organisation": {"name": "Acme", "aliases": []},
            "signals": {"peer_client_pause": {"weight": 0.5, "half_life_days": 60}},
            "severity_bands": {"low": 20.0},
        }
    )
    assert bare.version == explicit.version


@pytest.mark.parametrize(
    "path",
    [
        ("signals", "competitor_ownership", "weight"),
        ("signals", "peer_client_pause", "half_life_days"),
        ("data", "classification_weights", "internal"),
        ("severity_bands", "high"),
    ],
)
def test_the_version_changes_when_a_number_changes(path: tuple[str, ...]) -> None:
    content = default_dict()
    changed = copy.deepcopy(content)
    node = changed
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = node[path[-1]] + 0.05
    assert policy_from_dict(changed).version != policy_from_dict(content).version


def test_the_version_changes_when_a_competitor_is_added() -> None:
    content = default_dict()
    more = copy.deepcopy(content)
    more["competitors"].append({"name": "Anthropic"})
    assert policy_from_dict(more).version != policy_from_dict(content).version


def test_organisation_names_match_loosely() -> None:
    assert normalise_org("  Meta Platforms, Inc. ") == normalise_org("meta platforms inc")
    assert normalise_org("X.AI") == normalise_org("x ai")
    assert normalise_org("OpenAI") != normalise_org("Open AI Foundation")


@pytest.mark.parametrize(
    ("score", "severity"),
    [(0, "info"), (19.99, "info"), (20, "low"), (40, "medium"), (60, "high"), (80, "critical")],
)
def test_severity_bands_are_inclusive_lower_bounds(score: float, severity: str) -> None:
    assert load_policy().severity(score) == severity
    assert severity in SEVERITIES


def test_policy_objects_are_immutable() -> None:
    policy: Policy = load_policy()
    with pytest.raises(ValueError, match="frozen"):
        policy.label = "other"  # type: ignore[misc]
