"""A restore killed with SIGKILL at random points and rerun each time ends with every record
in the target exactly once, and an offset map that matches where the records really are."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

from conftest import (TARGET, binary, cli_ok, dump, produce, rec, restore_config, run_cli,
                      write_config)
from helpers.restores import assert_offset_map_is_true, assert_same_per_partition, backed_up

KILLS = int(os.environ.get("KB_RESTORE_KILLS", "20"))  # the soak script raises this
PARTITIONS = 3
RECORDS = 60000


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
