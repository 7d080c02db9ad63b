"""restore.on_existing_data: purge: an existing target topic is emptied with DeleteRecords
(the topic itself, its configs and id stay) before the restore writes; asked on a terminal
unless --yes, reported by a dry run and validate-restore, refused for a compacted topic."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

from conftest import (EXIT_BAD_INPUT, TARGET, assert_error, assert_same_records, backup_config, binary,
                      cli_ok, commit_offsets, create_topic, describe_topic, dump, end_offsets, parallel, produce,
                      rec, restore_config, run_backup, run_cli, unique, write_config)
from helpers.kafka import group_offsets

EXIT_CONFLICT = 7


def run_on_terminal(args: list[str], answer: str, timeout: float = 120) -> tuple[int, str]:
    """Runs kafka-backup with stdin and stderr on a pseudo-terminal, answers
    `answer` once it asks; returns the exit code and what the terminal showed."""
    master, slave = pty.openpty()
    p = subprocess.Popen([str(binary()), *args], stdin=slave, stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    shown, deadline, answered = b"", time.monotonic() + timeout, False
    while p.poll() is None and time.monotonic() < deadline:
        try:
            if select.select([master], [], [], 0.2)[0]:
                shown += os.read(master, 65536)
        except OSError:
            break
        if not answered and b"Type yes to go on" in shown:
            os.write(master, answer.encode() + b"\n")
            answered = True
    rc = p.wait(timeout=max(1, deadline - time.monotonic()))
    os.close(master)
    assert answered, f"it never asked:\n{shown.decode(errors='replace')}"
    return rc, shown.decode(errors="replace")


def test_purge_empties_an_existing_topic_keeps_it_and_restores_exactly(tmp_path):
    base = unique("purge")
    topic, target = f"{base}-src", f"{base}-dst"
    parallel(lambda: create_topic(topic, 2),
             lambda: create_topic(target, 2, TARGET, configs={"retention.ms": "123456789"}))
    parallel(lambda: produce(topic, [rec(i % 2, f"k{i}", f"v{i}", timestamp=1000 + i) for i in range(20)]),
             lambda: produce(target, [rec(i % 2, f"old{i}", f"old {i}") for i in range(7)], TARGET))
    commit_offsets(f"{base}-g", topic, {0: 3, 1: 5})
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="b"))
    cfg = restore_config(storage, "b", topic_mapping={topic: target}, on_existing_data="purge",
                         consumer_group_strategy="exact", reset_consumer_offsets=True, restore_id="purge-1")
    path = write_config(tmp_path, cfg, "purge.yaml")

    # validate-restore and a dry run say what would go, and delete nothing.
    r = cli_ok(["validate-restore", "--config", path, "--format", "json"]).json()
    detail = [c["detail"] for c in r["checks"] if c["name"] == f"topic {target}"]
    assert detail and "its 7 offsets will be deleted first" in detail[0], r
    dry = cli_ok(["restore", "--config", path, "--dry-run", "--format", "json"]).json()
    assert [t["purged_offsets"] for t in dry["topics"]] == [7], dry
    assert "7 offsets would be purged first" in cli_ok(["restore", "--config", path, "--dry-run"]).stdout
    assert len(dump(target, TARGET)) == 7

    # On a terminal it asks; anything but "yes" stops before deleting or writing.
    rc, shown = run_on_terminal(["restore", "--config", str(path)], "no")
    assert rc == EXIT_CONFLICT and "not confirmed" in shown and target in shown, shown
    assert len(dump(target, TARGET)) == 7

    # Not on a terminal the configuration is the consent.
    out = cli_ok(["restore", "--config", path, "--format", "json"]).json()
    assert [t["purged_offsets"] for t in out["topics"]] == [7] and out["records"] == 20, out
    assert_same_records(dump(topic), dump(target, TARGET), what=target)
    marks = end_offsets(target, TARGET)
    assert all(low >= 3 for low, _ in marks.values()), marks  # the log start moved: purged, not recreated
    described = describe_topic(target, TARGET)
    assert described["configs"].get("retention.ms") == "123456789", described
    # The group resumes at the record it had reached, at its new target offset.
    restored = dump(target, TARGET)
    want = {(target, p): [r for r in restored if r["partition"] == p][n]["offset"] for p, n in ((0, 3), (1, 5))}
    assert group_offsets(f"{base}-g", TARGET) == want

    # --yes on a terminal: no question (a second restore id, into the restored topic).
    cfg["restore"]["restore_id"] = "purge-2"
    p = subprocess.run([str(binary()), "restore", "--config", str(write_config(tmp_path, cfg, "again.yaml")),
                        "--yes"], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and "Type yes" not in p.stderr, p.stderr
    assert_same_records(dump(topic), dump(target, TARGET), what=target)

    # A compacted topic refuses DeleteRecords: exit 7 naming it, nothing written.
    compacted = f"{base}-compacted"
    create_topic(compacted, 2, TARGET, configs={"cleanup.policy": "compact"})
    produce(compacted, [rec(0, "k", "old")], TARGET)
    cfg = restore_config(storage, "b", topic_mapping={topic: compacted}, on_existing_data="purge")
    assert_error(run_cli(["restore", "--config", write_config(tmp_path, cfg, "compacted.yaml")]), EXIT_CONFLICT,
                 compacted, "compact")
    assert len(dump(compacted, TARGET)) == 1

    cfg["restore"]["on_existing_data"] = "wipe"
    assert_error(run_cli(["restore", "--config", write_config(tmp_path, cfg, "bad.yaml")]), EXIT_BAD_INPUT,
                 "on_existing_data", "expected fail, append or purge")
