"""`kafka-backup status`: what a running backup has done so far, read from
storage by another process while it runs, and what the last run did; text
and JSON (validated against docs/schemas/status.schema.json)."""

from __future__ import annotations

import json
import os
import subprocess
import time

from conftest import (BINARY, EXIT_NOT_FOUND, S3_ENDPOINT, assert_error, backup_config, cli_ok, create_topic,
                      produce, rec, run_backup, run_cli, s3_env, unique, write_config)
from helpers.schemas import json_output
from helpers.storage import BUCKET, ensure_bucket, s3_storage


def status(path: str, *args: str, env: dict | None = None) -> dict:
    return json_output(run_cli(["status", "--path", path, *args, "--format", "json"], env=env), "status")


def test_status_of_a_running_backup_from_another_process_then_completed(tmp_path, s3_server):
    base = unique("status")
    topics = [f"{base}-a", f"{base}-b"]
    for t in topics:
        create_topic(t, 2)
    produce(topics[0], [rec(i % 2, f"k{i}", os.urandom(1000)) for i in range(7000)])
    produce(topics[1], [rec(i % 2, f"k{i}", os.urandom(1000)) for i in range(5000)])
    ensure_bucket()
    env = s3_env()
    storage = s3_storage(f"status/{base}")
    storage["max_bytes_per_sec"] = 2_000_000  # 12 MB: about 6 s
    cfg = backup_config("unused", topics, backup_id="live", checkpoint_interval_secs=1, max_buffered_bytes=2 << 20,
                        segment_max_bytes=1 << 20)
    cfg["storage"] = storage
    path = write_config(tmp_path, cfg, "backup.yaml")
    url = f"s3://{BUCKET}/status/{base}?endpoint={S3_ENDPOINT}"

    proc = subprocess.Popen([str(BINARY), "--no-progress", "backup", "--config", str(path)], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[dict] = []
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            r = run_cli(["status", "--path", url, "--format", "json"], env=env)
            if r.rc == 0:
                doc = json_output(r, "status")
                if doc["state"] == "running":
                    seen.append(doc)
            time.sleep(0.3)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, f"backup failed: {out}\n{err}"
    assert seen, "status never showed the backup running"
    running = seen[-1]
    assert running["backup_id"] == "live" and running["from"] == "run-status" and not running["stale"], running
    assert running["finished_at"] is None and running["last_checkpoint_at"] is not None, running
    assert running["pid"] == proc.pid and running["host"], running
    assert {t["name"] for t in running["topics"]} == set(topics) and all(t["partitions"] == 2
                                                                          for t in running["topics"])
    mid = [d for d in seen if 0 < d["records"] < 12000]
    assert mid, f"no status caught the backup half way: {[d['records'] for d in seen]}"
    assert any(sum(t["lag"] for t in d["topics"]) > 0 for d in mid), "a backup half way has no lag"
    assert all(sum(t["records"] for t in d["topics"]) == d["records"] for d in seen)
    counts = [d["records"] for d in seen]
    assert counts == sorted(counts), f"the records count went backwards: {counts}"

    done = status(url, env=env)
    assert done["state"] == "completed" and done["backup_id"] == "live", done
    assert done["records"] == 12000 and all(t["lag"] == 0 for t in done["topics"]), done
    assert done["finished_at"] and done["last_checkpoint_at"] and done["segments"] >= 12, done
    by_id = status(url, "--backup-id", "live", env=env)
    assert {**by_id, "seconds_since_update": 0} == {**done, "seconds_since_update": 0}, (by_id, done)
    text = cli_ok(["status", "--path", url, "--backup-id", "live"], env=env).stdout
    assert "backup live: completed" in text and "12000 records" in text, text
    for t in topics:
        assert t in text, text


def test_status_of_a_backup_without_a_run_status_comes_from_its_manifest(tmp_path):
    topic = unique("status-old")
    create_topic(topic, 3)
    produce(topic, [rec(i % 3, f"k{i}", f"v{i}") for i in range(30)])
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="old"))
    for f in (storage / "status").iterdir():  # as a backup written by an older version
        f.unlink()
    doc = status(str(storage))
    assert doc["from"] == "manifest" and doc["state"] == "completed" and doc["backup_id"] == "old", doc
    assert doc["records"] == 30 and doc["topics"] == [{"name": topic, "partitions": 3, "records": 30,
                                                       "bytes": doc["bytes"], "lag": 0}], doc
    text = cli_ok(["status", "--path", storage, "--backup-id", "old"]).stdout
    assert "from its manifest" in text, text


