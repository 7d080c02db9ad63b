"""Incremental backups (docs/format/manifest.md, "Incremental backups"): an
hourly-style chain stores only what is new each run, each backup restores on
its own record for record, list and describe show the chain, segments the
broker deleted since the parent are not inherited, and a topic deleted and
created again (a new topic id) is copied whole and recorded, in a chain and
under a continuous backup."""

from __future__ import annotations

import json
import time

from conftest import (SOURCE, TARGET, peer, assert_same_records, backup_config, cli_ok, create_topic, delete_topic,
                      dump, produce, rec, restore_config, run_backup, run_cli, run_restore, segment_files, unique,
                      write_config)
from helpers.backups import start, stop
from helpers.kafka import delete_records
from helpers.schemas import json_output


def batch(first: int, n: int, partitions: int = 3) -> list[dict]:
    return [rec(i % partitions, f"k{i}", f"value-{i}-" + "x" * 300, headers=[("i", str(i))],
                timestamp=1_700_000_000_000 + i) for i in range(first, first + n)]


def recreate_topic(topic: str, partitions: int) -> None:
    """Deletes the topic and creates it again (the broker may take a moment to forget the old one)."""
    delete_topic(topic)
    deadline = time.monotonic() + 60
    while peer("create-topic", "--bootstrap", SOURCE, "--topic", topic, "--partitions", str(partitions),
               check=False).returncode != 0:
        assert time.monotonic() < deadline, f"topic {topic} could not be created again"
        time.sleep(1)


def describe(storage, backup_id: str) -> dict:
    return json_output(cli_ok(["describe", "--path", str(storage), "--backup-id", backup_id, "--format", "json"]),
                       "describe")


def restore_and_compare(tmp_path, storage, backup_id: str, topic: str, expected: list[dict]) -> None:
    """Restores `backup_id` alone under a fresh name and compares it with `expected` record for record."""
    target = unique(f"{backup_id}-r")
    run_restore(tmp_path, restore_config(storage, backup_id, topic_mapping={topic: target}),
                name=f"restore-{backup_id}.yaml")
    assert_same_records(expected, dump(target, TARGET), with_type=False)


def test_a_chain_stores_only_what_is_new_and_each_backup_restores_on_its_own(tmp_path):
    topic = unique("inc")
    create_topic(topic, 3)
    storage = tmp_path / "store"

    def backup(backup_id: str) -> dict:
        cfg = backup_config(storage, [topic], backup_id=backup_id, incremental=True, segment_max_records=50)
        return json_output(cli_ok(["backup", "--config", write_config(tmp_path, cfg, f"{backup_id}.yaml"),
                                   "--format", "json"]), "backup")

    produce(topic, batch(0, 300))
    first = backup("h1")
    assert "parent_backup_id" not in first, "no committed backup before it: a full backup"
    assert first["records"] == 300
    snapshot1 = dump(topic)

    produce(topic, batch(300, 200))
    second = backup("h2")
    assert second["parent_backup_id"] == "h1", second
    assert second["records"] == 200, f"only the new records are read: {second}"
    assert second["inherited_records"] == 300 and second["inherited_segments"] == len(segment_files(storage, "h1"))
    snapshot2 = dump(topic)

    produce(topic, batch(500, 100))
    third = backup("h3")
    assert third["parent_backup_id"] == "h2" and third["records"] == 100
    assert third["inherited_records"] == 500
    snapshot3 = dump(topic)

    # Each run stored only its own records.
    own = {b: sum(f.stat().st_size for f in segment_files(storage, b)) for b in ("h1", "h2", "h3")}
    assert own["h2"] < own["h1"] and own["h3"] < own["h2"], own
    for b in ("h1", "h2", "h3"):
        assert describe(storage, b)["own_stored_bytes"] == own[b], b
    d3 = describe(storage, "h3")
    assert d3["parent_backup_id"] == "h2" and d3["records"] == 600, d3
    assert d3["own_stored_bytes"] < d3["stored_bytes"], d3
    assert d3["topics"][0]["topic_id"], "the topic id is recorded"
    text = cli_ok(["describe", "--path", str(storage), "--backup-id", "h3"]).stdout
    assert "incremental:     parent h2" in text, text
    listed = json_output(cli_ok(["list", "--path", str(storage), "--format", "json"]), "list")["backups"]
    chain = {b["backup_id"]: b.get("parent_backup_id") for b in listed}
    assert chain == {"h1": None, "h2": "h1", "h3": "h2"}, chain
    table = cli_ok(["list", "--path", str(storage)]).stdout
    assert "PARENT" in table and " h2\n" in table, table

    for backup_id in ("h1", "h2", "h3"):
        cli_ok(["validate", "--path", str(storage), "--backup-id", backup_id, "--deep"])

    # The manifests of the parents are not needed: each lists all it holds.
    (storage / "manifests" / "h1.json").unlink()
    (storage / "manifests" / "h2.json").unlink()
    restore_and_compare(tmp_path, storage, "h3", topic, snapshot3)
    assert len(snapshot1) == 300 and len(snapshot2) == 500 and len(snapshot3) == 600


