"""Damaged backups: what `validate` finds and what `restore` does with them.

A real backup of a real topic is damaged on disk the ways storage damages
data: a bit flipped in each part of a segment (header, a block's header, a
block's payload, the index, the trailer), a segment truncated, a segment
deleted. For each:
- `validate --deep` names the object and the byte position and offsets, says
  which records cannot be read, and goes on to check the rest (per partition
  results; exit 4); shallow `validate` flags truncated and deleted segments by
  their size;
- `restore` stops with exit 4 naming the object (restore.on_corruption: fail,
  the default);
- `restore --skip-corrupt` (or on_corruption: skip) restores every readable
  record, leaves out exactly the unreadable ones, lists them in its report
  (the ranges validate reported) and exits 4; damage that costs no record (an
  index or trailer, every block read without it) restores everything, exit 0;
- a consumer group whose committed offset lies in a skipped range resumes at
  the first restored record after it.
See docs/format/segment.md, "Damaged segments", and docs/config.md.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from conftest import (EXIT_CORRUPT, EXIT_OK, TARGET, assert_error, backup_config, commit_offsets, create_topic, dump,
                      produce, rec, restore_config, run_backup, run_cli, segment_files, unique, unb64, write_config)
from helpers.schemas import assert_valid
from helpers.segments import Segment

BASE_TS = 1_700_000_000_000
RECORDS = {0: 2000, 1: 300}       # per partition
GROUP_OFFSET = 1500               # the group's committed offset in partition 0


def value(partition: int, offset: int) -> str:
    return f"p{partition}-{offset} " + "abcdefgh" * (offset % 40)


# -------------------------------------------------------------- segments


def segments(storage: Path, partition: int | None = None) -> list[Segment]:
    segs = [Segment(storage, p) for p in segment_files(storage, "base")]
    segs = [s for s in segs if partition is None or s.partition == partition]
    return sorted(segs, key=lambda s: (s.partition, s.first_offset))


# ----------------------------------------------------------------- fixture

@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A 2-partition topic (2000 and 300 records, offsets = production order),
    a group committed at offset 1500 of partition 0, and backup "base" of it:
    uncompressed 4 KiB blocks, at most 1000 records a segment (partition 0 has
    two segments)."""
    tmp = tmp_path_factory.mktemp("corruption")
    topic, group = unique("corrupt"), unique("corrupt-group")
    create_topic(topic, 2)
    produce(topic, [rec(p, f"k{p}-{i}", value(p, i), timestamp=BASE_TS + i)
                    for p in (0, 1) for i in range(RECORDS[p])])
    commit_offsets(group, topic, {0: GROUP_OFFSET})
    storage = tmp / "store"
    run_backup(tmp, backup_config(storage, [topic], backup_id="base", compression="none", block_size_bytes=4096,
                                  segment_max_records=1000))
    segs = segments(storage, 0)
    assert len(segs) == 2 and len(segs[0].blocks) > 10, [(s.key, len(s.blocks)) for s in segs]
    return {"tmp": tmp, "topic": topic, "group": group, "storage": storage}


def store_copy(world: dict, tmp_path: Path) -> Path:
    """A private copy of the backup, to damage."""
    dest = tmp_path / "store"
    shutil.copytree(world["storage"], dest)
    return dest


def validate(storage: Path, *extra: str, rc: int = EXIT_CORRUPT) -> dict:
    r = run_cli(["validate", "--path", storage, "--backup-id", "base", "--format", "json", *extra])
    assert r.rc == rc, r.describe()
    return assert_valid("validate", r.json())


def restore(world: dict, tmp_path: Path, storage: Path, name: str, *extra: str, **opts):
    """Restores "base" into <topic>-<name>; returns (CliResult, target topic)."""
    target = f"{world['topic']}-{name}"
    cfg = restore_config(storage, backup_id="base", topic_mapping={world["topic"]: target}, restore_id=name, **opts)
    r = run_cli(["restore", "--config", write_config(tmp_path, cfg, f"{name}.yaml"), "--format", "json", *extra])
    return r, target


def restored_values(target: str) -> set[tuple[int, str]]:
    return {(r["partition"], unb64(r["value"]).decode()) for r in dump(target, TARGET)}


