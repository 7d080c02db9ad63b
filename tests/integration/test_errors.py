"""Failures: each exits with its documented code and one clear 'error:' line
naming what is wrong, and leaves nothing behind that looks like a backup."""

from __future__ import annotations

import json
import time

import pytest

from conftest import (EXIT_BAD_INPUT, EXIT_CONFLICT, EXIT_CORRUPT, EXIT_IO, EXIT_NOT_FOUND,
                      EXIT_UNAVAILABLE, TARGET, assert_error, assert_same_records, backup_config,
                      cli_ok, create_topic, dump, manifest_path, parallel, produce, rec,
                      restore_config, run_backup, run_cli, run_restore, segment_files, unique,
                      write_config)
from helpers.segments import segment_index


def assert_no_backup(storage, backup_id: str) -> None:
    """No manifest for backup_id, and `list` (if the location exists) shows none."""
    assert not manifest_path(storage, backup_id).exists(), f"a manifest was written for {backup_id}"
    if storage.is_dir():
        r = cli_ok(["list", "--path", storage, "--format", "json"])
        ids = [b["backup_id"] for b in r.json()["backups"]]
        assert backup_id not in ids, ids


@pytest.fixture(scope="module")
def small_backup(tmp_path_factory):
    """A topic with a few records and two backups of it, "base-1" and "base-2"."""
    tmp = tmp_path_factory.mktemp("errors")
    topic = unique("errors")
    create_topic(topic, 2)
    produce(topic, [rec(p, f"k{i}", f"v{p}-{i}", timestamp=1_700_000_000_000 + i)
                    for p in range(2) for i in range(5)])
    storage = tmp / "store"
    for bid in ("base-1", "base-2"):
        run_backup(tmp, backup_config(storage, [topic], backup_id=bid), name=f"{bid}.yaml")
    return {"topic": topic, "storage": storage, "ids": ["base-1", "base-2"]}


# ------------------------------------------------------------ connectivity

def test_unreachable_broker_is_unavailable(tmp_path):
    storage = tmp_path / "store"
    cfg = backup_config(storage, ["some-topic"], backup_id="unreachable", bootstrap="127.0.0.1:1")
    cfg["source"]["connect_timeout_secs"] = 5
    path = write_config(tmp_path, cfg)
    t0 = time.monotonic()
    r = run_cli(["backup", "--config", path], timeout=60)
    elapsed = time.monotonic() - t0
    assert_error(r, EXIT_UNAVAILABLE, "127.0.0.1:1")
    assert elapsed < 30, f"took {elapsed:.1f}s to give up on an unreachable broker"
    assert_no_backup(storage, "unreachable")


def test_restore_to_unreachable_broker_is_unavailable(tmp_path, small_backup):
    cfg = restore_config(small_backup["storage"], backup_id="base-1", bootstrap="127.0.0.1:1")
    cfg["target"]["connect_timeout_secs"] = 5
    t0 = time.monotonic()
    r = run_cli(["restore", "--config", write_config(tmp_path, cfg)], timeout=60)
    assert_error(r, EXIT_UNAVAILABLE, "127.0.0.1:1")
    assert time.monotonic() - t0 < 30


# --------------------------------------------------------------- not found

def test_include_of_missing_topic_is_not_found(tmp_path):
    storage = tmp_path / "store"
    missing = unique("does-not-exist")
    r = run_cli(["backup", "--config", write_config(tmp_path, backup_config(storage, [missing], backup_id="nf"))])
    assert_error(r, EXIT_NOT_FOUND, missing)
    assert_no_backup(storage, "nf")
    assert not segment_files(storage), segment_files(storage)


def test_missing_literal_among_existing_topics_is_not_found(tmp_path, small_backup):
    storage = tmp_path / "store"
    missing = unique("does-not-exist")
    cfg = backup_config(storage, [small_backup["topic"], missing], backup_id="nf2")
    r = run_cli(["backup", "--config", write_config(tmp_path, cfg)])
    assert_error(r, EXIT_NOT_FOUND, missing)
    assert_no_backup(storage, "nf2")
    assert not segment_files(storage), segment_files(storage)


@pytest.mark.parametrize("command", ["describe", "validate", "restore"])
def test_unknown_backup_id_lists_available_ids(tmp_path, small_backup, command):
    storage = small_backup["storage"]
    if command == "restore":
        args = ["restore", "--config", write_config(tmp_path, restore_config(storage)), "--backup-id", "nope"]
    else:
        args = [command, "--path", storage, "--backup-id", "nope"]
    r = run_cli(args)
    assert_error(r, EXIT_NOT_FOUND, "nope", *small_backup["ids"])