def test_each_backup_of_a_chain_restores_exactly_its_point(tmp_path):
    topic = unique("incpt")
    create_topic(topic, 2)
    storage = tmp_path / "store"
    snapshots = []
    for i in range(3):
        produce(topic, batch(i * 150, 150, 2))
        run_backup(tmp_path, backup_config(storage, [topic], backup_id=f"p{i}", segment_max_records=40),
                   extra=["--incremental"])
        snapshots.append(dump(topic))
    for i in range(3):
        restore_and_compare(tmp_path, storage, f"p{i}", topic, snapshots[i])


def test_full_overrides_incremental_and_another_source_is_never_a_parent(tmp_path):
    topic = unique("incfull")
    create_topic(topic, 1)
    storage = tmp_path / "store"
    produce(topic, batch(0, 100, 1))
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="a", incremental=True))
    full = run_backup(tmp_path, backup_config(storage, [topic], backup_id="b", incremental=True), extra=["--full"])
    assert "parent_backup_id" not in full and full["records"] == 100, full
    other = run_backup(tmp_path, backup_config(storage, [topic], backup_id="c", incremental=True,
                                               source_cluster_id="another-cluster"))
    assert "parent_backup_id" not in other and other["records"] == 100, \
        f"a backup labelled with another source cluster is not a parent: {other}"
    r = run_cli(["backup", "--config", write_config(tmp_path, backup_config(storage, [topic], backup_id="d")),
                 "--incremental", "--full"])
    assert r.rc != 0 and "excludes" in r.stderr, r.describe()


def test_segments_the_broker_deleted_since_the_parent_are_not_inherited(tmp_path):
    topic = unique("incret")
    create_topic(topic, 1)
    storage = tmp_path / "store"
    produce(topic, batch(0, 400, 1))
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="r1", segment_max_records=100), extra=["--incremental"])
    parent_segments = describe(storage, "r1")["topics"][0]["partitions"][0]["segments"]
    assert parent_segments == 4
    delete_records(topic, 0, 250)          # segments [0,100) and [100,200) now hold only deleted records
    produce(topic, batch(400, 100, 1))
    child = run_backup(tmp_path, backup_config(storage, [topic], backup_id="r2", segment_max_records=100),
                       extra=["--incremental"])
    assert child["parent_backup_id"] == "r1" and child["records"] == 100, child
    assert child["inherited_segments"] == 2 and child["inherited_records"] == 200, child
    part = describe(storage, "r2")["topics"][0]["partitions"][0]
    assert part["start_offset"] == 200 and part["end_offset"] == 500 and part["records"] == 300, part
    assert "gaps" not in part, "offsets deleted since the parent belong to no backup: not a gap"
    # It restores what the topic held (and the rest of the segment that straddles the log start).
    source = dump(topic)
    target = unique("incret-r")
    run_restore(tmp_path, restore_config(storage, "r2", topic_mapping={topic: target}))
    restored = dump(target, TARGET)
    assert len(restored) == 300
    assert [r["value"] for r in restored[50:]] == [r["value"] for r in source], "everything the broker still holds"


