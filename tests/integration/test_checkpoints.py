"""Checkpoints (docs/format/manifest.md, "Checkpoints"): a one-shot backup
killed with SIGKILL at many random points resumes from its last checkpoint
each time and ends with every record exactly once; a continuous backup follows
its topics, stops cleanly on SIGTERM, survives SIGKILL, picks up new topics,
and restores with nothing lost and nothing duplicated."""

from __future__ import annotations

import json
import os
import random
import signal
import time

from conftest import (S3_ENDPOINT, TARGET, assert_same_records, backup_config, cli_ok, commit_offsets, create_topic,
                      delete_topic, dump, parallel, produce, rec, restore_config, run_cli, run_restore, s3_env, unb64,
                      unique, write_config)
from helpers.backups import describe, records, start, stop, wait_for_records
from helpers.kafka import delete_records
from helpers.schemas import json_output
from helpers.storage import BUCKET, ensure_bucket, s3_storage

KILLS = int(os.environ.get("KB_CRASH_KILLS", "20"))


def test_continuous_backup_stops_resumes_and_restores_exactly(tmp_path):
    topic = unique("cont")
    create_topic(topic, 3)
    storage = tmp_path / "store"
    cfg = write_config(tmp_path, backup_config(storage, [topic], backup_id="live", continuous=True,
                                               checkpoint_interval_secs=1, segment_max_records=500))
    try:
        produce(topic, records(topic, 3, 0, 3000))
        proc = start(cfg)
        first = wait_for_records(str(storage), "live", 3000, proc)
        assert first["state"] == "continuous", first
        produce(topic, records(topic, 3, 3000, 3000))          # while it runs
        wait_for_records(str(storage), "live", 6000, proc)
        rc, out, err = stop(proc)
        assert rc == 0, f"SIGTERM must end a continuous backup cleanly: rc={rc}\n{err[-3000:]}"
        summary = json.loads(out)
        assert summary["state"] == "stopped" and summary["records"] == 6000, summary
        assert summary["checkpoints"] > 0 and summary["checkpoint_bytes"] > 0 and summary["checkpoint_max_ms"] > 0, \
            summary
        assert not (storage / "manifests").exists() or not list((storage / "manifests").iterdir()), \
            "a continuous backup commits no manifest"

        produce(topic, records(topic, 3, 6000, 3000))          # while it is down
        proc = start(cfg)
        time.sleep(1.5)
        rc, _, err = stop(proc, signal.SIGKILL)                  # anywhere: mid-read, mid-checkpoint
        assert rc == -signal.SIGKILL, err
        produce(topic, records(topic, 3, 9000, 3000))
        proc = start(cfg)
        wait_for_records(str(storage), "live", 12000, proc)
        rc, out, err = stop(proc, signal.SIGINT)
        assert rc == 0, err[-3000:]
        summary = json.loads(out)
        assert "resumed_from_checkpoint" in summary, summary

        doc = describe(str(storage), "live")
        assert doc["state"] == "continuous" and doc["records"] == 12000, doc
        listed = cli_ok(["list", "--path", storage, "--format", "json"]).json()["backups"]
        assert [(b["backup_id"], b["state"]) for b in listed] == [("live", "continuous")], listed
        assert cli_ok(["validate", "--path", storage, "--backup-id", "latest", "--deep"]).rc == 0

        result = run_restore(tmp_path, restore_config(storage, backup_id="live"))
        assert result["records"] == 12000, result
        src, dst = parallel(lambda: dump(topic), lambda: dump(topic, TARGET))
        assert len(src) == 12000
        assert_same_records(src, dst, what=topic)
    finally:
        parallel(lambda: delete_topic(topic), lambda: delete_topic(topic, TARGET))


