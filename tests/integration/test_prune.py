"""Retention and `prune` (docs/retention.md) against real backups: a dry run
deletes nothing and prints the plan the real run carries out; pruned backups'
objects are deleted; segments of a pruned backup that a kept backup lists
stay (the kept one still validates --deep and restores exactly) and go once
nothing lists them; orphans are swept; partial and continuous backups are
never pruned; max_age, min_keep and backup_prefix; no policy, no prune; and
the same on S3."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import time
from pathlib import Path

import pytest

from conftest import (EXIT_BAD_INPUT, EXIT_NOT_FOUND, SOURCE, TARGET, assert_error, assert_same_records,
                      backup_config, cli_ok, create_topic, dump, parallel, produce, rec, restore_config, run_backup,
                      run_cli, run_restore, s3_env, unique, write_config)
from helpers.backups import start, stop, wait_for_records
from helpers.schemas import json_output
from helpers.storage import BUCKET, ensure_bucket, s3_storage

BASE_TS = 1_700_000_000_000


def objects(storage: Path) -> dict[str, str]:
    """Every file under the store, by key, with a digest of its content."""
    return {p.relative_to(storage).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(storage.rglob("*")) if p.is_file()}


def keys_of(storage: Path, backup_id: str) -> set[str]:
    """The keys of a store that belong to one backup id (docs/format/manifest.md, "Keys")."""
    return {k for k in objects(storage)
            if k in (f"manifests/{backup_id}.json", f"status/{backup_id}.json")
            or k.startswith((f"data/{backup_id}/", f"checkpoints/{backup_id}/", f"restores/{backup_id}/"))}


def segment_keys(manifest: dict) -> list[str]:
    return [s["key"] for t in manifest["topics"] for p in t["partitions"] for s in p["segments"]]


def load_manifest(storage: Path, backup_id: str) -> dict:
    return json.loads((storage / "manifests" / f"{backup_id}.json").read_text())


def prune(path: Path | str, *flags: str, env: dict | None = None) -> dict:
    """prune --format json that must exit 0; its output matches docs/schemas/prune.schema.json."""
    return json_output(run_cli(["prune", "--path", path, *flags, "--format", "json"], env=env), "prune")


def decisions(doc: dict) -> dict[str, tuple[str, list[str]]]:
    return {b["backup_id"]: (b["action"], b["reasons"]) for b in doc["backups"]}


@pytest.fixture
def topic() -> str:
    """A 2-partition topic with 60 records."""
    t = unique("prune")
    create_topic(t, 2)
    produce(t, [rec(i % 2, f"k{i}", f"value {i}", headers=[("i", str(i))], timestamp=BASE_TS + i) for i in range(60)])
    return t


def backups(tmp_path: Path, storage: Path, topic: str, *ids: str) -> None:
    """One backup per id, in order (created_at strictly increasing), 10 records per segment."""
    for backup_id in ids:
        run_backup(tmp_path, backup_config(storage, [topic], backup_id=backup_id, segment_max_records=10),
                   name=f"{backup_id}.yaml")
        time.sleep(0.01)


def test_without_a_policy_prune_refuses_and_deletes_nothing(tmp_path, topic):
    storage = tmp_path / "store"
    backups(tmp_path, storage, topic, "only")
    before = objects(storage)
    assert_error(run_cli(["prune", "--path", storage]), EXIT_BAD_INPUT, "no retention policy")
    # min_keep alone is no rule; a config's retention section without a rule neither.
    assert_error(run_cli(["prune", "--path", storage, "--min-keep", "0"]), EXIT_BAD_INPUT, "no retention policy")
    cfg = write_config(tmp_path, {"storage": {"path": str(storage)}, "retention": {"min_keep": 1}}, "r.yaml")
    assert_error(run_cli(["prune", "--config", cfg]), EXIT_BAD_INPUT, "no retention policy")
    # Bad values name the key or flag and what was expected.
    bad = write_config(tmp_path, {"storage": {"path": str(storage)}, "retention": {"max_age": "30"}}, "bad.yaml")
    assert_error(run_cli(["prune", "--config", bad]), EXIT_BAD_INPUT, "retention.max_age", "expected a duration")
    assert_error(run_cli(["prune", "--path", storage, "--max-age", "1y"]), EXIT_BAD_INPUT, "--max-age",
                 "expected a duration")
    assert objects(storage) == before


def test_dry_run_deletes_nothing_and_the_real_run_deletes_what_it_planned(tmp_path, topic):
    storage = tmp_path / "store"
    backups(tmp_path, storage, topic, "b1", "b2", "b3")
    before = objects(storage)
    doomed = keys_of(storage, "b1") | keys_of(storage, "b2")
    assert any(k.startswith("data/b1/") for k in doomed) and "status/b2.json" in doomed, sorted(doomed)

    plan = prune(storage, "--keep-last", "1", "--dry-run")
    assert objects(storage) == before, "a dry run deleted or changed something"
    assert plan["dry_run"] is True
    assert decisions(plan) == {"b3": ("keep", ["last 1", "min_keep 1"]), "b2": ("prune", ["no rule keeps it"]),
                               "b1": ("prune", ["no rule keeps it"])}, plan
    assert [b["backup_id"] for b in plan["backups"]] == ["b3", "b2", "b1"]  # newest first
    assert plan["pruned"] == 2 and plan["orphans"] == 0
    assert plan["objects"] == len(doomed), (plan, sorted(doomed))
    assert plan["bytes"] == sum((storage / k).stat().st_size for k in doomed)
    assert plan["referenced_objects"] == 0

    text = cli_ok(["prune", "--path", storage, "--keep-last", "1", "--dry-run"]).stdout
    assert "dry run" in text and "would delete 2 backups" in text, text
    assert objects(storage) == before

    done = cli_ok(["prune", "--path", storage, "--keep-last", "1"])
    assert "deleted 2 backups" in done.stdout and "PRUNE  b1" in done.stdout and "KEEP   b3" in done.stdout, done.stdout
    after = objects(storage)
    assert set(after) == set(before) - doomed, sorted(set(before) - set(after) ^ doomed)
    assert all(after[k] == before[k] for k in after)
    listed = json_output(run_cli(["list", "--path", storage, "--format", "json"]), "list")
    assert [b["backup_id"] for b in listed["backups"]] == ["b3"]
    cli_ok(["validate", "--path", storage, "--backup-id", "b3", "--deep"])
    # Nothing left to do: a second run plans nothing.
    again = prune(storage, "--keep-last", "1")
    assert again["objects"] == 0 and again["pruned"] == 0, again


def test_segments_a_kept_backup_references_survive_until_nothing_references_them(tmp_path, topic):
    """An incremental-style child whose manifest lists the parent's segments
    (data/parent/...) and one of its own: pruning the parent keeps those
    segments, and the child validates --deep and restores exactly. Pruning
    the child later deletes them."""
    storage = tmp_path / "store"
    backups(tmp_path, storage, topic, "parent", "other")
    parent = load_manifest(storage, "parent")
    parent_segments = segment_keys(parent)
    assert len(parent_segments) >= 6, parent_segments
    # The child: the parent's manifest under a new id, newer, listing the
    # parent's segments where they are.
    child = copy.deepcopy(parent)
    child["backup_id"] = "child"
    child["created_at_ms"] = load_manifest(storage, "other")["created_at_ms"] + 1
    child["completed_at_ms"] = child["created_at_ms"] + 1
    (storage / "manifests" / "child.json").write_text(json.dumps(child))
    cli_ok(["validate", "--path", storage, "--backup-id", "child", "--deep"])

    plan = prune(storage, "--keep-last", "1")  # keeps the child only
    got = decisions(plan)
    assert got["child"][0] == "keep" and got["parent"][0] == "prune" and got["other"][0] == "prune", plan
    entry = next(b for b in plan["backups"] if b["backup_id"] == "parent")
    assert entry["referenced_objects"] == len(parent_segments), entry
    assert entry["objects"] == 2, entry  # its manifest and run status
    assert plan["referenced_objects"] == len(parent_segments)
    left = objects(storage)
    assert "manifests/parent.json" not in left and "status/parent.json" not in left
    assert all(k in left for k in parent_segments), "a segment the kept child lists was deleted"
    assert not any(k.startswith("data/other/") for k in left), "the other pruned backup's segments stayed"

    cli_ok(["validate", "--path", storage, "--backup-id", "child", "--deep"])
    restored = f"{topic}-child"
    run_restore(tmp_path, restore_config(storage, backup_id="child", topic_mapping={topic: restored}))
    src, dst = parallel(lambda: dump(topic, SOURCE), lambda: dump(restored, TARGET))
    assert_same_records(src, dst, what=restored)

    # A newer backup; pruning the child leaves the parent's segments to nobody:
    # they are an orphan's now, and go.
    backups(tmp_path, storage, topic, "newest")
    sweep = prune(storage, "--keep-last", "1")
    got = decisions(sweep)
    assert got["child"] == ("prune", ["no rule keeps it"]), sweep
    assert got["parent"] == ("prune", ["no manifest and no checkpoint journal"]), sweep
    orphan = next(b for b in sweep["backups"] if b["backup_id"] == "parent")
    assert orphan["state"] == "orphan" and orphan["objects"] >= len(parent_segments), orphan
    left = objects(storage)
    assert not any(k.startswith(("data/parent/", "data/child/", "data/other/")) for k in left), sorted(left)
    assert {k.split("/")[1] for k in left if k.startswith("data/")} == {"newest"}
    cli_ok(["validate", "--path", storage, "--backup-id", "newest", "--deep"])


def test_orphans_are_swept_and_partial_and_continuous_backups_are_never_pruned(tmp_path, topic):
    storage = tmp_path / "store"
    backups(tmp_path, storage, topic, "old", "new")
    old = load_manifest(storage, "old")

    # An orphan: segments and a run status with no manifest and no journal
    # (what a prune or a run that stopped half way leaves).
    for key in segment_keys(old)[:3]:
        dest = storage / key.replace("data/old/", "data/crashed/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(storage / key, dest)
    shutil.copy(storage / "status" / "old.json", storage / "status" / "crashed.json")

    # A partial backup: only a checkpoint journal (a base entry, as a run
    # writes first), naming its own copies of the segments.
    partial = copy.deepcopy(old)
    partial["backup_id"] = "partial"
    for t in partial["topics"]:
        for p in t["partitions"]:
            for s in p["segments"]:
                new_key = s["key"].replace("data/old/", "data/partial/")
                (storage / new_key).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(storage / s["key"], storage / new_key)
                s["key"] = new_key
    entry = {"format": "kafka-backup-checkpoint", "format_version": 1, "backup_id": "partial", "sequence": 0,
             "written_at_ms": partial["created_at_ms"], "continuous": False, "manifest": partial, "cuts": [], "partitions": []}
    (storage / "checkpoints" / "partial").mkdir(parents=True)
    (storage / "checkpoints" / "partial" / "0000000000.json").write_text(json.dumps(entry))

    # A continuous backup, run for real and stopped.
    cont_cfg = write_config(tmp_path, backup_config(storage, [topic], backup_id="cont", continuous=True,
                                                    checkpoint_interval_secs=1, segment_max_records=10), "cont.yaml")
    proc = start(cont_cfg)
    try:
        wait_for_records(str(storage), "cont", 60, proc)
    finally:
        rc, _, err = stop(proc)
    assert rc == 0, err[-2000:]

    states = {b["backup_id"]: b["state"] for b in
              json_output(run_cli(["list", "--path", storage, "--format", "json"]), "list")["backups"]}
    assert states == {"old": "committed", "new": "committed", "partial": "partial", "cont": "continuous"}, states
    protected = {k: v for k, v in objects(storage).items()
                 if k.startswith(("data/partial/", "checkpoints/partial/", "data/cont/", "checkpoints/cont/"))}

    # min_keep 0 and a max_age every backup exceeds: still only the committed
    # ones and the orphan go.
    time.sleep(1.1)
    doc = prune(storage, "--max-age", "1s", "--min-keep", "0")
    got = decisions(doc)
    assert got["partial"] == ("keep", ["partial backup (never pruned; what it references is kept)"]), doc
    assert got["cont"] == ("keep", ["continuous backup (never pruned; what it references is kept)"]), doc
    assert got["old"] == ("prune", ["older than max_age 1s"]) and got["new"][0] == "prune", doc
    assert got["crashed"] == ("prune", ["no manifest and no checkpoint journal"]), doc
    crashed = next(b for b in doc["backups"] if b["backup_id"] == "crashed")
    assert crashed["state"] == "orphan" and crashed["created_at"] == "-" and crashed["objects"] == 4, crashed

    left = objects(storage)
    assert not any(k.startswith(("data/crashed/", "data/old/", "data/new/")) for k in left), sorted(left)
    assert "status/crashed.json" not in left
    assert {k: v for k, v in left.items() if k in protected} == protected, "a partial or continuous backup lost objects"
    assert all(k in left for k in protected)
    for backup_id in ("partial", "cont"):
        cli_ok(["validate", "--path", storage, "--backup-id", backup_id, "--deep"])


def test_max_age_min_keep_and_backup_prefix_from_the_config_and_the_flags(tmp_path, topic):
    storage = tmp_path / "store"
    backups(tmp_path, storage, topic, "manual-1", "nightly-1", "nightly-2")
    time.sleep(1.1)
    cfg = write_config(tmp_path, {"storage": {"path": str(storage)},
                                  "retention": {"max_age": "1s", "backup_prefix": "nightly-"}}, "retention.yaml")
    plan = json_output(run_cli(["prune", "--config", cfg, "--dry-run", "--format", "json"]), "prune")
    assert plan["policy"]["max_age_secs"] == 1 and plan["policy"]["backup_prefix"] == "nightly-", plan["policy"]
    assert decisions(plan) == {
        "nightly-2": ("keep", ["min_keep 1"]),  # the newest candidate, though older than max_age
        "nightly-1": ("prune", ["older than max_age 1s"]),
        "manual-1": ("keep", ["id does not start with backup_prefix 'nightly-'"]),
    }, plan
    # Flags override the config: a longer max_age keeps both.
    plan = json_output(run_cli(["prune", "--config", cfg, "--max-age", "1h", "--dry-run", "--format", "json"]), "prune")
    assert decisions(plan)["nightly-1"] == ("keep", ["within max_age 1h"]), plan
    assert decisions(plan)["nightly-2"] == ("keep", ["within max_age 1h", "min_keep 1"]), plan
    # --min-keep 0 lets every candidate go; the other prefix stays.
    done = json_output(run_cli(["prune", "--config", cfg, "--min-keep", "0", "--format", "json"]), "prune")
    assert done["pruned"] == 2 and done["dry_run"] is False, done
    listed = json_output(run_cli(["list", "--path", storage, "--format", "json"]), "list")
    assert [b["backup_id"] for b in listed["backups"]] == ["manual-1"]
    cli_ok(["validate", "--path", storage, "--backup-id", "manual-1", "--deep"])


def test_prune_on_s3(tmp_path, topic, s3_server):
    """Two backups in S3: the dry run deletes nothing, the real run deletes
    every object of the older one through the S3 API (a second run finds no
    orphan) and the newer one still validates --deep."""
    ensure_bucket()
    prefix = f"prune/{topic}"
    url = f"s3://{BUCKET}/{prefix}?endpoint={s3_server}"
    env = s3_env()
    for backup_id in ("s3-old", "s3-new"):
        cfg = backup_config("unused", [topic], backup_id=backup_id, segment_max_records=10)
        cfg["storage"] = s3_storage(prefix)
        cli_ok(["backup", "--config", write_config(tmp_path, cfg, f"{backup_id}.yaml")], env=env)
        time.sleep(0.01)
    plan = prune(url, "--keep-last", "1", "--dry-run", env=env)
    assert decisions(plan)["s3-old"][0] == "prune" and plan["objects"] >= 8, plan
    cli_ok(["validate", "--path", url, "--backup-id", "s3-old"], env=env)  # the dry run deleted nothing

    done = prune(url, "--keep-last", "1", env=env)
    assert done["objects"] == plan["objects"] and done["bytes"] == plan["bytes"], (plan, done)
    assert_error(run_cli(["validate", "--path", url, "--backup-id", "s3-old"], env=env), EXIT_NOT_FOUND, "s3-old")
    # Every object of the pruned backup is gone: a second prune finds no orphan.
    again = prune(url, "--keep-last", "1", env=env)
    assert again["objects"] == 0 and again["orphans"] == 0, again
    cli_ok(["validate", "--path", url, "--backup-id", "s3-new", "--deep"], env=env)


def test_a_backup_whose_run_status_is_fresh_and_running_is_left_alone(tmp_path, topic):
    """A committed backup whose run is still finishing (status 'running',
    updated just now) is no candidate; once the status is stale it is."""
    storage = tmp_path / "store"
    backups(tmp_path, storage, topic, "finishing", "newer")
    status_path = storage / "status" / "finishing.json"
    status = json.loads(status_path.read_text())
    status.update(state="running", finished_at_ms=0, updated_at_ms=int(time.time() * 1000), update_interval_secs=30,
                  host="another-host")
    status_path.write_text(json.dumps(status))
    doc = prune(storage, "--keep-last", "1", "--dry-run")
    assert decisions(doc)["finishing"] == ("keep", ["a run is writing it (fresh run status)"]), doc
    status["updated_at_ms"] -= 10 * 60 * 1000  # silent for 10 minutes: stale (2 x 30 s + 60 s)
    status_path.write_text(json.dumps(status))
    doc = prune(storage, "--keep-last", "1", "--dry-run")
    assert decisions(doc)["finishing"] == ("prune", ["no rule keeps it"]), doc