@pytest.mark.parametrize("command", ["describe", "validate", "restore"])
def test_latest_on_empty_store_is_not_found(tmp_path, command):
    storage = tmp_path / "empty"
    storage.mkdir()
    if command == "restore":
        args = ["restore", "--config", write_config(tmp_path, restore_config(storage)), "--backup-id", "latest"]
    else:
        args = [command, "--path", storage, "--backup-id", "latest"]
    r = run_cli(args)
    assert_error(r, EXIT_NOT_FOUND)
    assert "latest" in r.error_lines[0] or "no backups" in r.error_lines[0], r.error_lines


# ------------------------------------------------------------------ storage

def test_unwritable_storage_path(tmp_path, small_backup):
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("not a directory\n")
    storage = blocker / "store"
    cfg = backup_config(storage, [small_backup["topic"]], backup_id="unwritable")
    r = run_cli(["backup", "--config", write_config(tmp_path, cfg)])
    assert_error(r, EXIT_IO, str(blocker))
    assert blocker.read_text() == "not a directory\n"
    assert not list(tmp_path.rglob("unwritable.json"))


def test_second_backup_with_same_id_is_a_conflict(tmp_path, small_backup):
    storage = small_backup["storage"]
    before = manifest_path(storage, "base-1").read_bytes()
    segments_before = {p: p.read_bytes() for p in segment_files(storage, "base-1")}
    cfg = backup_config(storage, [small_backup["topic"]], backup_id="base-1")
    r = run_cli(["backup", "--config", write_config(tmp_path, cfg)])
    assert_error(r, EXIT_CONFLICT, "base-1")
    assert manifest_path(storage, "base-1").read_bytes() == before, "the existing manifest was changed"
    assert {p: p.read_bytes() for p in segment_files(storage, "base-1")} == segments_before
    cli_ok(["validate", "--path", storage, "--backup-id", "base-1", "--deep"])


# ------------------------------------------------------------------- config

def config_text(storage) -> list[str]:
    return [
        "mode: backup",                          # 1
        "backup_id: cfg",                        # 2
        "source:",                               # 3
        "  bootstrap_servers:",                  # 4
        "    - 127.0.0.1:1",                     # 5
        "  topics:",                             # 6
        "    include: [some-topic]",             # 7
        "storage:",                              # 8
        "  backend: filesystem",                 # 9
        f"  path: {json.dumps(str(storage))}",   # 10
        "backup:",                               # 11
        "  compression: zstd",                   # 12
    ]


@pytest.mark.parametrize("line_no,line,key", [
    (7, "    inclde: [some-topic]", "inclde"),
    (12, "  compresion: zstd", "compresion"),
    (2, "backupid: cfg", "backupid"),
])
def test_unknown_config_key(tmp_path, line_no, line, key):
    storage = tmp_path / "store"
    lines = config_text(storage)
    lines[line_no - 1] = line
    path = write_config(tmp_path, "\n".join(lines) + "\n", "typo.yaml")
    r = run_cli(["backup", "--config", path])
    assert_error(r, EXIT_BAD_INPUT, f"typo.yaml:{line_no}", key)
    assert not storage.exists()


@pytest.mark.parametrize("line_no,line,key", [
    (5, "    - 127.0.0.1:1\n  connect_timeout_secs: soon", "connect_timeout_secs"),
    (12, "  compression_level: high", "compression_level"),
    (12, "  include_offset_headers: maybe", "include_offset_headers"),
    (4, "  bootstrap_servers: {a: b}", "bootstrap_servers"),
])
def test_wrong_config_type(tmp_path, line_no, line, key):
    storage = tmp_path / "store"
    lines = config_text(storage)
    if line_no == 5:      # an added line after line 5
        lines[4] = line
        line_no = 6
    elif line_no == 4:    # replace the list (lines 4-5) with a map
        lines[3:5] = [line]
    else:
        lines[line_no - 1] = line
    path = write_config(tmp_path, "\n".join(lines) + "\n", "types.yaml")
    r = run_cli(["backup", "--config", path])
    assert_error(r, EXIT_BAD_INPUT, f"types.yaml:{line_no}", key, "expected")
    assert not storage.exists()


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_unset_environment_variable(tmp_path, command):
    var = "KB_IT_UNSET_" + unique("var").replace("-", "_").upper()
    storage = tmp_path / "store"
    if command == "backup":
        cfg = backup_config(storage, ["some-topic"], backup_id="id-${" + var + "}", bootstrap="127.0.0.1:1")
    else:
        cfg = restore_config(storage, backup_id="id-${" + var + "}", bootstrap="127.0.0.1:1")
    path = write_config(tmp_path, cfg)
    t0 = time.monotonic()
    r = run_cli([command, "--config", path], unset=[var])
    assert_error(r, EXIT_BAD_INPUT, var)
    assert time.monotonic() - t0 < 5, "failed only after trying to connect"
    assert not storage.exists()


# ---------------------------------------------------------------- corruption


