"""The backup pipeline under memory pressure: many partitions, a tight
max_buffered_bytes and small blocks and segments, so that blocks are stored
early, workers queue up and segments are sealed from every partition at once.
Nothing may be lost, duplicated or reordered."""

from __future__ import annotations

import random

from conftest import (TARGET, assert_same_records, backup_config, cli_ok, create_topic, dump, produce, rec,
                      restore_config, run_backup, run_restore, unique)


def test_many_partitions_under_a_tight_memory_budget_round_trip_exactly(tmp_path):
    topic = unique("pipeline")
    partitions = 40
    create_topic(topic, partitions)
    rng = random.Random(5)
    records = []
    for i in range(4000):
        size = rng.choice([0, 10, 300, 3000, 30000])
        value = None if size == 0 else bytes(rng.getrandbits(8) for _ in range(min(size, 64))) * (size // 64 + 1)
        records.append(rec(i % partitions, f"k{i}", value, headers=[("n", str(i))], timestamp=1_700_000_000_000 + i))
    produce(topic, records)
    source = dump(topic)
    assert len(source) == len(records)

    storage = tmp_path / "store"
    summary = run_backup(tmp_path, backup_config(storage, [topic], backup_id="tight",
                                                 max_buffered_bytes=1 << 20, block_size_bytes=16384,
                                                 segment_max_bytes=1 << 16))
    assert summary["records"] == len(records)
    assert summary["segments"] > partitions, "64 KiB segments: several per partition"
    cli_ok(["validate", "--path", str(storage), "--backup-id", "tight", "--deep"])

    renamed = f"{topic}-copy"
    run_restore(tmp_path, restore_config(storage, backup_id="tight", topic_mapping={topic: renamed}))
    assert_same_records(source, dump(renamed, bootstrap=TARGET), what="tight-budget backup")
