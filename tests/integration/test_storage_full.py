"""A filesystem that fills up mid-backup: the run exits 8 naming the path and
the space, leaves nothing that points at a partial segment, and the next run,
once there is room, resumes and commits a backup that restores exactly.

The storage is a small tmpfs mounted for the test (the suite runs as root);
a refused mount fails the test rather than skipping it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import (EXIT_IO, TARGET, assert_error, assert_same_records, backup_config, cli_ok,
                      create_topic, dump, manifest_path, produce, rec, restore_config, run_cli,
                      run_restore, unique, write_config)


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "small-fs"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.fail(f"cannot mount a 3 MiB tmpfs at {mnt} (the test needs root): {p.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def stored_segment_claims(storage: Path, backup_id: str) -> list[tuple[str, int]]:
    """Every (key, size) a checkpoint of backup_id says is stored."""
    claims: list[tuple[str, int]] = []

    def walk(v):
        if isinstance(v, dict):
            if isinstance(v.get("key"), str) and v["key"].endswith(".kbseg") and "size" in v:
                claims.append((v["key"], int(v["size"])))
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for f in sorted((storage / "checkpoints" / backup_id).glob("*.json")):
        walk(json.loads(f.read_text()))
    return claims


def test_a_full_filesystem_is_exit_8_and_the_next_run_resumes(tmp_path, small_fs):
    topic = unique("full")
    create_topic(topic, 4)
    # ~8 MiB of random (incompressible) values: more than the 3 MiB there is.
    records = [rec(i % 4, f"k{i}", os.urandom(2000), timestamp=1_700_000_000_000 + i) for i in range(4000)]
    produce(topic, records)
    storage = small_fs / "store"
    cfg = backup_config(storage, [topic], backup_id="full", segment_max_bytes=262144)
    path = write_config(tmp_path, cfg)

    r = run_cli(["backup", "--config", path])
    msg = assert_error(r, EXIT_IO, str(storage), "No space left on device", "free of", "did not fit",
                       "resumes from its last checkpoint")
    assert "MiB" in msg, msg
    assert not manifest_path(storage, "full").exists(), "a manifest was committed on a full filesystem"
    assert not list(storage.rglob("*.kbtmp")), list(storage.rglob("*.kbtmp"))
    for key, size in stored_segment_claims(storage, "full"):
        f = storage / key
        assert f.is_file() and f.stat().st_size == size, f"a checkpoint claims {key} ({size} bytes)"
    listed = cli_ok(["list", "--path", storage, "--format", "json"]).json()["backups"]
    assert [b.get("state") for b in listed if b["backup_id"] == "full"] != ["committed"], listed

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_fs)], check=True)
    summary = cli_ok(["backup", "--config", path, "--format", "json"]).json()
    assert summary["state"] == "committed" and summary["records"] == 4000, summary
    cli_ok(["validate", "--path", storage, "--backup-id", "full", "--deep"])

    run_restore(tmp_path, restore_config(storage, backup_id="full"))
    assert_same_records(dump(topic), dump(topic, TARGET))
