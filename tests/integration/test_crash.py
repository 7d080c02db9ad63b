"""A backup killed with SIGKILL mid-run leaves no committed backup behind, only
a partial one (its checkpoint journal), and the same command run again
resumes and completes it. (test_checkpoints.py kills one many times.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import (binary, TARGET, assert_same_records, backup_config, cli_ok, create_topic,
                      delete_topic, dump, manifest_path, parallel, produce, rec, restore_config,
                      run_cli, run_restore, unique, write_config)

PARTITIONS = 4
RECORDS_PER_PARTITION = 1500
VALUE_BYTES = 8 * 1024          # incompressible: ~48 MiB in all


def data_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def manifest_keys(doc: dict) -> list[str]:
    return sorted(s["key"] for t in doc["topics"] for p in t["partitions"] for s in p["segments"])


@pytest.fixture(scope="module")
def crash(tmp_path_factory):
    """Produces ~48 MiB, starts a backup, SIGKILLs it once its first segment
    is stored (preferably while another is being written), records what it
    left, then runs the same command again.  Returns the observations."""
    tmp = tmp_path_factory.mktemp("crash")
    topic = unique("crash")
    create_topic(topic, PARTITIONS)
    try:
        produce(topic, [rec(p, f"k-{p}-{i}", os.urandom(VALUE_BYTES), headers=[("i", str(i))],
                            timestamp=1_700_000_000_000 + i)
                        for i in range(RECORDS_PER_PARTITION) for p in range(PARTITIONS)])
        yield run_scenario(tmp, topic)
    finally:
        # The only bulky topic of the suite: do not let re-runs pile it up.
        parallel(lambda: delete_topic(topic), lambda: delete_topic(topic, TARGET))


def run_scenario(tmp, topic) -> dict:
    storage = tmp / "store"
    backup_id = "crash"
    # Small segments and blocks: many objects, so the kill lands between them.
    cfg = write_config(tmp, backup_config(storage, [topic], backup_id=backup_id,
                                          segment_max_records=100, block_size_bytes=4096))
    cmd = [str(binary()), "backup", "--config", str(cfg), "--format", "json"]
    data_dir = storage / "data" / backup_id
    obs: dict = {"topic": topic, "storage": storage, "backup_id": backup_id, "tmp": tmp}

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    killed = False
    try:
        while time.monotonic() - t0 < 120:
            names = [p.name for p in data_files(data_dir)]
            done = sum(1 for n in names if n.endswith(".kbseg"))
            # Kill once a segment is complete, preferably while the next one is
            # being written (a crash leaves both kinds of files behind).
            if done and (len(names) > done or done >= 4):
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            if proc.poll() is not None:
                break
            time.sleep(0.002)
    finally:
        if proc.poll() is None and not killed:
            proc.kill()
        _out, err = proc.communicate(timeout=60)
    manifest = manifest_path(storage, backup_id)
    obs["killed_rc"] = proc.returncode
    obs["killed_stderr"] = err.decode(errors="replace")
    obs["killed_mid_run"] = killed and proc.returncode == -signal.SIGKILL and not manifest.exists()
    obs["left"] = sorted(p.relative_to(storage).as_posix() for p in data_files(data_dir))
    obs["manifest_after_kill"] = json.loads(manifest.read_text()) if manifest.exists() else None
    obs["list_after_kill"] = cli_ok(["list", "--path", storage, "--format", "json"]).json()["backups"]
    obs["describe_after_kill"] = run_cli(["describe", "--path", storage, "--backup-id", backup_id])
    obs["latest_after_kill"] = run_cli(["describe", "--path", storage, "--backup-id", "latest"])
    print(f"kill after {time.monotonic() - t0:.2f}s: rc={proc.returncode}, mid-run={obs['killed_mid_run']}, "
          f"left under data/{backup_id}: {len(obs['left'])} files "
          f"({sum(1 for k in obs['left'] if not k.endswith('.kbseg'))} not *.kbseg)")

    # The same command again (a backup id that exists is a conflict instead).
    obs["rerun"] = run_cli(["backup", "--config", cfg, "--format", "json"], timeout=300)
    obs["after_rerun"] = sorted(p.relative_to(storage).as_posix() for p in data_files(data_dir))
    return obs


def test_killed_backup_is_not_a_backup(crash, record_property):
    record_property("killed_mid_run", crash["killed_mid_run"])
    record_property("files_left_by_killed_run", len(crash["left"]))
    assert crash["killed_rc"] in (0, -signal.SIGKILL), \
        f"backup failed before the kill: rc={crash['killed_rc']}\n{crash['killed_stderr'][-2000:]}"
    doc = crash["manifest_after_kill"]
    if doc is not None:
        # The kill came too late: the manifest is the commit point, so every
        # segment it names must be there.
        missing = [k for k in manifest_keys(doc) if not (crash["storage"] / k).is_file()]
        assert not missing, f"manifest names missing segments: {missing[:5]}"
        assert [b["backup_id"] for b in crash["list_after_kill"]] == [crash["backup_id"]]
        return
    assert crash["left"], "the kill came after the first segment, so something was left"
    # The journal's base is written before reading starts: the run shows as partial, never committed.
    assert [(b["backup_id"], b["state"]) for b in crash["list_after_kill"]] == [(crash["backup_id"], "partial")], \
        crash["list_after_kill"]
    d = crash["describe_after_kill"]
    assert d.rc == 0 and "partial" in d.stdout, d.describe()
    r = crash["latest_after_kill"]
    assert r.rc == 3, f"'latest' never names an interrupted run: {r.describe()}"


def test_rerun_completes_and_restores_exactly(crash):
    storage, backup_id, topic = crash["storage"], crash["backup_id"], crash["topic"]
    r = crash["rerun"]
    if crash["manifest_after_kill"] is None:
        assert r.rc == 0, f"rerun after the crash failed: {r.describe()}"
        assert r.json()["records"] == PARTITIONS * RECORDS_PER_PARTITION, r.stdout
    else:
        assert r.rc == 7, f"the backup had completed, so a rerun is a conflict: {r.describe()}"

    cli_ok(["validate", "--path", storage, "--backup-id", backup_id, "--deep"], timeout=300)
    doc = json.loads(manifest_path(storage, backup_id).read_text())
    assert len(manifest_keys(doc)) >= PARTITIONS * RECORDS_PER_PARTITION // 100
    listed = cli_ok(["list", "--path", storage, "--format", "json"]).json()["backups"]
    assert [(b["backup_id"], b["records"]) for b in listed] == [(backup_id, PARTITIONS * RECORDS_PER_PARTITION)]

    result = run_restore(crash["tmp"], restore_config(storage, backup_id=backup_id))
    assert result["records"] == PARTITIONS * RECORDS_PER_PARTITION
    src, dst = parallel(lambda: dump(topic), lambda: dump(topic, TARGET))
    assert len(src) == PARTITIONS * RECORDS_PER_PARTITION
    assert len(dst) == len(src)
    assert_same_records(src, dst, what=topic)


def test_rerun_removes_what_the_killed_run_left(crash):
    """docs/format/manifest.md: objects of a run that died before its manifest
    are garbage, and the next run with the same backup id deletes them."""
    assert crash["rerun"].rc in (0, 7), crash["rerun"].describe()
    doc = json.loads(manifest_path(crash["storage"], crash["backup_id"]).read_text())
    extra = sorted(set(crash["after_rerun"]) - set(manifest_keys(doc)))
    assert not extra, (f"after the rerun, data/{crash['backup_id']}/ holds files no manifest names "
                       f"(left by the killed run: {crash['left']}): {extra}")
    assert crash["after_rerun"] == manifest_keys(doc)
    journal = crash["storage"] / "checkpoints" / crash["backup_id"]
    assert not journal.exists() or not list(journal.iterdir()), "the journal of a committed backup is removed"
