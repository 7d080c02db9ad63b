"""Content digests in manifests (docs/format/digest.md), checked against an independent
implementation over the records Kafka's own client reads from the source topic: nulls, empty
values, headers (duplicate, null), a LogAppendTime topic, several segments, an incremental chain.
`validate --deep` finds a changed value whose block CRC was re-sealed (only the digest can), and a
backup written before digests existed still validates and restores."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import (EXIT_CORRUPT, backup_config, cli_ok, create_topic, dump, manifest_path, produce, rec,
                      restore_config, run_backup, run_cli, run_restore, unique, TARGET)
from helpers.digests import EMPTY, expected
from helpers.segments import Segment

BASE_TS = 1_700_000_000_000


def records(p: int, first: int, n: int) -> list[dict]:
    out = []
    for i in range(first, first + n):
        key = None if i % 7 == 0 else ("" if i % 11 == 0 else f"k{p}-{i}")
        value = None if i % 5 == 0 else ("" if i % 13 == 0 else f"v{p}-{i} " + "x" * (i % 50))
        headers = [("h", f"{i}"), ("h", None), ("dup", "")] if i % 3 == 0 else []
        out.append(rec(p, key, value, headers, timestamp=BASE_TS + i))
    return out


def by_partition(dumped: list[dict]) -> dict[int, list[dict]]:
    parts: dict[int, list[dict]] = {}
    for r in dumped:
        parts.setdefault(r["partition"], []).append(r)
    return parts


def manifest(storage: Path, backup_id: str) -> dict:
    return json.loads(manifest_path(storage, backup_id).read_text())


def assert_digests(m: dict, topic: str, source: list[dict]) -> None:
    t = next(t for t in m["topics"] if t["name"] == topic)
    parts = by_partition(source)
    for p in t["partitions"]:
        segs, whole = expected(p, parts.get(p["partition"], []))
        assert [s["digest"] for s in p["segments"]] == segs, (topic, p["partition"])
        assert p["digest"] == whole, (topic, p["partition"])


def test_digests_match_an_independent_implementation(tmp_path):
    topic, lat = unique("digest"), unique("digest-lat")
    create_topic(topic, 3)
    create_topic(lat, 1, configs={"message.timestamp.type": "LogAppendTime"})
    produce(topic, [r for p in (0, 1) for r in records(p, 0, 400)])  # partition 2 stays empty
    produce(lat, records(0, 0, 50))
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic, lat], backup_id="d", segment_max_records=150))
    m = manifest(storage, "d")
    assert_digests(m, topic, dump(topic))
    assert_digests(m, lat, dump(lat))
    lat_dump = dump(lat)
    assert lat_dump and all(r["timestamp_type"] == "LogAppendTime" for r in lat_dump)
    empty = next(p for t in m["topics"] if t["name"] == topic for p in t["partitions"] if p["partition"] == 2)
    assert empty["segments"] == [] and empty["digest"] == EMPTY
    assert len(next(t for t in m["topics"] if t["name"] == topic)["partitions"][0]["segments"]) == 3

    # An incremental backup's partition digest covers its parent's segments too.
    produce(topic, [r for p in (0, 1) for r in records(p, 400, 100)])
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="d2", incremental=True, segment_max_records=150),
               name="inc.yaml")
    inc = manifest(storage, "d2")
    assert inc.get("parent_backup_id") == "d"
    assert_digests(inc, topic, dump(topic))


def test_validate_deep_finds_a_changed_value_only_the_digest_can(tmp_path):
    topic = unique("digest-tamper")
    create_topic(topic, 1)
    produce(topic, records(0, 0, 400))
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="t", compression="none", block_size_bytes=4096))
    cli_ok(["validate", "--path", str(storage), "--backup-id", "t", "--deep"])
    seg = Segment(storage, next((storage / "data" / "t").rglob("*.kbseg")))
    # A value's last byte, changed inside block 1's payload with the block CRC re-sealed: the
    # block still decodes, the counts and offsets still agree, only the content differs.
    block = seg.blocks[1]
    data = seg.path.read_bytes()
    at = data.rindex(b"x", block.pos + 48, block.pos + block.size) - (block.pos + 48)
    seg.tamper_block(1, at)
    r = run_cli(["validate", "--path", str(storage), "--backup-id", "t", "--deep", "--format", "json"])
    assert r.rc == EXIT_CORRUPT, r.stderr
    issues = r.json()["issues"]
    assert any(i["object"] == seg.key and "content digest" in i["message"] for i in issues), issues
    # The shallow check cannot see it (the object is whole).
    cli_ok(["validate", "--path", str(storage), "--backup-id", "t"])


def test_a_backup_without_digests_still_validates_and_restores(tmp_path):
    topic = unique("digest-old")
    create_topic(topic, 2)
    source = [r for p in (0, 1) for r in records(p, 0, 120)]
    produce(topic, source)
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="old"))
    path = manifest_path(storage, "old")
    m = json.loads(path.read_text())
    for t in m["topics"]:
        for p in t["partitions"]:
            p.pop("digest")
            for s in p["segments"]:
                s.pop("digest")
    path.write_text(json.dumps(m))
    cli_ok(["validate", "--path", str(storage), "--backup-id", "old", "--deep"])
    restored = unique("digest-old-restored")
    run_restore(tmp_path, restore_config(storage, "old", topic_mapping={topic: restored}))
    assert [(r["partition"], r["key"], r["value"]) for r in dump(restored, bootstrap=TARGET)] == \
        [(r["partition"], r["key"], r["value"]) for r in dump(topic)]
    # A stored partition digest that is not the fold of its segments' is found even by a shallow check.
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="new"), name="new.yaml")
    path = manifest_path(storage, "new")
    m = json.loads(path.read_text())
    m["topics"][0]["partitions"][0]["digest"] = EMPTY
    path.write_text(json.dumps(m))
    r = run_cli(["validate", "--path", str(storage), "--backup-id", "new"])
    assert r.rc == EXIT_CORRUPT and "not the fold" in r.stdout + r.stderr, (r.stdout, r.stderr)