def test_continuous_backup_follows_a_new_topic(tmp_path):
    base = unique("follow")
    first, later = f"{base}-a", f"{base}-b"
    create_topic(first, 1)
    storage = tmp_path / "store"
    cfg = write_config(tmp_path, backup_config(storage, [f"{base}-*"], backup_id="follow", continuous=True,
                                               checkpoint_interval_secs=1))
    produce(first, records(first, 1, 0, 100))
    proc = start(cfg)
    try:
        wait_for_records(str(storage), "follow", 100, proc)
        create_topic(later, 2)
        produce(later, records(later, 2, 0, 50))
        doc = wait_for_records(str(storage), "follow", 150, proc, timeout=60)
        topics = {t["name"]: t for t in doc["topics"]}
        assert set(topics) == {first, later}, doc
        assert topics[later]["partition_count"] == 2 and topics[later]["records"] == 50, topics[later]
    finally:
        if proc.poll() is None:
            rc, _, err = stop(proc)
            assert rc == 0, err[-2000:]


def test_one_shot_backup_a_second_run_of_a_running_id_is_refused(tmp_path, s3_server):
    """Two live runs of one backup id would delete each other's segments."""
    topic = unique("twice")
    create_topic(topic, 1)
    produce(topic, [rec(0, f"k{i}", os.urandom(1000)) for i in range(6000)])
    ensure_bucket()
    prefix = f"twice/{topic}"
    storage = s3_storage(prefix)
    storage["max_bytes_per_sec"] = 1_000_000
    cfg = backup_config("unused", [topic], backup_id="twice", checkpoint_interval_secs=1)
    cfg["storage"] = storage
    path = write_config(tmp_path, cfg)
    env = s3_env()
    proc = start(path, env)
    try:
        url = f"s3://{BUCKET}/{prefix}?endpoint={S3_ENDPOINT}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and describe(url, "twice", env) is None:
            time.sleep(0.2)
        r = run_cli(["backup", "--config", path], env=env)
        assert r.rc == 7 and "being written by another run" in r.stderr and f"pid {proc.pid}" in r.stderr, \
            r.describe()
    finally:
        proc.kill()
        proc.communicate()


def test_one_shot_backup_killed_at_random_points_resumes_exactly(tmp_path, s3_server):
    """The crash matrix: SIGKILL at KILLS random points (KB_CRASH_KILLS; the
    soak script takes more), each run resuming the last; then every record of
    the source is in the backup exactly once."""
    topic = unique("kill")
    partitions = 4
    create_topic(topic, partitions)
    total = 1000 * KILLS             # enough work that KILLS kills land before it is done
    produce(topic, [rec(i % partitions, f"k{i}", f"{i}:".encode() + os.urandom(1500), headers=[("i", str(i))],
                        timestamp=1_700_000_000_000 + i) for i in range(total)])
    ensure_bucket()
    env = s3_env()
    prefix = f"kill/{topic}"
    storage = s3_storage(prefix)
    storage["max_bytes_per_sec"] = 1_000_000     # 1.5 MB per kill: about 1.5 s of work each
    cfg = backup_config("unused", [topic], backup_id="kill", checkpoint_interval_secs=1,
                        segment_max_bytes=64 << 10, max_buffered_bytes=1 << 20)
    cfg["storage"] = storage
    path = write_config(tmp_path, cfg)
    url = f"s3://{BUCKET}/{prefix}?endpoint={S3_ENDPOINT}"
    rng = random.Random(int(os.environ.get("KB_CRASH_SEED", "7")))
    kills, resumed, seen = 0, 0, []
    try:
        for attempt in range(KILLS * 3):
            proc = start(path, env)
            if kills < KILLS:
                time.sleep(rng.uniform(0.3, 2.5))
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
                    kills += 1
                    doc = describe(url, "kill", env)
                    if doc is not None:
                        assert doc["state"] == "partial", doc
                        seen.append(doc["records"])
                        # What the journal names is there, whole.
                        cli_ok(["validate", "--path", url, "--backup-id", "kill"], env=env)
                    continue
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, f"run {attempt} failed: {err[-3000:]}"
            summary = json.loads(out)
            resumed += "resumed_from_checkpoint" in summary
            break
        assert kills >= KILLS, f"only {kills} kills landed before the backup finished"
        assert seen and seen == sorted(seen), f"checkpointed records went backwards: {seen}"
        assert seen[-1] > 0, f"no checkpoint ever recorded progress: {seen}"
        doc = describe(url, "kill", env)
        assert doc["state"] == "committed" and doc["records"] == total, doc
        cli_ok(["validate", "--path", url, "--backup-id", "kill", "--deep"], env=env)
        cfg_r = restore_config("unused", backup_id="kill")
        cfg_r["storage"] = s3_storage(prefix)
        r = cli_ok(["restore", "--config", write_config(tmp_path, cfg_r, "restore.yaml"), "--format", "json"],
                   env=env, timeout=300)
        assert r.json()["records"] == total
        src, dst = parallel(lambda: dump(topic), lambda: dump(topic, TARGET))
        assert len(src) == total
        assert_same_records(src, dst, what=topic)
        print(f"{kills} kills, checkpointed records after each: {seen}")
    finally:
        parallel(lambda: delete_topic(topic), lambda: delete_topic(topic, TARGET))


