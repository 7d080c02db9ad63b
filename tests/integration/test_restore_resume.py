"""A restore killed with SIGKILL at random points and rerun each time ends with every record
in the target exactly once, and an offset map that matches where the records really are."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time

from conftest import (TARGET, backup_config, binary, cli_ok, create_topic, dump, produce, rec,
                      restore_config, run_backup, run_cli, unique, write_config)

KILLS = int(os.environ.get("KB_RESTORE_KILLS", "20"))  # the soak script raises this
PARTITIONS = 3
RECORDS = 60000


def backed_up(tmp_path, name: str, partitions: int, records: list[dict], restore_id: str,
              transaction_max_records: int, **restore_opts):
    """A topic filled with `records` and backed up as "b", and the config of a restore of it
    into "<topic>-restored": (topic, source records, store, target topic, restore config path)."""
    topic = unique(name)
    create_topic(topic, partitions)
    produce(topic, records)
    source = dump(topic)
    store = tmp_path / "store"
    run_backup(tmp_path, backup_config(store, [topic], backup_id="b"))
    target_topic = topic + "-restored"
    cfg = restore_config(store, backup_id="b", restore_id=restore_id, topic_mapping={topic: target_topic},
                         transaction_max_records=transaction_max_records, **restore_opts)
    return topic, source, store, target_topic, write_config(tmp_path, cfg, "restore.yaml")


def assert_same_per_partition(source: list[dict], target: list[dict], fields=("key", "value")) -> None:
    """Every partition of the target holds its source partition's records, in order: nothing
    doubled, nothing missing."""
    for p in sorted({r["partition"] for r in source} | {r["partition"] for r in target}):
        src = [tuple(r[f] for f in fields) for r in source if r["partition"] == p]
        dst = [tuple(r[f] for f in fields) for r in target if r["partition"] == p]
        assert dst == src, f"partition {p}: the target differs from the source (duplicates or gaps)"


def test_killed_restore_resumes_with_no_duplicate_and_no_gap(tmp_path):
    records = [rec(i % PARTITIONS, f"k{i}", f"value-{i}-" + "x" * 100, headers=[("n", str(i))])
               for i in range(RECORDS)]
    # Two producers (small records get one by default): kills land between their commits too.
    topic, source, store, target_topic, path = backed_up(tmp_path, "resume", PARTITIONS, records, "soak", 100,
                                                         producers=2)
    args = [str(binary()), "restore", "--config", str(path), "--format", "json"]
    rng = random.Random(int(os.environ.get("KB_SEED", "0")) or None)
    kills = 0
    attempts = 0
    while kills < KILLS and attempts < KILLS * 4:
        attempts += 1
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.15, 1.2))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        else:
            out, err = proc.communicate()
            assert proc.returncode == 0, f"restore failed: {err}"
            break  # it finished before the kill
    assert kills >= KILLS, f"only {kills} kills landed while the restore ran (make the restore longer)"

    # validate-restore before the rerun sees a restore to continue, not a target holding foreign data.
    check = run_cli(["validate-restore", "--config", str(path)])
    assert check.rc == 0, f"validate-restore of a resumable restore: {check.describe()}"

    final = cli_ok(["restore", "--config", path, "--format", "json"]).json()
    target = dump(target_topic, bootstrap=TARGET)  # read_committed
    assert len(target) == len(source), f"{len(target)} records in the target, {len(source)} in the source"
    assert_same_per_partition(source, target, fields=("key", "value", "headers"))

    assert_offset_map_is_true(store, "soak", source, target)
    assert final["offset_map"].endswith("offset-map.json")


def assert_offset_map_is_true(store, restore_id: str, source: list[dict], target: list[dict]) -> None:
    """The offset map says where each source record is: check it against the target's offsets."""
    mapping = json.loads(cli_ok(["show-offset-mapping", "--path", store, "--backup-id", "b",
                                 "--restore-id", restore_id, "--format", "json"]).stdout)
    parts = mapping["topics"][0]["partitions"]
    assert sorted(part["source_partition"] for part in parts) == sorted({r["partition"] for r in source})
    for part in parts:
        p = part["source_partition"]
        src_offsets = [r["offset"] for r in source if r["partition"] == p]
        dst_offsets = [r["offset"] for r in target if r["partition"] == p]
        mapped = {}
        for s0, tp, t0, count in part["runs"]:
            assert tp == p
            for i in range(count):
                assert s0 + i not in mapped, f"partition {p}: offset {s0 + i} is mapped twice"
                mapped[s0 + i] = t0 + i
        assert [mapped.get(o) for o in src_offsets] == dst_offsets, f"offset map wrong for partition {p}"


