"""Transactions: a backup holds exactly the committed records (read_committed),
and a restore writes no aborted record."""

from __future__ import annotations

import json

import time

from conftest import (TARGET, assert_same_records, backup_config, cli_ok, create_topic, dump, parallel, produce, rec,
                      restore_config, run_backup, run_cli, run_restore, unique, unb64, write_config)
from helpers.schemas import assert_valid

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


def test_an_open_transaction_is_not_waited_for_and_what_it_holds_back_is_reported(tmp_path):
    """A transaction left open on partition 0 (its producer gone; the broker
    would abort it only after its timeout) holds back its records and the
    plain ones written after it. The one-shot backup does not wait: it ends at
    the last stable offset, warns naming the partition and the offsets, and
    reports them in its summary, --format json and describe. Once the
    transaction ends, the next (incremental) backup takes what was held back,
    and restoring it gives exactly the committed source."""
    topic = unique("txn-open")
    create_topic(topic, 2)
    produce(topic, [rec(p, f"k{p}-{i}", f"plain-{p}-{i}") for p in (0, 1) for i in range(10)])
    txn_id = f"{topic}-producer"
    produce(topic, [{"txn": "begin"}, *[rec(0, f"t{i}", f"open-txn-{i}") for i in range(5)], {"txn": "halt"}],
            transactional_id=txn_id)
    produce(topic, [rec(p, f"k{p}-late-{i}", f"late-{p}-{i}") for p in (0, 1) for i in range(3)])

    storage = tmp_path / "store"
    path = write_config(tmp_path, backup_config(storage, [topic], backup_id="first"), "first.yaml")
    started = time.monotonic()
    r = run_cli(["backup", "--config", path, "--format", "json", "--summary-file", tmp_path / "summary.json"],
                timeout=120)
    assert r.rc == 0, r.describe()
    assert time.monotonic() - started < 30, "the backup waited for the open transaction"
    summary = assert_valid("backup", r.json())
    assert summary["records"] == 10 + 13, summary
    assert summary.get("held_back_offsets") == 8, r.describe()   # offsets 10..17 of partition 0
    assert summary["held_back"] == [{"topic": topic, "partition": 0, "stable_offset": 10, "offsets": 8}], summary
    assert f"{topic}[0]: a transaction still open holds back offsets 10 to 17 (8)" in r.stderr, r.describe()
    assert json.loads((tmp_path / "summary.json").read_text())["held_back_offsets"] == 8

    desc = assert_valid("describe", cli_ok(["describe", "--path", storage, "--backup-id", "first", "--format",
                                            "json"]).json())
    parts = {p["partition"]: p for p in desc["topics"][0]["partitions"]}
    assert (parts[0]["end_offset"], parts[0].get("held_back")) == (10, 8), parts[0]
    assert (parts[1]["end_offset"], parts[1].get("held_back")) == (13, None), parts[1]
    text = cli_ok(["describe", "--path", storage, "--backup-id", "first"]).stdout
    assert "held back: offsets 10..17" in text, text

    # The transactional id taken over aborts the open transaction; the next
    # backup continues from offset 10 and holds the late records.
    produce(topic, [{"txn": "begin"}, rec(0, "t-new", "committed-after"), {"txn": "commit"}], transactional_id=txn_id)
    second = run_backup(tmp_path, backup_config(storage, [topic], backup_id="second", incremental=True), "second.yaml")
    assert second["parent_backup_id"] == "first" and "held_back" not in second, second
    source = dump(topic)
    assert not any(unb64(x["value"]).decode().startswith("open-txn-") for x in source)
    run_restore(tmp_path, restore_config(storage, backup_id="second"))
    assert_same_records(source, dump(topic, TARGET), what=topic)
