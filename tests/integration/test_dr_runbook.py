"""The seed's disaster-recovery runbook (tests/integration/dr-restore.sh: the
seed's script with only the cluster address and the storage path changed,
both overridable by DR_CLUSTER and BACKUP_PATH) run against a real backup,
with kafka-backup and kafka-topics found on PATH.

The script has no `set -e` and ends with `kafka-topics --list`, so its exit
code says nothing about the restore: the test checks every step's output."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import (KAFKA_BIN, SOURCE, TARGET, assert_same_records, backup_config, binary,
                      commit_offsets, create_topic, dump, parallel, produce, rec, restore_config,
                      run_backup, unique, write_config)

SCRIPT = Path(__file__).resolve().parent / "dr-restore.sh"


def test_dr_runbook_restores_and_lists_the_topic(tmp_path):
    topic = unique("dr")
    group = f"{topic}-group"
    create_topic(topic, 3)
    produce(topic, [rec(p, f"order-{p}-{i}", f"order {p}/{i}", headers=[("src", "dr")],
                        timestamp=1_700_000_000_000 + 10 * i + p) for p in range(3) for i in range(20)])
    commit_offsets(group, topic, {0: 5, 1: 20, 2: 0})
    storage = tmp_path / "store"
    backup_id = "production-hourly-1"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id=backup_id, include_offset_headers=True))

    workdir = tmp_path / "runbook"
    workdir.mkdir()
    write_config(workdir, restore_config(storage, backup_id=backup_id, consumer_group_strategy="exact",
                                         reset_consumer_offsets=True, include_offset_headers=False),
                 "dr-restore.yaml")
    env = dict(os.environ)
    env.update(DR_CLUSTER=TARGET, BACKUP_PATH=str(storage),
               PATH=os.pathsep.join([str(binary().parent), str(KAFKA_BIN), env.get("PATH", "")]))
    p = subprocess.run(["bash", str(SCRIPT), backup_id], cwd=workdir, env=env, capture_output=True, text=True,
                       timeout=300)
    out = p.stdout
    report = f"exit {p.returncode}\n--- stdout\n{out[-6000:]}\n--- stderr\n{p.stderr[-4000:]}"
    assert p.returncode == 0, report
    assert "command not found" not in p.stderr, report

    steps = ["=== Kafka Disaster Recovery ===", f"Backup ID: {backup_id}", f"Target: {TARGET}",
             "Step 1: Validating backup...", f"passed: deep validation of backup {backup_id}",
             "Step 2: Validating restore config...", "restore configuration is valid",
             "Step 3: Executing restore...", "phase 1 (data):", f"restored backup {backup_id}: 60 records",
             "phase 2 (offset mapping):", "phase 3 (consumer groups):", "committed on the target",
             "Step 4: Verifying restore...", "=== DR Complete ==="]
    at = 0
    for s in steps:
        i = out.find(s, at)
        assert i >= 0, f"runbook output lacks {s!r} (after position {at}):\n{report}"
        at = i + len(s)
    assert "FAIL" not in out and "error:" not in p.stderr, report

    listed = out.split("Step 4: Verifying restore...", 1)[1].split("=== DR Complete ===", 1)[0].split()
    assert topic in listed, f"{topic} not in the kafka-topics listing:\n{report}"
    src, dst = parallel(lambda: dump(topic, SOURCE), lambda: dump(topic, TARGET))
    assert_same_records(src, dst, what=topic)
