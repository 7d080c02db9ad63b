"""The run lease (docs/format/manifest.md, "The run lease"): of two backups of
one id started at the same instant, exactly one proceeds and the other exits 7
before it writes or cleans anything, on the filesystem and on S3, many times;
the survivor validates deep and restores exactly. A run whose lease another
run took over stops writing (exit 7) and commits nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (BINARY, S3_ENDPOINT, TARGET, assert_same_records, backup_config, cli_ok, create_topic, dump,
                      produce, rec, restore_config, run_cli, s3_env, unique, write_config)
from helpers.storage import BUCKET, ensure_bucket, s3_storage

ROUNDS = int(os.environ.get("KB_LEASE_ROUNDS", "8"))
PARTITIONS = 3
N = 6000
LOSER = "is being written by another run"


def start(cfg: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([str(BINARY), "--no-progress", "backup", "--config", str(cfg), "--format", "json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def topic():
    t = unique("lease")
    create_topic(t, PARTITIONS)
    produce(t, [rec(i % PARTITIONS, f"k{i}", f"v{i}-".encode() + os.urandom(300), headers=[("i", str(i))],
                    timestamp=1_700_000_000_000 + i) for i in range(N)])
    return t


def race(tmp_path: Path, topic: str, storage: dict, url: str, env: dict) -> list[str]:
    """ROUNDS times: two backups of one id at the same instant. Returns the ids
    that were committed (one per round)."""
    committed = []
    for i in range(ROUNDS):
        backup_id = f"race-{i}"
        cfg = backup_config("unused", [topic], backup_id=backup_id, segment_max_records=200)
        cfg["storage"] = storage
        path = write_config(tmp_path, cfg, f"race-{i}.yaml")
        procs = [start(path, env), start(path, env)]
        outputs = [p.communicate(timeout=300) for p in procs]
        results = [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs)]
        rcs = sorted(r[0] for r in results)
        assert rcs == [0, 7], f"round {i}: exactly one of two runs must proceed and the other exit 7: " + \
            "\n".join(f"rc={rc}\n{err[-2000:]}" for rc, _, err in results)
        winner = next(r for r in results if r[0] == 0)
        loser = next(r for r in results if r[0] == 7)
        assert LOSER in loser[2], f"round {i}: the loser must name the lease's holder:\n{loser[2][-2000:]}"
        assert "host " in loser[2] and "pid " in loser[2], loser[2][-2000:]
        summary = json.loads(winner[1])
        assert summary["records"] == N, summary
        v = cli_ok(["validate", "--path", url, "--backup-id", backup_id, "--deep", "--format", "json"], env=env)
        assert v.json()["ok"] is True, v.stdout
        committed.append(backup_id)
    listed = cli_ok(["list", "--path", url, "--format", "json"], env=env).json()["backups"]
    assert sorted(b["backup_id"] for b in listed if b["backup_id"].startswith("race-")) == sorted(committed), listed
    return committed


def assert_restores_exactly(tmp_path: Path, topic: str, storage: dict, backup_id: str, env: dict) -> None:
    target = unique("lease-restored")
    rcfg = restore_config("unused", backup_id=backup_id, topic_mapping={topic: target})
    rcfg["storage"] = storage
    r = cli_ok(["restore", "--config", write_config(tmp_path, rcfg, "restore.yaml"), "--format", "json"], env=env)
    assert r.json()["records"] == N, r.stdout
    assert_same_records(dump(topic), dump(target, bootstrap=TARGET))


def test_two_runs_at_once_on_the_filesystem(tmp_path, topic):
    storage = tmp_path / "store"
    fs = {"backend": "filesystem", "path": str(storage)}
    committed = race(tmp_path, topic, fs, str(storage), dict(os.environ))
    # Every run released its lease: nothing is left to expire.
    left = sorted(str(p.relative_to(storage)) for p in storage.rglob("leases/**/*") if p.is_file())
    assert left == [], f"a run that ended must release its lease: {left}"
    assert_restores_exactly(tmp_path, topic, fs, committed[-1], dict(os.environ))


def test_two_runs_at_once_on_s3(tmp_path, topic, s3_server):
    ensure_bucket()
    prefix = f"lease/{unique('p')}"
    committed = race(tmp_path, topic, s3_storage(prefix), f"s3://{BUCKET}/{prefix}?endpoint={S3_ENDPOINT}",
                     s3_env())
    assert_restores_exactly(tmp_path, topic, s3_storage(prefix), committed[0], s3_env())


def test_a_run_whose_lease_is_taken_over_stops_and_commits_nothing(tmp_path, topic):
    """Another host's run takes the lease over (as after this run's ttl ran
    out): at its next renewal this run stops with exit 7, writes no manifest,
    and the other run's lease is left alone."""
    storage = tmp_path / "store"
    cfg = write_config(tmp_path, backup_config(storage, [topic], backup_id="fenced", continuous=True,
                                               checkpoint_interval_secs=1, segment_max_records=200))
    proc = start(cfg, dict(os.environ))
    leases = storage / "leases" / "fenced"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(leases.glob("*.json")):
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.1)
    mine = sorted(leases.glob("*.json"))
    assert len(mine) == 1, mine
    held = json.loads(mine[0].read_text())
    assert held["format"] == "kafka-backup-lease" and held["pid"] == proc.pid, held
    assert held["host"] == socket.gethostname() and held["ttl_secs"] == 2 * 1 + 60, held
    other = dict(held, generation=held["generation"] + 1, run_id="0" * 32, host="another-host", pid=4242,
                 renewed_at_ms=int(time.time() * 1000))
    taken = leases / f"{held['generation'] + 1:010d}.json"
    taken.write_text(json.dumps(other))
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 7, f"a fenced run must stop with exit 7: rc={proc.returncode}\n{err[-3000:]}"
    assert "another run took over this run's lease" in err and "another-host" in err, err[-3000:]
    assert not (storage / "manifests" / "fenced.json").exists()
    assert json.loads(taken.read_text())["run_id"] == "0" * 32, "the other run's lease must be left alone"
    # And a new run here refuses while that lease is live.
    r = run_cli(["--no-progress", "backup", "--config", str(cfg)], timeout=60)
    assert r.rc == 7 and LOSER in r.stderr and "another-host" in r.stderr, r.stderr[-2000:]
