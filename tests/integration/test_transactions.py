"""Transactions: a backup holds exactly the committed records (read_committed),
and a restore writes no aborted record."""

from __future__ import annotations

import json

from conftest import (TARGET, assert_same_records, backup_config, cli_ok, create_topic, dump,
                      parallel, produce, rec, restore_config, run_backup, run_restore, unique, unb64)

COMMITTED_MARK = "committed-txn-1-record-0"
ABORTED_MARK = "aborted-txn-1-record-0"


def txn_input() -> list[dict]:
    lines: list[dict] = []

    def txn(kind: str, n: int, end: str) -> None:
        lines.append({"txn": "begin"})
        for i in range(6):
            lines.append(rec(i % 3, f"{kind}-key-{n}-{i}", f"{kind}-txn-{n}-record-{i}",
                             headers=[("txn", f"{kind}-{n}")], timestamp=1_700_000_000_000 + n * 100 + i))
        lines.append({"txn": end})

    txn("committed", 1, "commit")
    txn("aborted", 1, "abort")
    txn("committed", 2, "commit")
    txn("aborted", 2, "abort")
    txn("aborted", 3, "abort")
    txn("committed", 3, "commit")
    txn("aborted", 4, "abort")          # the last thing in every partition is an abort marker
    return lines


def values(records: list[dict]) -> set[str]:
    return {unb64(r["value"]).decode() for r in records if r["value"] is not None}


def test_backup_and_restore_keep_only_committed_records(tmp_path):
    topic = unique("txn")
    create_topic(topic, 3)
    produce(topic, [rec(p, f"plain-{p}", f"plain-before-{p}", timestamp=1_690_000_000_000 + p)
                    for p in range(3)])
    produce(topic, txn_input(), transactional_id=f"{topic}-producer")
    produce(topic, [rec(p, f"plain-{p}", f"plain-after-{p}", timestamp=1_710_000_000_000 + p)
                    for p in range(3)])

    committed, uncommitted = parallel(lambda: dump(topic), lambda: dump(topic, isolation="read_uncommitted"))
    # The test really has aborted records on the source log.
    assert ABORTED_MARK in values(uncommitted)
    assert ABORTED_MARK not in values(committed)
    assert COMMITTED_MARK in values(committed)
    assert len(committed) == 6 + 3 * 6, [unb64(r["value"]) for r in committed]

    storage = tmp_path / "store"
    summary = run_backup(tmp_path, backup_config(storage, [topic], backup_id="txn"))
    assert summary["records"] == len(committed), summary
    desc = cli_ok(["describe", "--path", storage, "--backup-id", "txn", "--format", "json"]).json()
    assert desc["topics"][0]["records"] == len(committed)
    cli_ok(["validate", "--path", storage, "--backup-id", "txn", "--deep"])

    result = run_restore(tmp_path, restore_config(storage, backup_id="txn"))
    assert result["records"] == len(committed), json.dumps(result)

    restored, restored_uncommitted = parallel(
        lambda: dump(topic, TARGET), lambda: dump(topic, TARGET, isolation="read_uncommitted"))
    assert_same_records(committed, restored, what=topic)
    # Nothing aborted was written to the target at all, not even as aborted data.
    assert ABORTED_MARK not in values(restored_uncommitted)
    assert not any(v.startswith("aborted-") for v in values(restored_uncommitted))
    assert COMMITTED_MARK in values(restored)
    assert len(restored_uncommitted) == len(committed)