def test_a_topic_created_again_is_copied_whole_and_recorded(tmp_path):
    topic = unique("increc")
    create_topic(topic, 2)
    storage = tmp_path / "store"
    produce(topic, batch(0, 200, 2))
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="t1"))
    old_id = describe(storage, "t1")["topics"][0]["topic_id"]
    recreate_topic(topic, 2)
    produce(topic, batch(1000, 300, 2))     # more records than before: offsets alone would not tell
    child = run_backup(tmp_path, backup_config(storage, [topic], backup_id="t2"), extra=["--incremental"])
    assert child["parent_backup_id"] == "t1" and child["inherited_segments"] == 0 and child["records"] == 300, child
    t = describe(storage, "t2")["topics"][0]
    assert t["topic_id"] and t["topic_id"] != old_id, t
    assert [e["event"] for e in t.get("events", [])] == ["recreated"], t
    assert old_id in t["events"][0]["detail"], t["events"]
    restore_and_compare(tmp_path, storage, "t2", topic, dump(topic))


def test_a_continuous_backup_records_a_topic_created_again_and_keeps_the_old_records(tmp_path):
    topic = unique("contrec")
    create_topic(topic, 1)
    storage = tmp_path / "store"
    produce(topic, batch(0, 200, 1))
    old = dump(topic)
    cfg = write_config(tmp_path, backup_config(storage, [topic], backup_id="live", continuous=True,
                                               checkpoint_interval_secs=1))
    proc = start(cfg)
    try:
        deadline = time.monotonic() + 60
        while True:
            r = run_cli(["describe", "--path", str(storage), "--backup-id", "live", "--format", "json"])
            if r.rc == 0 and json.loads(r.stdout)["records"] >= 200:
                break
            assert proc.poll() is None and time.monotonic() < deadline, "the continuous backup stored nothing"
            time.sleep(0.5)
        recreate_topic(topic, 1)
        produce(topic, batch(5000, 50, 1))
        deadline = time.monotonic() + 60
        events = []
        while not events:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the new topic was never noticed"
            time.sleep(1)
            r = run_cli(["describe", "--path", str(storage), "--backup-id", "live", "--format", "json"])
            if r.rc == 0:
                events = json.loads(r.stdout)["topics"][0].get("events", [])
    finally:
        rc, _, err = stop(proc)
    assert rc == 0, err[-3000:]
    assert [e["event"] for e in events] == ["recreated"], events
    assert "another backup id" in events[0]["detail"]
    doc = describe(storage, "live")
    assert doc["records"] == 200, "the old topic's records stay; the new topic's are not mixed in"
    target = unique("contrec-r")
    run_restore(tmp_path, restore_config(storage, "live", topic_mapping={topic: target}))
    assert_same_records(old, dump(target, TARGET), with_type=False)


def test_prune_keeps_what_a_kept_incremental_backup_inherited(tmp_path):
    """A chain pruned to its newest backup: the parent's segments the child
    inherited stay (the child validates --deep and restores exactly); those
    it did not inherit (wholly below the log start) are deleted."""
    topic = unique("incprune")
    create_topic(topic, 1)
    storage = tmp_path / "store"
    produce(topic, batch(0, 400, 1))
    cfg = backup_config(storage, [topic], backup_id="c1", segment_max_records=100, incremental=True)
    run_backup(tmp_path, cfg)
    parent = sorted(p.name for p in segment_files(storage, "c1"))
    assert len(parent) == 4, parent
    delete_records(topic, 0, 250)
    produce(topic, batch(400, 50, 1))
    cfg["backup_id"] = "c2"
    child = run_backup(tmp_path, cfg)
    assert child["parent_backup_id"] == "c1" and child["inherited_segments"] == 2, child
    expected = dump(topic)

    plan = json_output(cli_ok(["prune", "--path", str(storage), "--keep-last", "1", "--dry-run", "--format", "json"]),
                       "prune")
    assert sorted(p.name for p in segment_files(storage, "c1")) == parent, "a dry run deletes nothing"
    cli_ok(["prune", "--path", str(storage), "--keep-last", "1"])
    listed = [b["backup_id"] for b in json_output(cli_ok(["list", "--path", str(storage), "--format", "json"]),
                                                   "list")["backups"]]
    assert listed == ["c2"], (listed, plan)
    left = sorted(p.name for p in segment_files(storage, "c1"))
    assert left == parent[2:], f"only the inherited segments of c1 stay: {left}"
    cli_ok(["validate", "--path", str(storage), "--backup-id", "c2", "--deep"])
    target = unique("incprune-r")
    run_restore(tmp_path, restore_config(storage, "c2", topic_mapping={topic: target}))
    restored = dump(target, TARGET)
    assert len(restored) == 250 and [r["value"] for r in restored[50:]] == [r["value"] for r in expected]
