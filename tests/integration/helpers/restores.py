"""A topic backed up and the config of its restore, and the checks of a restore's result:
partition by partition equality, and an offset map that says where each record really is."""

from __future__ import annotations

import json

from conftest import (backup_config, cli_ok, create_topic, dump, produce, restore_config, run_backup, unique,
                      write_config)


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