def test_continuous_backup_killed_at_random_points_loses_and_repeats_nothing(tmp_path):
    """The crash matrix for a continuous backup: KILLS SIGKILLs at random
    points while records keep arriving; then every record is in the backup
    exactly once."""
    topic = unique("ckill")
    create_topic(topic, 3)
    storage = tmp_path / "store"
    cfg = write_config(tmp_path, backup_config(storage, [topic], backup_id="ckill", continuous=True,
                                               checkpoint_interval_secs=1, segment_max_records=200))
    rng = random.Random(int(os.environ.get("KB_CRASH_SEED", "11")))
    produced, seen = 0, []
    try:
        for _ in range(KILLS):
            proc = start(cfg)
            t0 = time.monotonic()
            produce(topic, records(topic, 3, produced, 600))       # while it runs
            produced += 600
            time.sleep(max(0.0, rng.uniform(0.3, 2.5) - (time.monotonic() - t0)))
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            proc.kill()
            proc.communicate()
            doc = describe(str(storage), "ckill")
            seen.append(doc["records"] if doc else 0)
        proc = start(cfg)
        wait_for_records(str(storage), "ckill", produced, proc)
        rc, out, err = stop(proc)
        assert rc == 0, err[-3000:]
        assert seen == sorted(seen) and seen[-1] > 0, seen
        assert json.loads(out)["state"] == "stopped"
        cli_ok(["validate", "--path", storage, "--backup-id", "ckill", "--deep"])
        result = run_restore(tmp_path, restore_config(storage, backup_id="ckill"))
        assert result["records"] == produced, result
        src, dst = parallel(lambda: dump(topic), lambda: dump(topic, TARGET))
        assert len(src) == produced
        assert_same_records(src, dst, what=topic)
        print(f"{KILLS} kills, checkpointed records after each: {seen}")
    finally:
        parallel(lambda: delete_topic(topic), lambda: delete_topic(topic, TARGET))


