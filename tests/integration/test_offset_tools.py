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


def test_group_mapping_and_reset_to_earliest_latest_datetime_offset(tmp_path):
    """restore.group_mapping restores a group's positions under a new name (the old name
    untouched); offset-reset --to-earliest/--to-latest/--to-datetime/--to-offset move it as
    kafka-consumer-groups would (the seed's "Option 1" and "Option 3"), with a snapshot that
    offset-rollback puts back; two positions at once, or a bad time, are exit 2."""
    from conftest import EXIT_BAD_INPUT, assert_error, run_cli
    topic, group = unique("offto"), unique("offto-group")
    create_topic(topic, 2)
    # Per partition: 10 records, timestamps 1000.. (even on 0, odd on 1).
    produce(topic, [rec(i % 2, f"k{i}", f"v{i}", timestamp=1000 + i) for i in range(20)])
    commit_offsets(group, topic, {0: 4, 1: 7})
    store = tmp_path / "store"
    run_backup(tmp_path, backup_config(store, [topic], backup_id="b"))
    target_topic, renamed = topic + "-dr", group + "-dr"
    cfg = restore_config(store, backup_id="b", topic_mapping={topic: target_topic}, consumer_groups=[group],
                         group_mapping={group: renamed}, consumer_group_strategy="exact",
                         reset_consumer_offsets=True)
    out = run_restore(tmp_path, cfg)
    assert {g["group_id"] for g in out["consumer_group_offsets"]} == {renamed}, out
    assert group_offsets(renamed) == {(target_topic, 0): 4, (target_topic, 1): 7}
    assert group_offsets(group) == {}, "the backup's name must stay untouched on the target"
    path = write_config(tmp_path, cfg, "offsets.yaml")

    def plan(*to: str) -> dict:
        doc = cli_ok(["offset-reset", "plan", "--config", path, "--format", "json", *to]).json()
        assert {e["group_id"] for e in doc["entries"]} == {renamed}, doc
        return {e["partition"]: (e["current"], e["new"]) for e in doc["entries"] if e["topic"] == target_topic}

    assert plan() == {0: (4, 4), 1: (7, 7)}
    assert plan("--to-earliest") == {0: (4, 0), 1: (7, 0)}
    # The end: past the restore's last transaction marker.
    from conftest import end_offsets
    end = {p: high for p, (_, high) in end_offsets(target_topic, TARGET).items()}
    assert end[0] >= 10 and end[1] >= 10, end
    assert plan("--to-latest") == {0: (4, end[0]), 1: (7, end[1])}
    # The first record at or after 1010 ms: offset 5 of each partition (1010 on 0, 1011 on 1).
    assert plan("--to-datetime", "1970-01-01T00:00:01.010Z") == {0: (4, 5), 1: (7, 5)}
    assert plan("--to-datetime", "1011") == {0: (4, 6), 1: (7, 5)}
    assert plan("--to-offset", "3") == {0: (4, 3), 1: (7, 3)}
    assert plan("--to-offset", "99") == {0: (4, end[0]), 1: (7, end[1])}, "clamped to the partition's end"
    script = cli_ok(["offset-reset", "script", "--config", path, "--to-earliest"]).stdout
    assert f"--group '{renamed}' --reset-offsets --topic '{target_topic}:1' --to-offset 0 --execute" in script

    cli_ok(["offset-reset", "execute", "--config", path, "--to-earliest"])
    assert group_offsets(renamed) == {(target_topic, 0): 0, (target_topic, 1): 0}
    cli_ok(["offset-rollback", "--config", path])
    assert group_offsets(renamed) == {(target_topic, 0): 4, (target_topic, 1): 7}

    assert run_cli(["offset-reset", "plan", "--config", path, "--to-earliest", "--to-latest"]).rc == EXIT_BAD_INPUT
    assert_error(run_cli(["offset-reset", "plan", "--config", path, "--to-datetime", "yesterday"]), EXIT_BAD_INPUT,
                 "--to-datetime", "yesterday")
    cfg["restore"]["group_mapping"] = {group: "same", "other": "same"}
    assert_error(run_cli(["offset-reset", "plan", "--config", write_config(tmp_path, cfg, "bad.yaml")]),
                 EXIT_BAD_INPUT, "group_mapping", "both mapped to 'same'")


def test_execute_and_rollback_over_many_groups_at_once(tmp_path):
    """offset-reset works on many groups side by side (at most 8 admin calls at a time): every
    group lands exactly, and rollback puts every one back."""
    from conftest import parallel
    topic = unique("offmany")
    create_topic(topic, 3)
    produce(topic, [rec(i % 3, f"k{i}", f"v{i}") for i in range(60)])
    groups = {f"{topic}-g{n:02d}": {p: (n + p) % 20 for p in range(3)} for n in range(16)}
    parallel(*[(lambda g=g, o=o: commit_offsets(g, topic, o)) for g, o in groups.items()], workers=4)
    store = tmp_path / "store"
    run_backup(tmp_path, backup_config(store, [topic], backup_id="b"))
    target_topic = topic + "-dr"
    cfg = restore_config(store, backup_id="b", topic_mapping={topic: target_topic},
                         consumer_groups=[f"{topic}-g*"])
    run_restore(tmp_path, cfg)
    path = write_config(tmp_path, cfg, "many.yaml")
    plan = cli_ok(["offset-reset", "execute", "--config", path, "--format", "json"]).json()
    assert len(plan["entries"]) == 16 * 3, plan
    got = parallel(*[(lambda g=g: group_offsets(g)) for g in groups], workers=4)
    assert dict(zip(groups, got)) == {g: {(target_topic, p): o for p, o in offs.items()} for g, offs in groups.items()}
    cli_ok(["offset-rollback", "--config", path])
    assert parallel(*[(lambda g=g: group_offsets(g)) for g in groups], workers=4) == [{}] * 16
