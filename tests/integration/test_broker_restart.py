"""A source broker restarted in the middle of a backup (the acceptance point
"it continues, or fails clearly and the next run resumes, with nothing lost").

The source cluster (scripts/kafka-clusters.sh: one KRaft broker+controller)
is stopped (SIGTERM; its data stays) and started again while a one-shot backup
reads through slowed storage, and while a continuous backup follows its topic.
Each backup either carries on, or exits 5 (unavailable) with one error line
and a second run of the same backup id resumes it; the restore then matches
the source record for record. Every test leaves the source cluster running,
or fails saying it could not be started again."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest

from conftest import (EXIT_UNAVAILABLE, ROOT, S3_ENDPOINT, SOURCE, TARGET, assert_same_records, backup_config,
                      cli_ok, create_topic, delete_topic, dump, parallel, produce, rec, restore_config, run_cli,
                      run_restore, s3_env, unique, write_config)
from helpers.backups import describe, records, start, stop
from helpers.schemas import json_output
from helpers.storage import BUCKET, ensure_bucket, s3_storage

# It stops the shared source broker: scripts/test.sh runs it alone, after the
# files that run side by side.
pytestmark = pytest.mark.serial

CLUSTERS = ROOT / "scripts" / "kafka-clusters.sh"
BASE_TS = 1_700_000_000_000  # the records' timestamps start here
PAUSE_SECS = 3          # how long the broker stays down between its shutdown and its start


# ------------------------------------------------------------ the source broker

def clusters(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["bash", str(CLUSTERS), *args], capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"`kafka-clusters.sh {' '.join(args)}` did not finish within 180s\n"
                    f"stdout: {e.stdout!r}\nstderr: {e.stderr!r}", pytrace=False)


def source_accepts_connections() -> bool:
    host, _, port = SOURCE.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def require_restartable_source() -> None:
    """SOURCE must be the cluster kafka-clusters.sh runs as "source": these tests restart it."""
    p = clusters("env", "source")
    if p.returncode != 0 or f"export KB_SOURCE_BOOTSTRAP={SOURCE}" not in p.stdout.splitlines():
        pytest.fail(f"these tests restart the source cluster with {CLUSTERS}, which does not run {SOURCE} "
                    f"(KB_SOURCE_BOOTSTRAP):\n{p.stdout}{p.stderr}", pytrace=False)


def start_source() -> None:
    p = clusters("start", "source")
    if p.returncode != 0:
        pytest.fail(f"the source cluster could not be started again (later tests need it):\n{p.stdout}{p.stderr}",
                    pytrace=False)


def ensure_source_running() -> None:
    if clusters("status", "source").returncode != 0:
        start_source()


def stop_source() -> float:
    """Stops the source broker (SIGTERM; its data stays); returns the seconds its shutdown took."""
    t0 = time.monotonic()
    p = clusters("stop", "source")
    assert p.returncode == 0 and "source: stopped" in p.stdout, \
        f"`kafka-clusters.sh stop source` did not stop a running broker:\n{p.stdout}{p.stderr}"
    assert not source_accepts_connections(), f"{SOURCE} still accepts connections after its broker stopped"
    return time.monotonic() - t0


def restart_source() -> tuple[float, float]:
    """stop_source, PAUSE_SECS, start_source. Returns (seconds the shutdown
    took, seconds until the broker answered again)."""
    t0 = time.monotonic()
    stopping = stop_source()
    time.sleep(PAUSE_SECS)
    start_source()
    return stopping, time.monotonic() - t0


# ---------------------------------------------------------------- the backup

def checkpointed(path: str, backup_id: str, n: int, proc: subprocess.Popen, env: dict | None = None,
                 timeout: float = 90) -> dict | None:
    """describe's document once the run's checkpoints show n records; None if the run exits first."""
    deadline = time.monotonic() + timeout
    doc = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        doc = describe(path, backup_id, env)
        if doc and doc["records"] >= n:
            return doc
        time.sleep(0.25)
    raise AssertionError(f"the backup's checkpoints did not show {n} records within {timeout}s: "
                         f"{doc and doc['records']}")


def run_status(path: str, backup_id: str, env: dict | None = None) -> dict:
    """`kafka-backup status`: what the run has read so far (records, lag)."""
    return json_output(run_cli(["status", "--path", path, "--backup-id", backup_id, "--format", "json"], env=env),
                       "status")


def finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the backup did not end within {timeout}s after the broker came back (hung?)\n"
                    f"--- stderr\n{err[-4000:]}")
    return proc.returncode, out, err


def clear_failure(rc: int, err: str) -> str:
    """A run that gave up on the restarted broker: exit 5 (unavailable, retry
    later) and one 'error:' line saying why. Returns that line."""
    lines = [l for l in err.splitlines() if l.startswith("error:")]
    assert rc == EXIT_UNAVAILABLE and len(lines) == 1, \
        f"a backup that stops over a broker restart must exit 5 with one error line; got exit {rc}:\n{err[-4000:]}"
    return lines[0]


def warnings(err: str) -> list[str]:
    """The distinct warning lines a run logged (what it said while the broker was away)."""
    seen: list[str] = []
    for l in err.splitlines():
        if "warn" in l.lower() and l not in seen:
            seen.append(l)
    return seen[:6]


def kill(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.communicate()


# ------------------------------------------------------------------- tests

def test_one_shot_backup_through_a_source_broker_restart_loses_nothing(tmp_path, s3_server):
    """The broker goes away while the backup is reading (storage is slowed so
    reading takes ~15 s); the run continues once it is back, or exits 5 and the
    next run resumes from its checkpoint; every record is then backed up once."""
    require_restartable_source()
    topic = unique("brestart")
    partitions, total = 3, 15_000           # ~23 MB of random bytes: ~15 s at 1.5 MB/s
    create_topic(topic, partitions)
    produce(topic, [rec(i % partitions, f"k{i}", f"{i}:".encode() + os.urandom(1500), headers=[("i", str(i))],
                        timestamp=BASE_TS + i) for i in range(total)])
    ensure_bucket()
    env = s3_env()
    prefix = f"brestart/{topic}"
    storage = s3_storage(prefix)
    storage["max_bytes_per_sec"] = 1_500_000
    cfg = backup_config("unused", [topic], backup_id="brestart", checkpoint_interval_secs=1,
                        segment_max_bytes=256 << 10, max_buffered_bytes=1 << 20)
    cfg["storage"] = storage
    # librdkafka prefetches up to 64 MiB (queued.max.messages.kbytes): the whole
    # topic would be in memory before the broker went away. A 1 MiB queue keeps
    # reading only a few MB ahead of the slowed storage, as with a large topic.
    cfg["source"]["client_properties"] = {"queued.max.messages.kbytes": "1024", "fetch.max.bytes": "1048576",
                                          "max.partition.fetch.bytes": "262144"}
    path = write_config(tmp_path, cfg)
    url = f"s3://{BUCKET}/{prefix}?endpoint={S3_ENDPOINT}"
    proc = None
    try:
        t0 = time.monotonic()
        proc = start(path, env)
        before = checkpointed(url, "brestart", 1500, proc, env)
        assert before is not None, f"the backup ended before the restart: rc={proc.returncode}\n" \
                                   f"{proc.communicate()[1][-3000:]}"
        assert before["state"] == "partial" and before["records"] < total, before
        t_stop = time.monotonic()
        stopping = stop_source()
        read = run_status(url, "brestart", env)
        assert read["state"] == "running" and read["records"] < total, \
            f"the backup had read every record before the broker went away: this test proves nothing ({read})"
        time.sleep(PAUSE_SECS)
        start_source()
        down = time.monotonic() - t_stop
        during = describe(url, "brestart", env)
        rc, out, err = finish(proc, timeout=240)
        said = warnings(err)
        if rc == 0:
            summary = json.loads(out)
            assert summary["records"] == total, summary
            outcome = "the run continued and completed (exit 0)"
        else:
            line = clear_failure(rc, err)
            r = run_cli(["backup", "--config", path, "--format", "json"], env=env, timeout=300)
            assert r.rc == 0, f"the run after the failed one must resume and complete: {r.describe()}"
            summary = r.json()
            assert "resumed_from_checkpoint" in summary, summary
            outcome = (f"the run exited {rc} ({line}); the next run resumed from checkpoint "
                       f"{summary['resumed_from_checkpoint']} and completed")
        elapsed = time.monotonic() - t0

        doc = describe(url, "brestart", env)
        assert doc and doc["state"] == "committed" and doc["records"] == total, doc
        cli_ok(["validate", "--path", url, "--backup-id", "brestart", "--deep"], env=env)
        cfg_r = restore_config("unused", backup_id="brestart")
        cfg_r["storage"] = s3_storage(prefix)
        r = cli_ok(["restore", "--config", write_config(tmp_path, cfg_r, "restore.yaml"), "--format", "json"],
                   env=env, timeout=300)
        assert r.json()["records"] == total, r.stdout
        src, dst = parallel(lambda: dump(topic), lambda: dump(topic, TARGET))
        assert len(src) == total
        assert_same_records(src, dst, what=topic)
        print(f"\none-shot: broker stopped at {before['records']}/{total} checkpointed records (shutdown "
              f"{stopping:.1f}s; {read['records']} read when it was down; back after {down:.1f}s, "
              f"{during and during['records']} checkpointed then); {outcome}; backup {elapsed:.1f}s in all")
        for l in said:
            print(f"  backup said: {l[:300]}")
    finally:
        kill(proc)
        ensure_source_running()
        parallel(lambda: delete_topic(topic), lambda: delete_topic(topic, TARGET))


def test_continuous_backup_through_a_source_broker_restart_loses_nothing(tmp_path):
    """Records before and after the restart; the run follows the topic across
    it (or exits 5 and the next run resumes), stops on SIGTERM with exit 0,
    and the restore matches the source exactly."""
    require_restartable_source()
    topic = unique("crestart")
    create_topic(topic, 3)
    storage = tmp_path / "store"
    cfg = write_config(tmp_path, backup_config(storage, [topic], backup_id="crestart", continuous=True,
                                               checkpoint_interval_secs=1, segment_max_records=500))
    proc = None
    try:
        produce(topic, records(topic, 3, 0, 3000))
        proc = start(cfg)
        assert checkpointed(str(storage), "crestart", 3000, proc) is not None, \
            f"the backup ended before the restart: rc={proc.returncode}\n{proc.communicate()[1][-3000:]}"
        stopping, down = restart_source()
        produce(topic, records(topic, 3, 3000, 3000))      # after the restart
        after = checkpointed(str(storage), "crestart", 6000, proc)
        resumed = after is None
        if resumed:
            rc, _, err = finish(proc, timeout=30)
            line = clear_failure(rc, err)
            outcome = f"the run exited {rc} ({line}); the next run resumed"
            said = warnings(err)
            proc = start(cfg)
            assert checkpointed(str(storage), "crestart", 6000, proc) is not None, \
                f"the resumed run ended early: rc={proc.returncode}\n{proc.communicate()[1][-3000:]}"
        rc, out, err = stop(proc)
        assert rc == 0, f"SIGTERM must end a continuous backup cleanly: rc={rc}\n{err[-3000:]}"
        summary = json.loads(out)
        assert summary["state"] == "stopped", summary
        if resumed:
            assert "resumed_from_checkpoint" in summary, summary
        else:
            assert summary["records"] == 6000, summary
            outcome = "the run kept following the topic"
            said = warnings(err)

        doc = describe(str(storage), "crestart")
        assert doc["state"] == "continuous" and doc["records"] == 6000, doc
        cli_ok(["validate", "--path", storage, "--backup-id", "crestart", "--deep"])
        result = run_restore(tmp_path, restore_config(storage, backup_id="crestart"))
        assert result["records"] == 6000, result
        src, dst = parallel(lambda: dump(topic), lambda: dump(topic, TARGET))
        assert len(src) == 6000
        assert_same_records(src, dst, what=topic)
        print(f"\ncontinuous: broker stopped after 3000 records (shutdown {stopping:.1f}s, back after {down:.1f}s), "
              f"3000 more produced after; {outcome}; SIGTERM exit 0")
        for l in said:
            print(f"  backup said: {l[:300]}")
    finally:
        kill(proc)
        ensure_source_running()
        parallel(lambda: delete_topic(topic), lambda: delete_topic(topic, TARGET))
