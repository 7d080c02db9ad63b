"""offset-reset plan|execute|script and offset-rollback."""

from __future__ import annotations

import json

from conftest import (TARGET, backup_config, cli_ok, commit_offsets, create_topic, peer, produce, rec,
                      restore_config, run_backup, run_restore, unique, write_config)


def group_offsets(group: str, bootstrap: str = TARGET) -> dict[tuple[str, int], int]:
    out = peer("group-offsets", "--bootstrap", bootstrap, "--group", group).stdout
    return {(d["topic"], d["partition"]): d["offset"] for d in map(json.loads, filter(None, out.splitlines()))}


def test_reset_plan_execute_script_and_rollback(tmp_path):
    topic = unique("offtools")
    group = unique("offtools-group")
    create_topic(topic, 2)
    produce(topic, [rec(i % 2, f"k{i}", f"v{i}") for i in range(20)])
    commit_offsets(group, topic, {0: 4, 1: 7})
    store = tmp_path / "store"
    run_backup(tmp_path, backup_config(store, [topic], backup_id="b"))
    target_topic = topic + "-dr"
    cfg = restore_config(store, backup_id="b", topic_mapping={topic: target_topic}, consumer_groups=[group])
    run_restore(tmp_path, cfg)
    path = write_config(tmp_path, cfg, "offsets.yaml")

    plan = cli_ok(["offset-reset", "plan", "--config", path, "--format", "json"]).json()
    entries = {(e["topic"], e["partition"]): e for e in plan["entries"]}
    assert entries[(target_topic, 0)]["new"] == 4 and entries[(target_topic, 0)]["current"] is None
    assert entries[(target_topic, 1)]["new"] == 7
    assert group_offsets(group) == {}, "plan must not change anything"

    script = cli_ok(["offset-reset", "script", "--config", path]).stdout
    assert f"--group '{group}' --reset-offsets --topic '{target_topic}:1' --to-offset 7 --execute" in script

    cli_ok(["offset-reset", "execute", "--config", path])
    assert group_offsets(group) == {(target_topic, 0): 4, (target_topic, 1): 7}

    # The snapshot taken before execute had no offsets: rollback removes them again.
    dry = cli_ok(["offset-rollback", "--config", path, "--dry-run", "--format", "json"]).json()
    assert all(e["new"] is None for e in dry["entries"])
    assert group_offsets(group) == {(target_topic, 0): 4, (target_topic, 1): 7}, "dry run changed offsets"
    cli_ok(["offset-rollback", "--config", path])
    assert group_offsets(group) == {}
