"""`vendorwatch rebuild --policy FILE`: a policy roll-out without manual steps.

The procedure the command prints and documents: stop the workers, rebuild, start them with the
new policy. Afterwards the live read API must equal `replay --policy FILE` (scores in every field,
firing alerts), also after new events arrive; and rebuild must refuse to run while workers do.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics

from .conftest import WorkerFactory
from .replay_helpers import HIGHER_STAKE_POLICY, assert_replay_equals_live, run_vw
from .workers import demo_lines, event_line, produce, wait_for_demo_scored

pytestmark = pytest.mark.integration


def test_rebuild_switches_the_live_view_to_the_new_policy(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    bootstrap = fresh_kafka.bootstrap_servers
    old = worker_factory(bootstrap, "old")
    old.wait_ready()
    produce(bootstrap, topics.RAW, demo_lines())
    wait_for_demo_scored(old)
    # (live == replay under the old policy is test_replay_live's demo test: not repeated here)

    refused = run_vw(
        "rebuild", "--policy", str(HIGHER_STAKE_POLICY), "--bootstrap-servers", bootstrap
    )
    assert refused.returncode == 2
    assert "worker(s) are running" in refused.stderr.decode()

    old.stop()
    done = run_vw(
        "rebuild", "--policy", str(HIGHER_STAKE_POLICY), "--json", "--bootstrap-servers", bootstrap
    )
    assert done.returncode == 0, done.stderr.decode()
    summary = orjson.loads(done.stdout)
    assert summary["scores_published"] == 6
    # rebuild replays as live: each event at the stream time the (scenario-clock) worker scored
    # it at. Under B Meta's 49% is below the 60% threshold, so competitor_stake resolves; the
    # score itself does not depend on the alert rules, so score_critical keeps firing
    assert summary["alerts_resolved"] == 1  # competitor_stake
    assert summary["alerts_fired"] >= 1  # score_jump: under B it starts with its own summary
    assert f"VENDORWATCH_POLICY={HIGHER_STAKE_POLICY}" in done.stderr.decode()

    new_version = load_policy(HIGHER_STAKE_POLICY).version
    new = worker_factory(bootstrap, "new", env={"VENDORWATCH_POLICY": str(HIGHER_STAKE_POLICY)})
    new.wait_ready()
    summary_view = new.get_json("/vendors")
    assert {v["policy_version"] for v in summary_view} == {new_version}
    scale = new.get_json("/vendors/scale-ai")
    assert "competitor_stake" not in {a["rule"] for a in scale["alerts"]}
    assert_replay_equals_live(bootstrap, new, "--policy", str(HIGHER_STAKE_POLICY), timeout=60)

    # the restarted worker rebuilds its partitions under the new policy and carries on from
    # exactly the scores rebuild published
    produce(
        bootstrap,
        topics.RAW,
        [
            event_line(
                "after-rollout-xai-resumes",
                "client.resumed",
                "scale-ai",
                {"client": "xAI"},
                "2025-06-25T12:00:00Z",
            ),
            event_line(
                "after-rollout-turing-incident",
                "security.incident",
                "turing",
                {"title": "contractor laptop stolen", "severity": "medium"},
                "2025-06-26T12:00:00Z",
            ),
        ],
    )
    assert_replay_equals_live(bootstrap, new, "--policy", str(HIGHER_STAKE_POLICY), timeout=60)
    turing = new.get_json("/vendors/turing")
    # scored at its partition's stream time: the scenario's latest event time there
    assert turing["as_of"] >= "2025-06-26T12:00:00Z"
    assert turing["policy_version"] == new_version


def test_rebuild_dry_run_publishes_nothing(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory
) -> None:
    bootstrap = fresh_kafka.bootstrap_servers
    worker = worker_factory(bootstrap)
    worker.wait_ready()
    produce(bootstrap, topics.RAW, demo_lines())
    wait_for_demo_scored(worker)
    before = run_vw("replay", "--as-live", "--json", "--bootstrap-servers", bootstrap)
    done = run_vw(
        "rebuild",
        "--policy",
        str(HIGHER_STAKE_POLICY),
        "--dry-run",
        "--bootstrap-servers",
        bootstrap,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert "would publish 6 score record(s)" in done.stdout.decode()
    old_version = load_policy().version
    assert {v["policy_version"] for v in worker.get_json("/vendors")} == {old_version}
    assert (
        run_vw("replay", "--as-live", "--json", "--bootstrap-servers", bootstrap).stdout
        == before.stdout
    )