def test_restore_killed_between_its_producers_commits_resumes_each_partition_exactly(tmp_path):
    """The restore writes with two producers, each committing the data and progress of its own
    partitions in its own transaction. Killed after the first producer's commit and before the
    second's, the target holds the first's partitions up to that commit and the second's up to the
    one before; the rerun resumes each partition from its own progress: nothing doubled, nothing
    missing, and the offset map (whose part of that commit is half committed) true, also after
    the rerun is killed in turn. The rerun uses one producer: it still takes the second's
    transactional id over, which aborts the transaction the kill left open (else the progress
    would stay unreadable for minutes)."""
    partitions = 4
    records = [rec(i % partitions, f"k{i}", f"v{i}-" + "y" * 200) for i in range(8000)]
    topic, source, store, target_topic, path = backed_up(tmp_path, "between", partitions, records, "between",
                                                         1000, producers=2)
    # Each commit commits the first producer's transaction, then the second's: the fifth
    # transaction commit of the process is the first producer's in the third commit.
    killed = run_cli(["restore", "--config", path],
                     env={"KAFKA_BACKUP_TEST_KILL_AFTER_COMMITS": "5"}, timeout=120)
    assert killed.rc == 137, f"the restore was to die in its third commit: {killed.describe()}"
    partial = dump(target_topic, bootstrap=TARGET)  # read_committed: what the commits made visible
    assert 0 < len(partial) < len(source), f"{len(partial)} of {len(source)} records visible after the kill"

    rerun = restore_config(store, backup_id="b", restore_id="between", topic_mapping={topic: target_topic},
                           transaction_max_records=1000, producers=1)
    rerun_path = write_config(tmp_path, rerun, "rerun.yaml")
    # The rerun commits twice and dies: the second producer's records of the half-committed
    # part are now written again and committed, past that producer's old progress. The last
    # run must still not map them twice (the part holding their aborted first copy is stored).
    started = time.monotonic()
    killed = run_cli(["restore", "--config", rerun_path], env={"KAFKA_BACKUP_TEST_KILL_AFTER_COMMITS": "2"},
                     timeout=120)
    assert killed.rc == 137, f"the rerun was to die after its second commit: {killed.describe()}"
    assert time.monotonic() - started < 60, "the rerun waited for the open transaction to time out"
    cli_ok(["restore", "--config", rerun_path], timeout=120)
    target = dump(target_topic, bootstrap=TARGET)
    assert_same_per_partition(source, target)
    assert_offset_map_is_true(store, "between", source, target)


def test_restore_killed_inside_its_commit_resumes_at_once(tmp_path):
    """A restore killed between sending its progress offsets and committing leaves that
    transaction open until the broker times it out (5 minutes), and the group refuses to report
    stable offsets meanwhile. validate-restore reads the last committed progress instead; the
    rerun takes the transactional id over first, which aborts the open transaction, and goes on."""
    records = [rec(i % 2, f"k{i}", f"v{i}") for i in range(2000)]
    _, source, _, target_topic, path = backed_up(tmp_path, "pending", 2, records, "pending", 500)
    cli_ok(["restore", "--config", path])

    # What the kill leaves: progress offsets sent to a transaction that never ends.
    txn = "kafka-backup-restore.b.pending"
    produce(target_topic, [{"txn": "begin"}, {"txn": "offsets", "group": txn, "partition": 0, "offset": 1},
                           {"txn": "halt"}], bootstrap=TARGET, transactional_id=txn)

    check = run_cli(["validate-restore", "--config", str(path)], timeout=60)
    assert check.rc == 0, f"validate-restore with a transaction pending: {check.describe()}"
    started = time.monotonic()
    rerun = run_cli(["restore", "--config", str(path)], timeout=120)
    assert rerun.rc == 0, f"restore with a transaction pending: {rerun.describe()}"
    assert time.monotonic() - started < 60, "the rerun waited for the open transaction to time out"
    target = dump(target_topic, bootstrap=TARGET)
    assert_same_per_partition(source, target)