def test_corrupted_segment_is_detected(tmp_path):
    topic = unique("corrupt")
    create_topic(topic, 1)
    produce(topic, [rec(0, f"key-{i}", f"value {i} " + "abcdefgh" * (i % 50), timestamp=1_700_000_000_000 + i)
                    for i in range(3000)])
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="corrupt", block_size_bytes=4096,
                                       compression="none"))
    cli_ok(["validate", "--path", storage, "--backup-id", "corrupt", "--deep"])

    segs = segment_files(storage, "corrupt")
    seg = max(segs, key=lambda p: p.stat().st_size)
    key = seg.relative_to(storage).as_posix()
    data = bytearray(seg.read_bytes())
    _, _, blocks = segment_index(bytes(data))
    assert len(blocks) > 3, f"expected a segment with many blocks, got {len(blocks)}"
    flip = len(data) // 2
    pos, size, _n, first, _last = next(b for b in blocks if b.pos <= flip < b.pos + b.size)
    flip = max(flip, pos + 48 + 1)          # inside the payload, past the block header
    assert flip < pos + size
    data[flip] ^= 0x5A
    seg.write_bytes(bytes(data))

    r = run_cli(["validate", "--path", storage, "--backup-id", "corrupt", "--deep", "--format", "json"])
    assert r.rc == EXIT_CORRUPT, r.describe()
    report = r.json()
    assert report["ok"] is False
    issues = [i for i in report["issues"] if i.get("object") == key]
    assert issues, f"no issue names {key}: {report}"
    msg = " ".join(i["message"] for i in issues)
    assert str(pos) in msg and str(first) in msg, \
        f"issue should name block position {pos} and first offset {first}: {issues}"
    assert issues[0]["topic"] == topic and issues[0]["partition"] == 0, issues

    r = run_cli(["validate", "--path", storage, "--backup-id", "corrupt", "--deep"])
    assert r.rc == EXIT_CORRUPT, r.describe()
    assert key in r.stdout + r.stderr, r.describe()

    r = run_cli(["restore", "--config", write_config(tmp_path, restore_config(storage, backup_id="corrupt"))])
    assert_error(r, EXIT_CORRUPT, key)


# ------------------------------------------------------ restore conflicts

def test_restore_into_topic_with_data(tmp_path):
    topic = unique("conflict")
    parallel(lambda: create_topic(topic, 2), lambda: create_topic(topic, 2, TARGET))
    parallel(
        lambda: produce(topic, [rec(p, f"src-{p}-{i}", f"source {p} {i}", timestamp=1_700_000_000_000 + i)
                                for p in range(2) for i in range(3)]),
        lambda: produce(topic, [rec(1, "already", "there", timestamp=1_600_000_000_000)], TARGET),
    )
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="conflict"))

    r = run_cli(["restore", "--config", write_config(tmp_path, restore_config(storage, backup_id="conflict"))])
    assert_error(r, EXIT_CONFLICT, topic)
    assert len(dump(topic, TARGET)) == 1, "a refused restore wrote records"

    run_restore(tmp_path, restore_config(storage, backup_id="conflict", on_existing_data="append"),
                name="append.yaml")
    src, dst = parallel(lambda: dump(topic), lambda: dump(topic, TARGET))
    existing = [r for r in dst if r["partition"] == 1][:1]
    assert existing and existing[0]["value"] == "dGhlcmU=", dst[:3]   # "there", still first
    assert_same_records(src, [r for r in dst if r is not existing[0]], what=topic)


def test_restore_into_topic_holding_only_aborted_records_is_not_a_conflict(tmp_path):
    """A restore killed before its first commit leaves only aborted records
    in the target; they are no data, and the rerun (or any restore) proceeds."""
    topic = unique("aborted-target")
    parallel(lambda: create_topic(topic, 2), lambda: create_topic(topic, 2, TARGET))
    produce(topic, [rec(p, f"src-{p}-{i}", f"source {p} {i}", timestamp=1_700_000_000_000 + i)
                    for p in range(2) for i in range(3)])
    produce(topic, [{"txn": "begin"}] + [rec(p, "aborted", "never visible") for p in range(2)] + [{"txn": "abort"}],
            TARGET, transactional_id=f"{topic}-killed")
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="aborted"))
    run_restore(tmp_path, restore_config(storage, backup_id="aborted"))
    src, dst = parallel(lambda: dump(topic), lambda: dump(topic, TARGET))
    assert_same_records(src, dst, what=topic)


def test_restore_into_existing_empty_topic_is_not_a_conflict(tmp_path):
    topic = unique("empty-target")
    parallel(lambda: create_topic(topic, 3), lambda: create_topic(topic, 3, TARGET))
    produce(topic, [rec(p, f"k{p}", f"v{p}", timestamp=1_700_000_000_000 + p) for p in range(3)])
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="empty-target"))
    result = run_restore(tmp_path, restore_config(storage, backup_id="empty-target"))
    assert result["records"] == 3, result
    assert [t.get("created") for t in result["topics"]] == [False], result
    src, dst = parallel(lambda: dump(topic), lambda: dump(topic, TARGET))
    assert_same_records(src, dst, what=topic)