def expected_values(skipped: list[tuple[int, int, int]]) -> set[tuple[int, str]]:
    """Every backed-up record but those in (partition, first, last) ranges."""
    return {(p, value(p, o)) for p in RECORDS for o in range(RECORDS[p])
            if not any(sp == p and first <= o <= last for sp, first, last in skipped)}


def assert_restored_skipping(world, tmp_path, storage, name, lost: list[dict]) -> dict:
    """restore --skip-corrupt: every readable record lands, `lost` (validate's
    unreadable ranges, with topic/partition/object) is exactly what the report
    skipped, exit 4 when it is not empty (else 0)."""
    r, target = restore(world, tmp_path, storage, name, "--skip-corrupt")
    assert r.rc == (EXIT_CORRUPT if lost else EXIT_OK), r.describe()
    doc = assert_valid("restore", r.json())
    got = [(s["partition"], s["object"], s["position"], s["first_offset"], s["last_offset"], s["records"])
           for s in doc["skipped"]]
    want = [(i["partition"], i["object"], i["unreadable"]["position"], i["unreadable"]["first_offset"],
             i["unreadable"]["last_offset"], i["unreadable"]["records"]) for i in lost]
    assert got == want, f"restore skipped {got}, validate reported {want}"
    assert all(s["topic"] == world["topic"] and s["reason"] for s in doc["skipped"]), doc["skipped"]
    assert doc["records_skipped"] == sum(s["records"] for s in doc["skipped"])
    assert doc["records"] == sum(RECORDS.values()) - doc["records_skipped"], doc
    ranges = [(s["partition"], s["first_offset"], s["last_offset"]) for s in doc["skipped"]]
    assert restored_values(target) == expected_values(ranges)
    return doc


def unreadable_issues(doc: dict) -> list[dict]:
    return [i for i in doc["issues"] if "unreadable" in i]


# ------------------------------------------------------------------ sound

def test_sound_backup_reports_every_partition(world):
    """Deep: each partition's segments, records read, offsets and time range;
    shallow: the same from the manifest, nothing read."""
    doc = validate(world["storage"], "--deep", rc=EXIT_OK)
    results = {p["partition"]: p for p in doc["partition_results"]}
    assert sorted(results) == [0, 1] and all(p["topic"] == world["topic"] for p in results.values())
    for p, n in RECORDS.items():
        r = results[p]
        assert r["ok"] and r["issues"] == 0 and r["records_unreadable"] == 0, r
        assert (r["records"], r["records_checked"]) == (n, n), r
        assert (r["first_offset"], r["last_offset"]) == (0, n - 1), r
        assert (r["min_timestamp"], r["max_timestamp"]) == (BASE_TS, BASE_TS + n - 1), r
    assert results[0]["segments"] == 2 and results[1]["segments"] == 1
    shallow = {p["partition"]: p for p in validate(world["storage"], rc=EXIT_OK)["partition_results"]}
    assert shallow[0]["records_checked"] == 0 and shallow[0]["records"] == RECORDS[0], shallow
    assert (shallow[0]["first_offset"], shallow[0]["last_offset"]) == (0, RECORDS[0] - 1), shallow