def test_a_running_status_left_by_a_dead_process_is_stale(tmp_path):
    """A backup killed without warning leaves "running" behind: status says it is stale."""
    topic = unique("status-dead")
    create_topic(topic, 1)
    produce(topic, [rec(0, "k", "v")])
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="dead"))
    doc_path = storage / "status" / "dead.json"
    doc = json.loads(doc_path.read_text())
    hour_ago = int(time.time() * 1000) - 3600_000
    doc.update(state="running", updated_at_ms=hour_ago, finished_at_ms=0, last_checkpoint_ms=0)
    doc_path.write_text(json.dumps(doc))
    out = status(str(storage), "--backup-id", "dead")
    assert out["state"] == "running" and out["stale"] and out["seconds_since_update"] >= 3600, out
    text = cli_ok(["status", "--path", storage, "--backup-id", "dead"]).stdout
    assert "STALE" in text and "may have died" in text and "60m ago" in text, text

    doc.update(state="failed", finished_at_ms=hour_ago, error="broker went away")
    doc_path.write_text(json.dumps(doc))
    out = status(str(storage), "--backup-id", "dead")
    assert out["state"] == "failed" and out["error"] == "broker went away" and not out["stale"], out
    assert "failed" in cli_ok(["status", "--path", storage, "--backup-id", "dead"]).stdout


def test_status_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_error(run_cli(["status", "--path", empty]), EXIT_NOT_FOUND, "no backups")
    assert_error(run_cli(["status", "--path", empty, "--backup-id", "nope"]), EXIT_NOT_FOUND, "nope")
    (empty / "status").mkdir()
    (empty / "status" / "broken.json").write_text("{not json")
    r = run_cli(["status", "--path", empty, "--backup-id", "broken"])
    assert r.rc == 4 and "status/broken.json" in r.stderr, r.describe()


def test_status_watch_follows_a_run_until_it_ends(tmp_path):
    """`status --watch`: a JSON document (or a line) per interval while the
    backup runs, ending by itself when the run does; redrawn in place on a
    terminal; a wrong id fails at once instead of waiting."""
    import pty
    import select
    from conftest import EXIT_BAD_INPUT
    topic = unique("watch")
    create_topic(topic, 2)
    produce(topic, [rec(i % 2, f"k{i}", f"v{i}") for i in range(200)])
    storage = tmp_path / "store"
    cfg = write_config(tmp_path, backup_config(storage, [topic], backup_id="watched", continuous=True,
                                               checkpoint_interval_secs=1))
    proc = subprocess.Popen([str(BINARY), "--no-progress", "backup", "--config", str(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (storage / "status" / "watched.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-2000:]
            time.sleep(0.2)
        as_json = subprocess.Popen([str(BINARY), "status", "--path", str(storage), "--backup-id", "watched",
                                    "--watch", "--interval", "1", "--format", "json"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        as_lines = subprocess.Popen([str(BINARY), "status", "--path", str(storage), "--backup-id", "watched", "-w",
                                     "--interval", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        master, slave = pty.openpty()
        on_tty = subprocess.Popen([str(BINARY), "status", "--path", str(storage), "--backup-id", "watched",
                                   "--watch", "--interval", "1"], stdout=slave, stderr=subprocess.PIPE)
        os.close(slave)
        seen = b""
        deadline = time.monotonic() + 30
        while seen.count(b"\x1b[H\x1b[2J") < 3 and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                seen += os.read(master, 65536)
        assert seen.count(b"\x1b[H\x1b[2J") >= 3, seen[-2000:]
        assert b"backup watched: running" in seen and b"Ctrl-C" in seen, seen[-2000:]
        time.sleep(1)
        proc.terminate()
        assert proc.wait(timeout=60) == 0, proc.communicate()[1][-2000:]
        out, err = as_json.communicate(timeout=30)
        assert as_json.returncode == 0, err[-2000:]
        docs = [json.loads(l) for l in out.splitlines()]
        assert len(docs) >= 3 and all(d["backup_id"] == "watched" for d in docs), out[-2000:]
        assert [d["state"] for d in docs[:-1]] == ["running"] * (len(docs) - 1), [d["state"] for d in docs]
        assert docs[-1]["state"] != "running" and docs[-1]["records"] == 200, docs[-1]
        out, err = as_lines.communicate(timeout=30)
        assert as_lines.returncode == 0, err[-2000:]
        lines = out.splitlines()
        assert len(lines) >= 3 and all("backup watched: " in l for l in lines), out[-2000:]
        assert "\x1b" not in out, "not a terminal: no control sequences"
        assert on_tty.wait(timeout=30) == 0
        os.close(master)
    finally:
        for p in [proc] + [v for k, v in locals().items() if k in ("as_json", "as_lines", "on_tty")]:
            if p.poll() is None:
                p.kill()
    r = run_cli(["status", "--path", str(storage), "--backup-id", "nope", "--watch"], timeout=20)
    assert_error(r, EXIT_NOT_FOUND, "nope")
    r = run_cli(["status", "--path", str(storage), "--interval", "2"], timeout=20)
    assert r.rc == EXIT_BAD_INPUT and "--watch" in r.stderr, r.describe()