def test_offsets_deleted_before_they_were_read_are_a_recorded_gap(tmp_path, s3_server):
    """A one-shot backup stopped by SIGTERM (exit 5, checkpointed); the broker
    then deletes offsets it had not read yet; the resumed run records them as
    a gap (describe shows it), never skipping them silently."""
    topic = unique("gap")
    create_topic(topic, 1)
    total = 12000
    produce(topic, [rec(0, f"k{i}", os.urandom(1000)) for i in range(total)])
    ensure_bucket()
    env = s3_env()
    prefix = f"gap/{topic}"
    storage = s3_storage(prefix)
    storage["max_bytes_per_sec"] = 1_000_000
    cfg = backup_config("unused", [topic], backup_id="gap", checkpoint_interval_secs=1, segment_max_bytes=256 << 10,
                        max_buffered_bytes=1 << 20)
    cfg["storage"] = storage
    # Little read-ahead, as with a topic much larger than the consumer's queue:
    # the stop lands while records are still being read.
    cfg["source"]["client_properties"] = {"queued.max.messages.kbytes": "1024", "fetch.max.bytes": "1048576",
                                          "max.partition.fetch.bytes": "1048576"}
    path = write_config(tmp_path, cfg)
    url = f"s3://{BUCKET}/{prefix}?endpoint={S3_ENDPOINT}"
    try:
        proc = start(path, env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            doc = describe(url, "gap", env)
            if doc and doc["records"] > 0:
                break
            time.sleep(0.2)
        rc, out, err = stop(proc)
        assert rc == 5 and "was interrupted" in err and "--backup-id gap" in err, (rc, err[-2000:])
        stored_upto = describe(url, "gap", env)["topics"][0]["partitions"][0]["end_offset"]
        assert 0 < stored_upto < total - 2000, stored_upto
        delete_from = stored_upto + 1000
        delete_records(topic, 0, delete_from)

        r = cli_ok(["backup", "--config", path, "--format", "json"], env=env, timeout=300)
        summary = r.json()
        assert summary["deleted_offsets"] == delete_from - stored_upto, summary
        doc = json_output(run_cli(["describe", "--path", url, "--backup-id", "gap", "--format", "json"], env=env),
                          "describe")
        part = doc["topics"][0]["partitions"][0]
        assert part["gaps"] == [{"first_offset": stored_upto, "last_offset": delete_from - 1,
                                 "reason": part["gaps"][0]["reason"]}], part
        assert "deleted by the broker" in part["gaps"][0]["reason"]
        assert part["records"] == total - (delete_from - stored_upto) and part["end_offset"] == total, part
        text = cli_ok(["describe", "--path", url, "--backup-id", "gap"], env=env).stdout
        assert f"gap: offsets {stored_upto}..{delete_from - 1}" in text, text
        cli_ok(["validate", "--path", url, "--backup-id", "gap", "--deep"], env=env)
    finally:
        parallel(lambda: delete_topic(topic), lambda: delete_topic(topic, TARGET))


def test_a_continuous_backup_records_where_consumer_groups_moved_to(tmp_path):
    """Consumer groups are read again while a continuous backup runs (not
    only at its start): a restore puts a group where it was last seen."""
    topic = unique("contgrp")
    group = unique("g")
    create_topic(topic, 1)
    produce(topic, records(topic, 1, 0, 300))
    commit_offsets(group, topic, {0: 10})
    storage = tmp_path / "store"
    cfg = write_config(tmp_path, backup_config(storage, [topic], backup_id="live", continuous=True,
                                               checkpoint_interval_secs=1))
    proc = start(cfg)
    try:
        wait_for_records(str(storage), "live", 300, proc)
        commit_offsets(group, topic, {0: 250})

        def recorded() -> list:
            found = []
            for f in sorted((storage / "checkpoints" / "live").glob("*.json")):
                try:
                    entry = json.loads(f.read_text())
                except (OSError, ValueError):
                    continue           # replaced while we read
                groups = entry.get("consumer_groups", entry.get("manifest", {}).get("consumer_groups"))
                if groups is not None:
                    found = groups
            return found

        deadline = time.monotonic() + 60
        while not any(o["offset"] == 250 for g in recorded() if g["group_id"] == group for o in g["offsets"]):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, f"the moved group was never checkpointed: {recorded()}"
            time.sleep(0.5)
    finally:
        rc, _, err = stop(proc)
    assert rc == 0, err[-3000:]
    target = unique("contgrp-r")
    report = run_restore(tmp_path, restore_config(storage, "live", topic_mapping={topic: target},
                                                  consumer_group_strategy="exact", consumer_groups=[group],
                                                  reset_consumer_offsets=True))
    positions = {(g["topic"], g["partition"]): g["offset"] for g in report["consumer_group_offsets"]
                 if g["group_id"] == group}
    assert positions == {(target, 0): 250}, report["consumer_group_offsets"]


def test_offsets_deleted_while_the_backup_reads_are_a_recorded_gap(tmp_path, s3_server):
    """The broker deletes offsets ahead of a running backup's read position:
    the consumer's fetch goes out of range, the run records the deleted range
    as a gap, seeks past it and completes; every record is either restored or
    counted in the gap, none twice."""
    topic = unique("midgap")
    create_topic(topic, 1)
    total = 16000
    produce(topic, [rec(0, f"k{i}", f"{i}:".encode() + os.urandom(1000)) for i in range(total)])
    ensure_bucket()
    env = s3_env()
    prefix = f"midgap/{topic}"
    storage = s3_storage(prefix)
    storage["max_bytes_per_sec"] = 500_000  # ~32 s to store it all: the deletion lands well before
    cfg = backup_config("unused", [topic], backup_id="midgap", checkpoint_interval_secs=1,
                        segment_max_bytes=256 << 10, max_buffered_bytes=1 << 20)
    cfg["storage"] = storage
    cfg["source"]["client_properties"] = {"queued.max.messages.kbytes": "1024", "fetch.max.bytes": "1048576",
                                          "max.partition.fetch.bytes": "1048576"}
    path = write_config(tmp_path, cfg)
    url = f"s3://{BUCKET}/{prefix}?endpoint={S3_ENDPOINT}"
    delete_from = 14000
    try:
        proc = start(path, env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            doc = describe(url, "midgap", env)
            if doc and doc["records"] > 0:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the backup finished before the broker deleted anything: slow it further"
        delete_records(topic, 0, delete_from)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        summary = json.loads(out)
        assert summary["state"] == "committed" and summary["deleted_offsets"] > 0, summary
        part = json_output(run_cli(["describe", "--path", url, "--backup-id", "midgap", "--format", "json"],
                                   env=env), "describe")["topics"][0]["partitions"][0]
        assert len(part["gaps"]) == 1 and part["gaps"][0]["last_offset"] == delete_from - 1, part
        gap_from = part["gaps"][0]["first_offset"]
        assert summary["deleted_offsets"] == delete_from - gap_from, (summary, part)
        assert part["records"] == total - (delete_from - gap_from) and part["end_offset"] == total, part
        cli_ok(["validate", "--path", url, "--backup-id", "midgap", "--deep"], env=env)
        target = unique("midgap-r")
        restore = restore_config("unused", "midgap", topic_mapping={topic: target})
        restore["storage"] = storage
        cli_ok(["restore", "--config", write_config(tmp_path, restore, "restore.yaml")], env=env, timeout=300)
        got = [int(unb64(r["value"]).split(b":")[0]) for r in dump(target, TARGET)]
        assert got == list(range(gap_from)) + list(range(delete_from, total)), \
            f"restored {len(got)} records; expected 0..{gap_from - 1} and {delete_from}..{total - 1}"
    finally:
        parallel(lambda: delete_topic(topic), lambda: delete_topic(topic, TARGET))


def test_a_quiet_topic_is_restorable_within_one_checkpoint_interval(tmp_path):
    """The time bound of segments (what other tools call segment_max_interval_ms): every
    checkpoint of a continuous run seals and stores each partition's open segment, however few
    records it holds, so a quiet topic's RPO is checkpoint_interval_secs like a busy one's. One
    record on a quiet topic, far below every size bound, is durable within about an interval and
    restores after the backup is killed."""
    busy, quiet = unique("busy"), unique("quiet")
    create_topic(busy, 2)
    create_topic(quiet, 1)
    storage = tmp_path / "store"
    cfg = write_config(tmp_path, backup_config(storage, [busy, quiet], backup_id="rpo", continuous=True,
                                               checkpoint_interval_secs=2))
    try:
        produce(busy, records(busy, 2, 0, 2000))
        proc = start(cfg)
        wait_for_records(str(storage), "rpo", 2000, proc)
        produce(quiet, [rec(0, "only", "the one record of a quiet topic", timestamp=1_700_000_500_000)])
        t0 = time.monotonic()
        wait_for_records(str(storage), "rpo", 2001, proc, timeout=30)
        took = time.monotonic() - t0
        assert took < 2 * 2 + 3, f"the quiet topic's record took {took:.1f}s to become durable (interval 2 s)"
        rc, _, err = stop(proc, signal.SIGKILL)
        assert rc == -signal.SIGKILL, err
        restored = unique("quiet-restored")
        result = run_restore(tmp_path, restore_config(storage, backup_id="rpo", topics=[quiet],
                                                      topic_mapping={quiet: restored}))
        assert result["records"] == 1, result
        assert_same_records(dump(quiet), dump(restored, TARGET), what=quiet)
    finally:
        parallel(lambda: delete_topic(busy), lambda: delete_topic(quiet))