def test_text_output_lists_only_partitions_with_problems_unless_verbose(world, tmp_path):
    storage = store_copy(world, tmp_path)
    r = run_cli(["validate", "--path", storage, "--backup-id", "base", "--deep"])
    assert r.rc == EXIT_OK and "passed: deep validation of backup base" in r.stdout, r.describe()
    assert f"{world['topic']}[" not in r.stdout, "a sound partition printed a line without --verbose"
    r = run_cli(["validate", "--path", storage, "--backup-id", "base", "--deep", "--verbose"])
    lines = [l.strip() for l in r.stdout.splitlines() if l.startswith("  ")]
    assert lines == [f"{world['topic']}[0] ok: 2 segments, 2000 of 2000 records read, offsets 0..1999, "
                     f"times 2023-11-14T22:13:20.000Z..2023-11-14T22:13:21.999Z",
                     f"{world['topic']}[1] ok: 1 segment, 300 of 300 records read, offsets 0..299, "
                     f"times 2023-11-14T22:13:20.000Z..2023-11-14T22:13:20.299Z"], r.stdout

    seg = segments(storage, 1)[0]
    pos, size, _n, first, last = seg.blocks[1]
    seg.flip(pos + size - 3)
    r = run_cli(["validate", "--path", storage, "--backup-id", "base", "--deep"])
    assert r.rc == EXIT_CORRUPT, r.describe()
    lines = [l.strip() for l in r.stdout.splitlines() if l.startswith("  ")]
    n = last - first + 1
    assert lines == [f"{world['topic']}[1] FAILED: 1 segment, {300 - n} of 300 records read, offsets 0..299, "
                     f"times 2023-11-14T22:13:20.000Z..2023-11-14T22:13:20.299Z; 1 problem, {n} records "
                     f"unreadable"], r.stdout
    assert f"1 problem found, in 1 of 2 partitions; {n} records cannot be read" in r.stdout, r.stdout
    problems = [l for l in r.stderr.splitlines() if "problem: " in l]
    assert len(problems) == 1 and seg.key in problems[0] and f"block at byte {pos}" in problems[0], problems


# ------------------------------------------------------------ flipped bits

# Where a bit is flipped in partition 0's first segment, and what it costs:
# "block" (that block's records), "segment" (all of them) or "none".
FLIPS = {
    "header": (lambda s: 18, "segment"),                                    # in the topic name: header CRC
    "block-header": (lambda s: s.blocks[3][0] + 14, "block"),               # the block's first offset
    "block-payload": (lambda s: s.blocks[3][0] + s.blocks[3][1] // 2, "block"),
    "index": (lambda s: s.index_pos + 48 * 2 + 17, "none"),                 # an entry's first offset
    "trailer-magic": (lambda s: s.size - 5, "none"),
    "trailer-record-count": (lambda s: s.size - 16, "none"),
}


@pytest.mark.parametrize("where", list(FLIPS))
def test_flipped_bit(world, tmp_path, where):
    """validate --deep names the object and what it costs, and checks every
    other segment; restore refuses (exit 4); restore --skip-corrupt leaves out
    exactly what validate said cannot be read."""
    storage = store_copy(world, tmp_path)
    seg = segments(storage, 0)[0]
    position_of, cost = FLIPS[where]
    seg.flip(position_of(seg))

    doc = validate(storage, "--deep")
    assert [i["object"] for i in doc["issues"]] == [seg.key], doc["issues"]
    issue = doc["issues"][0]
    assert issue["topic"] == world["topic"] and issue["partition"] == 0
    results = {p["partition"]: p for p in doc["partition_results"]}
    assert not results[0]["ok"] and results[1]["ok"], results
    lost = unreadable_issues(doc)
    if cost == "none":
        assert not lost, lost
        expected = "its trailer says" if where == "trailer-record-count" else "every block was read from the start"
        assert expected in issue["message"], issue
        assert results[0]["records_checked"] == RECORDS[0] and results[0]["records_unreadable"] == 0, results[0]
    elif cost == "block":
        pos, _size, _n, first, last = seg.blocks[3]
        assert issue["unreadable"] == {"position": pos, "first_offset": first, "last_offset": last,
                                       "records": last - first + 1}, issue
        assert f"block at byte {pos} (offsets {first}..{last})" in issue["message"], issue
        assert results[0]["records_checked"] == RECORDS[0] - (last - first + 1), results[0]
    else:
        assert issue["unreadable"] == {"position": 0, "first_offset": seg.first_offset,
                                       "last_offset": seg.last_offset, "records": seg.records}, issue
        assert "header checksum mismatch" in issue["message"], issue
        assert results[0]["records_checked"] == RECORDS[0] - seg.records, results[0]
    # the partition's other segment and partition 1 were read whole
    assert results[1]["records_checked"] == RECORDS[1]

    r, _ = restore(world, tmp_path, storage, f"fail-{where}")
    assert_error(r, EXIT_CORRUPT, seg.key)
    assert_restored_skipping(world, tmp_path, storage, f"skip-{where}", lost)


def test_several_corrupt_blocks_are_each_reported_and_skipped(world, tmp_path):
    """Validation and restore go on past a corrupt block: three of them, in
    two segments of two partitions, are three issues and three skipped ranges."""
    storage = store_copy(world, tmp_path)
    first = segments(storage, 0)[0]
    other = segments(storage, 1)[0]
    damaged = [(first, 0), (first, 7), (other, len(other.blocks) - 1)]
    for seg, b in damaged:
        pos, size = seg.blocks[b][:2]
        seg.flip(pos + size - 1)
    doc = validate(storage, "--deep")
    lost = unreadable_issues(doc)
    assert [(i["object"], i["unreadable"]["first_offset"], i["unreadable"]["last_offset"]) for i in lost] == \
        [(seg.key, seg.blocks[b].first, seg.blocks[b].last) for seg, b in damaged], lost
    assert len(doc["issues"]) == 3
    results = {p["partition"]: p for p in doc["partition_results"]}
    assert results[0]["issues"] == 2 and results[1]["issues"] == 1, results
    assert_restored_skipping(world, tmp_path, storage, "skip-several", lost)


# --------------------------------------------------------- truncated, gone

def test_truncated_segment(world, tmp_path):
    """Cut in the middle of a block: shallow validate sees the size; deep
    validate reads the blocks before the cut (block by block, without the
    lost index) and reports the rest of the segment from the cut block on;
    restore --skip-corrupt restores the blocks before it."""
    storage = store_copy(world, tmp_path)
    seg = segments(storage, 0)[0]
    pos, size, _n, cut_first, _last = seg.blocks[len(seg.blocks) // 2]
    seg.truncate(pos + size // 2)

    shallow = validate(storage)
    assert [(i["object"], "unreadable" in i) for i in shallow["issues"]] == [(seg.key, False)], shallow["issues"]
    assert f"is {pos + size // 2} bytes, the manifest says {seg.size}" in shallow["issues"][0]["message"]

    doc = validate(storage, "--deep")
    assert [i["object"] for i in doc["issues"]] == [seg.key], doc["issues"]
    issue = doc["issues"][0]
    assert issue["unreadable"] == {"position": pos, "first_offset": cut_first, "last_offset": seg.last_offset,
                                   "records": seg.last_offset - cut_first + 1}, issue
    assert f"from byte {pos} on" in issue["message"] and f"offsets {cut_first}..{seg.last_offset}" \
        in issue["message"], issue

    r, _ = restore(world, tmp_path, storage, "fail-truncated")
    assert_error(r, EXIT_CORRUPT, seg.key)
    assert_restored_skipping(world, tmp_path, storage, "skip-truncated", [issue])


def test_segment_cut_inside_its_index_loses_no_record(world, tmp_path):
    storage = store_copy(world, tmp_path)
    seg = segments(storage, 1)[0]
    seg.truncate(seg.index_pos + 10)
    doc = validate(storage, "--deep")
    assert [i["object"] for i in doc["issues"]] == [seg.key] and not unreadable_issues(doc), doc["issues"]
    assert "every block was read from the start" in doc["issues"][0]["message"]
    assert_restored_skipping(world, tmp_path, storage, "skip-cut-index", [])


def test_deleted_segment(world, tmp_path):
    """A segment the manifest names is gone: an issue (not a storage error) in
    both validations, naming it and its offsets; restore --skip-corrupt
    restores the partition's other segment and the other partition."""
    storage = store_copy(world, tmp_path)
    seg = segments(storage, 0)[1]
    seg.path.unlink()
    whole = {"position": 0, "first_offset": seg.first_offset, "last_offset": seg.last_offset, "records": seg.records}
    for extra in ([], ["--deep"]):
        doc = validate(storage, *extra)
        assert [(i["object"], i.get("unreadable")) for i in doc["issues"]] == [(seg.key, whole)], doc["issues"]
        assert "missing" in doc["issues"][0]["message"]
        results = {p["partition"]: p for p in doc["partition_results"]}
        assert results[0]["records_unreadable"] == seg.records and results[1]["ok"], results
    r, _ = restore(world, tmp_path, storage, "fail-deleted")
    assert_error(r, EXIT_CORRUPT, seg.key, "missing")
    assert_restored_skipping(world, tmp_path, storage, "skip-deleted", unreadable_issues(doc))


# ----------------------------------------------------- config and groups

def test_on_corruption_skip_in_the_config_and_text_report(world, tmp_path):
    """restore.on_corruption: skip does what --skip-corrupt does; the text
    report lists the skipped range."""
    storage = store_copy(world, tmp_path)
    seg = segments(storage, 1)[0]
    pos, size, _n, first, last = seg.blocks[0]
    seg.flip(pos + size - 1)
    target = f"{world['topic']}-config-skip"
    cfg = restore_config(storage, backup_id="base", topic_mapping={world["topic"]: target}, restore_id="config-skip",
                         on_corruption="skip")
    r = run_cli(["restore", "--config", write_config(tmp_path, cfg)])
    assert r.rc == EXIT_CORRUPT and not r.error_lines, r.describe()
    assert f"SKIPPED {last - first + 1} records that cannot be read, in 1 range" in r.stdout, r.stdout
    assert f"{world['topic']}[1] offsets {first}..{last} ({last - first + 1} records) in {seg.key} at byte {pos}" \
        in r.stdout, r.stdout
    assert restored_values(target) == expected_values([(1, first, last)])

    bad = copy.deepcopy(cfg)
    bad["restore"]["on_corruption"] = "ignore"
    r = run_cli(["restore", "--config", write_config(tmp_path, bad, "bad.yaml")])
    assert_error(r, 2, "on_corruption", "expected fail or skip")


@pytest.mark.parametrize("strategy", ["exact", "timestamp-based"])
def test_group_inside_a_skipped_block_resumes_after_it(world, tmp_path, strategy):
    """The group committed 1500; the block holding 1500 is corrupt and skipped:
    the group's target position is the first restored record after the block."""
    storage = store_copy(world, tmp_path)
    seg = segments(storage, 0)[1]
    pos, size, _n, first, last = seg.block_at(GROUP_OFFSET)
    assert first < GROUP_OFFSET < last, (first, last)
    seg.flip(pos + size - 1)
    name = f"group-{strategy}"
    r, target = restore(world, tmp_path, storage, name, "--skip-corrupt", consumer_group_strategy=strategy,
                        consumer_groups=[world["group"]])
    assert r.rc == EXIT_CORRUPT, r.describe()
    doc = assert_valid("restore", r.json())
    assert [(s["first_offset"], s["last_offset"]) for s in doc["skipped"]] == [(first, last)], doc["skipped"]
    after = next(t for t in dump(target, TARGET)
                 if t["partition"] == 0 and unb64(t["value"]).decode() == value(0, last + 1))
    assert [(g["group_id"], g["partition"], g["offset"]) for g in doc["consumer_group_offsets"]] == \
        [(world["group"], 0, after["offset"])], doc["consumer_group_offsets"]


def test_rerun_with_skip_resumes_a_restore_stopped_by_corruption(world, tmp_path):
    """A restore stops at a corrupt block after committing transactions; the
    same restore rerun with --skip-corrupt resumes after them: every readable
    record lands exactly once."""
    storage = store_copy(world, tmp_path)
    seg = segments(storage, 0)[1]
    pos, size, _n, first, last = seg.block_at(GROUP_OFFSET)
    seg.flip(pos + size - 1)
    r, target = restore(world, tmp_path, storage, "resume", transaction_max_records=100)
    assert_error(r, EXIT_CORRUPT, seg.key, f"offsets {first}..{last}")
    partial = dump(target, TARGET)
    # Partitions are restored side by side: partition 0 stops before the block.
    assert partial and len([t for t in partial if t["partition"] == 0]) <= first, \
        "the stopped restore committed nothing, or more than it could"

    r, _ = restore(world, tmp_path, storage, "resume", "--skip-corrupt", transaction_max_records=100)
    assert r.rc == EXIT_CORRUPT, r.describe()
    doc = assert_valid("restore", r.json())
    assert [(s["first_offset"], s["last_offset"]) for s in doc["skipped"]] == [(first, last)], doc["skipped"]
    records = dump(target, TARGET)
    values = [(t["partition"], unb64(t["value"]).decode()) for t in records]
    assert len(values) == len(set(values)), "a record was restored twice"
    assert set(values) == expected_values([(0, first, last)])


def test_validate_restore_says_what_would_be_skipped(world, tmp_path):
    """The preflight with on_corruption: skip passes and says how much it would
    skip; with the default (fail) its plan fails on the damage: exit 4, as the
    restore would."""
    storage = store_copy(world, tmp_path)
    seg = segments(storage, 1)[0]
    pos, size, _n, first, last = seg.blocks[2]
    seg.flip(pos + size - 1)
    cfg = restore_config(storage, backup_id="base", topic_mapping={world["topic"]: f"{world['topic']}-preflight"},
                         restore_id="preflight", on_corruption="skip")
    r = run_cli(["validate-restore", "--config", write_config(tmp_path, cfg), "--format", "json"])
    assert r.rc == EXIT_OK, r.describe()
    doc = assert_valid("validate-restore", r.json())
    data = [c for c in doc["checks"] if c["name"] == "data"]
    assert len(data) == 1 and data[0]["ok"] and f"{last - first + 1} records in 1 range " in data[0]["detail"], doc

    cfg["restore"]["on_corruption"] = "fail"
    r = run_cli(["validate-restore", "--config", write_config(tmp_path, cfg, "fail.yaml"), "--format", "json"])
    assert r.rc == EXIT_CORRUPT, r.describe()
    doc = assert_valid("validate-restore", r.json())
    failed = [c for c in doc["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["restore plan"] and seg.key in failed[0]["detail"], doc


# ---------------------------------------------------------------- manifests

def test_one_damaged_manifest_leaves_the_catalog_readable(world, tmp_path):
    """Backup "later" (the newest) has its manifest cut in half: `list` still
    shows "base" and lists "later" as damaged with the reason; `latest`
    (describe, validate, restore) resolves to "base" with a warning naming
    "later"; `validate --backup-id later` reports the manifest (exit 4)."""
    storage = store_copy(world, tmp_path)
    run_backup(tmp_path, backup_config(storage, [world["topic"]], backup_id="later"))
    manifest = storage / "manifests" / "later.json"
    manifest.write_bytes(manifest.read_bytes()[: manifest.stat().st_size // 2])

    r = run_cli(["list", "--path", storage, "--format", "json"])
    assert r.rc == EXIT_OK, r.describe()
    doc = assert_valid("list", r.json())
    states = {b["backup_id"]: b["state"] for b in doc["backups"]}
    assert states == {"base": "committed", "later": "damaged"}, doc
    damaged = next(b for b in doc["backups"] if b["backup_id"] == "later")
    assert "manifests/later.json" in damaged["error"], damaged
    assert "later" in r.stderr and "damaged" in r.stderr, r.describe()

    text = run_cli(["list", "--path", storage])
    assert text.rc == EXIT_OK, text.describe()
    rows = {line.split()[0]: line.split()[1] for line in text.stdout.splitlines()[1:]}
    assert rows == {"base": "committed", "later": "damaged"}, text.stdout

    desc = run_cli(["describe", "--path", storage, "--backup-id", "latest", "--format", "json"])
    assert desc.rc == EXIT_OK, desc.describe()
    assert desc.json()["backup_id"] == "base"
    assert "'later' is damaged" in desc.stderr, desc.describe()

    shallow = run_cli(["validate", "--path", storage, "--backup-id", "latest", "--format", "json"])
    assert shallow.rc == EXIT_OK and shallow.json()["backup_id"] == "base", shallow.describe()

    bad = run_cli(["validate", "--path", storage, "--backup-id", "later", "--format", "json"])
    assert bad.rc == EXIT_CORRUPT, bad.describe()
    issues = assert_valid("validate", bad.json())["issues"]
    assert [i["object"] for i in issues] == ["manifest"] and "manifests/later.json" in issues[0]["message"], issues

    target = f"{world['topic']}-after-damage"
    cfg = restore_config(storage, backup_id="latest", topic_mapping={world["topic"]: target})
    r = run_cli(["restore", "--config", write_config(tmp_path, cfg, "latest.yaml"), "--format", "json"])
    assert r.rc == EXIT_OK, r.describe()
    assert r.json()["backup_id"] == "base"
    assert restored_values(target) == expected_values([])
