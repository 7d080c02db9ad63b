"""Every `--format json` output validates against its JSON Schema in
docs/schemas/ (draft 2020-12): each command and variant is run for real
(against the clusters and storage) and its output checked, including the
outputs of failing runs that still print JSON (validate finding problems,
validate-restore failing a check). A command whose --help offers
`--format json` without a schema fails the coverage test."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from conftest import (EXIT_AUTH, EXIT_BAD_INPUT, EXIT_CORRUPT, EXIT_NOT_FOUND, EXIT_UNAVAILABLE, ROOT, CliResult,
                      backup_config, cli_ok, commit_offsets, create_topic, manifest_path, produce, rec, restore_config,
                      run_backup, run_cli, s3_env, segment_files, unique, write_config)
from helpers.schemas import assert_valid, json_output, violations
from helpers.segments import segment_index

SCHEMA_DIR = ROOT / "docs" / "schemas"

# Commands that print the same document as another: they share its schema.
# Any other command's schema is docs/schemas/<command, spaces as '-'>.schema.json.
SHARED_SCHEMA = {
    "three-phase-restore": "restore",
    "offset-reset plan": "offset-reset",
    "offset-reset execute": "offset-reset",
}
# Commands that take --format json but print no JSON, and why.
NOT_JSON: dict[str, str] = {}

BASE_TS = 1_700_000_000_000


# ------------------------------------------------------------------ helpers


def subcommands(path: list[str]) -> list[str]:
    """The subcommand names `kafka-backup <path> --help` lists."""
    _, _, listing = cli_ok([*path, "--help"]).stdout.partition("\nSubcommands:\n")
    names = []
    for line in listing.splitlines():
        if not line.strip():
            break
        if m := re.match(r"  (\S+)", line):      # a wrapped description is indented further
            names.append(m.group(1))
    return names


def json_commands() -> set[str]:
    """Every (sub)command whose --help offers `--format ...json...`, e.g. "offset-reset plan";
    a command with subcommands may run itself too ("drill", "drill verify")."""
    out = set()
    pending = [[c] for c in subcommands([])]
    while pending:
        path = pending.pop(0)
        pending += [path + [c] for c in subcommands(path)]
        m = re.search(r"--format TEXT:\{([^}]*)\}", cli_ok([*path, "--help"]).stdout)
        if m and "json" in m.group(1).split(","):
            out.add(" ".join(path))
    return out


# ----------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A 3-partition topic (partition 2 empty, one non-default config) with a
    consumer group's offsets, two backups of it, and a three-phase restore
    ("dr") of the first into <topic>-dr with the exact group strategy."""
    tmp = tmp_path_factory.mktemp("schemas")
    topic, group = unique("schemas"), unique("schemas-group")
    create_topic(topic, 3, configs={"max.message.bytes": "2000000"})
    produce(topic, [rec(p, f"k{p}-{i}", f"value {p}/{i}", headers=[("h", str(i))], timestamp=BASE_TS + i)
                    for p in range(2) for i in range(6)])
    commit_offsets(group, topic, {0: 2, 1: 6})
    storage = tmp / "store"
    first = run_backup(tmp, backup_config(storage, [topic], backup_id="schemas-a"), name="a.yaml")
    run_backup(tmp, backup_config(storage, [topic], backup_id="schemas-b", compression="lz4"), name="b.yaml")
    restore = restore_config(storage, backup_id="schemas-a", topic_mapping={topic: f"{topic}-dr"},
                             consumer_group_strategy="exact", consumer_groups=[group], restore_id="dr")
    restore_path = write_config(tmp, restore, "three-phase.yaml")
    three_phase = cli_ok(["three-phase-restore", "--config", restore_path, "--format", "json"])
    return {"tmp": tmp, "topic": topic, "group": group, "storage": storage, "backup": first,
            "restore_config": restore, "restore_path": restore_path, "three_phase": three_phase}


def store_copy(world: dict, tmp_path: Path) -> Path:
    """A private copy of the store, to damage."""
    dest = tmp_path / "store"
    shutil.copytree(world["storage"], dest)
    return dest


# ------------------------------------------------------------------- schemas

def test_every_schema_is_a_valid_draft_2020_12_schema():
    """Each file in docs/schemas/ declares draft 2020-12 and passes its metaschema."""
    schemas = sorted(SCHEMA_DIR.glob("*.schema.json"))
    assert schemas, f"no schemas in {SCHEMA_DIR}"
    for path in schemas:
        schema = json.loads(path.read_text())
        assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema", path.name
        Draft202012Validator.check_schema(schema)


def test_every_json_output_has_a_schema_and_every_schema_an_output():
    """Walks `--help` of every (sub)command: one offering `--format json`
    needs docs/schemas/<command>.schema.json (or an entry in SHARED_SCHEMA),
    listed in docs/schemas/README.md; no schema is left without a command."""
    commands = json_commands()
    assert "list" in commands and "validate" in commands, sorted(commands)
    readme = (SCHEMA_DIR / "README.md").read_text()
    used = set()
    missing = []
    for command in sorted(commands):
        if command in NOT_JSON:
            continue
        name = SHARED_SCHEMA.get(command, command.replace(" ", "-"))
        used.add(name)
        if not (SCHEMA_DIR / f"{name}.schema.json").is_file():
            missing.append(f"`{command} --format json` has no docs/schemas/{name}.schema.json")
    assert not missing, "\n".join(missing) + "\n(add the schema, a test of real output here, and a README entry)"
    for command, why in NOT_JSON.items():
        assert command in commands, f"`{command}` no longer offers --format json: drop it from NOT_JSON ({why})"
    stale = set(SHARED_SCHEMA) - commands
    assert not stale, f"SHARED_SCHEMA names commands that offer no --format json: {sorted(stale)}"
    files = {p.name.removesuffix(".schema.json") for p in SCHEMA_DIR.glob("*.schema.json")}
    assert files <= used, f"schemas without a command offering --format json: {sorted(files - used)}"
    for name in sorted(files):
        assert f"{name}.schema.json" in readme, f"docs/schemas/README.md does not list {name}.schema.json"


def test_a_schema_violation_is_reported(world):
    """The check itself has teeth: a wrong type, a missing field, a value out
    of its enum and a broken invariant are each rejected."""
    doc = cli_ok(["validate", "--path", world["storage"], "--backup-id", "schemas-a", "--format", "json"]).json()
    assert_valid("validate", doc)
    for broken in (dict(doc, records_checked=1.5), {k: v for k, v in doc.items() if k != "issues"},
                   dict(doc, ok="yes"), dict(doc, ok=False), dict(doc, backup_id="latest")):
        assert violations("validate", broken), f"accepted {broken}"
    report = world["three_phase"].json()
    assert violations("restore", dict(report, consumer_group_strategy="sometimes"))
    assert violations("restore", dict(report, dry_run=True))     # a dry run stores no offset map


# ------------------------------------------------------------ backup, list

def test_backup(world):
    """The summary of the fixture's backup."""
    doc = assert_valid("backup", world["backup"], "backup")
    assert doc["backup_id"] == "schemas-a" and doc["records"] == 12 and doc["partitions"] == 3


def test_list_of_an_empty_store(tmp_path):
    """An existing directory without backups: an empty list."""
    empty = tmp_path / "empty"
    empty.mkdir()
    doc = json_output(run_cli(["list", "--path", empty, "--format", "json"]), "list")
    assert doc["backups"] == []


def test_list_of_a_store_with_backups(world):
    """Two backups, oldest first."""
    doc = json_output(run_cli(["list", "--path", world["storage"], "--format", "json"]), "list")
    assert [b["backup_id"] for b in doc["backups"]] == ["schemas-a", "schemas-b"]


# --------------------------------------------------------------- describe

def test_describe(world):
    """A topic with a non-default config and an empty partition (null timestamps)."""
    doc = json_output(run_cli(["describe", "--path", world["storage"], "--backup-id", "schemas-a",
                               "--format", "json"]), "describe")
    (topic,) = doc["topics"]
    assert topic["configs"].get("max.message.bytes") == "2000000", topic["configs"]
    empty = [p for p in topic["partitions"] if p["partition"] == 2]
    assert empty and empty[0]["min_timestamp"] is None, topic["partitions"]


def test_describe_of_an_lz4_backup(world):
    """'latest' (the default) is the lz4 backup."""
    doc = json_output(run_cli(["describe", "--path", world["storage"], "--format", "json"]), "describe")
    assert doc["backup_id"] == "schemas-b" and doc["compression"] == "lz4"


# --------------------------------------------------------------- validate

@pytest.mark.parametrize("deep", [False, True], ids=["shallow", "deep"])
def test_validate_passing(world, deep):
    """A sound backup, shallow and deep: ok, no issues, exit 0."""
    args = ["validate", "--path", world["storage"], "--backup-id", "schemas-a", "--format", "json"]
    doc = json_output(run_cli(args + (["--deep"] if deep else [])), "validate")
    assert doc["ok"] is True and doc["deep"] is deep


def test_validate_shallow_finding_a_missing_segment(world, tmp_path):
    """A deleted segment: one issue naming it, exit 4."""
    storage = store_copy(world, tmp_path)
    gone = segment_files(storage, "schemas-a")[0]
    gone.unlink()
    r = run_cli(["validate", "--path", storage, "--backup-id", "schemas-a", "--format", "json"])
    doc = json_output(r, "validate", EXIT_CORRUPT)
    assert [i["object"] for i in doc["issues"]] == [gone.relative_to(storage).as_posix()], doc["issues"]


def test_validate_deep_finding_a_flipped_byte(world, tmp_path):
    """A flipped byte in a block's payload: an issue naming the segment, exit 4."""
    storage = store_copy(world, tmp_path)
    seg = segment_files(storage, "schemas-a")[0]
    data = bytearray(seg.read_bytes())
    pos, size = segment_index(bytes(data))[2][0][:2]
    data[pos + size - 2] ^= 0x5A                  # in the block's payload
    seg.write_bytes(bytes(data))
    r = run_cli(["validate", "--path", storage, "--backup-id", "schemas-a", "--deep", "--format", "json"])
    doc = json_output(r, "validate", EXIT_CORRUPT)
    assert doc["issues"] and doc["issues"][0]["object"] == seg.relative_to(storage).as_posix(), doc["issues"]


def test_validate_finding_manifest_inconsistencies(world, tmp_path):
    """A topic whose partition list is short and a partition whose count
    disagrees with its segments: two issues on the manifest, for the topic
    (partition -1) and for partition 0; exit 4."""
    storage = store_copy(world, tmp_path)
    path = manifest_path(storage, "schemas-a")
    manifest = json.loads(path.read_text())
    partitions = manifest["topics"][0]["partitions"]
    partitions[0]["record_count"] += 1
    del partitions[2]
    path.write_text(json.dumps(manifest))
    r = run_cli(["validate", "--path", storage, "--backup-id", "schemas-a", "--format", "json"])
    doc = json_output(r, "validate", EXIT_CORRUPT)
    assert {(i["partition"], i["object"]) for i in doc["issues"]} == {(-1, "manifest"), (0, "manifest")}, doc


# ------------------------------------------------------- validate-restore

def preflight(world: dict, tmp_path: Path, name: str, **opts) -> CliResult:
    """validate-restore --format json of the "dr" restore's config with opts over its restore section."""
    cfg = copy.deepcopy(world["restore_config"])
    cfg["restore"].update(opts)
    return run_cli(["validate-restore", "--config", write_config(tmp_path, cfg, name), "--format", "json"])


def test_validate_restore_passing(world, tmp_path):
    """Into a topic that does not exist yet: every check passes, exit 0."""
    r = preflight(world, tmp_path, "new.yaml", topic_mapping={world["topic"]: world["topic"] + "-fresh"},
                  restore_id="fresh")
    doc = json_output(r, "validate-restore")
    assert doc["ok"] is True and doc["backup_id"] == "schemas-a"


def test_validate_restore_failing_a_check(world, tmp_path):
    """The target topic holds the "dr" restore's data: another restore id would mix with it (exit 2)."""
    doc = json_output(preflight(world, tmp_path, "other.yaml", restore_id="other"), "validate-restore",
                      EXIT_BAD_INPUT)
    failed = [c["name"] for c in doc["checks"] if not c["ok"]]
    assert failed == ["restore plan"], doc


def test_validate_restore_with_an_empty_time_window(world, tmp_path):
    """A time window holding no record fails its check; exit 2."""
    r = preflight(world, tmp_path, "window.yaml", topic_mapping={world["topic"]: world["topic"] + "-win"},
                  restore_id="win", time_window_start=1, time_window_end=2)
    doc = json_output(r, "validate-restore", EXIT_BAD_INPUT)
    assert "time window" in [c["name"] for c in doc["checks"] if not c["ok"]], doc


def test_validate_restore_of_an_unknown_backup(world, tmp_path):
    """The backup check fails and the backup id is empty; exit 3."""
    cfg = copy.deepcopy(world["restore_config"])
    cfg["backup_id"] = "no-such-backup"
    r = run_cli(["validate-restore", "--config", write_config(tmp_path, cfg), "--format", "json"])
    doc = json_output(r, "validate-restore", EXIT_NOT_FOUND)
    assert doc["backup_id"] == "" and doc["checks"][-1]["name"] == "backup", doc


def test_validate_restore_with_an_unreachable_target(world, tmp_path):
    """The restore plan check fails; exit 5."""
    cfg = copy.deepcopy(world["restore_config"])
    cfg["target"] = {"bootstrap_servers": ["127.0.0.1:1"], "connect_timeout_secs": 2}
    r = run_cli(["validate-restore", "--config", write_config(tmp_path, cfg), "--format", "json"], timeout=60)
    doc = json_output(r, "validate-restore", EXIT_UNAVAILABLE)
    assert doc["checks"][-1]["name"] == "restore plan" and not doc["checks"][-1]["ok"], doc


def test_validate_restore_with_refused_storage_credentials(world, tmp_path, s3_server):
    """A wrong S3 secret: the backup check (the first to read the store) fails; exit 6."""
    storage = {"backend": "s3", "bucket": "kb-schemas", "region": "us-east-1", "prefix": "p", "endpoint": s3_server}
    cfg = copy.deepcopy(world["restore_config"])
    cfg["storage"] = storage
    r = run_cli(["validate-restore", "--config", write_config(tmp_path, cfg), "--format", "json"],
                env=s3_env(secret="not-the-secret"), timeout=60)
    doc = json_output(r, "validate-restore", EXIT_AUTH)
    last = doc["checks"][-1]
    assert last["name"] == "backup" and not last["ok"] and "SignatureDoesNotMatch" in last["detail"], doc


# ----------------------------------------------------------------- restore

def test_three_phase_restore(world):
    """The fixture's restore: an offset map and group positions, not committed."""
    doc = assert_valid("restore", world["three_phase"].json(), "three-phase-restore")
    assert doc["offset_map"] == "restores/schemas-a/dr/offset-map.json"
    assert doc["consumer_group_offsets"] and not doc["consumer_group_offsets_committed"], doc


def test_restore_dry_run(world, tmp_path):
    """--dry-run: the topic would be created, no offset map, no positions."""
    cfg = copy.deepcopy(world["restore_config"])
    cfg["restore"]["topic_mapping"] = {world["topic"]: world["topic"] + "-dry"}
    r = run_cli(["restore", "--config", write_config(tmp_path, cfg), "--dry-run", "--format", "json"])
    doc = json_output(r, "restore")
    assert doc["dry_run"] is True and doc["topics"][0]["created"] is True and doc["records"] == 12, doc


def test_restore_committing_group_offsets(world, tmp_path):
    """reset_consumer_offsets: positions for both partitions, committed."""
    cfg = copy.deepcopy(world["restore_config"])
    cfg["restore"].update(topic_mapping={world["topic"]: world["topic"] + "-committed"}, restore_id="committed",
                          reset_consumer_offsets=True)
    doc = json_output(run_cli(["restore", "--config", write_config(tmp_path, cfg), "--format", "json"]), "restore")
    assert doc["consumer_group_offsets_committed"] is True and len(doc["consumer_group_offsets"]) == 2, doc


def test_restore_skipping_groups(world, tmp_path):
    """The default strategy, skip: no positions."""
    cfg = restore_config(world["storage"], backup_id="schemas-b",
                         topic_mapping={world["topic"]: world["topic"] + "-skip"})
    doc = json_output(run_cli(["restore", "--config", write_config(tmp_path, cfg), "--format", "json"]), "restore")
    assert doc["consumer_group_strategy"] == "skip" and doc["consumer_group_offsets"] == [], doc


# ---------------------------------------------------------- offset tools

def test_show_offset_mapping(world):
    """The offset map of restore "dr"."""
    r = run_cli(["show-offset-mapping", "--path", world["storage"], "--backup-id", "schemas-a", "--restore-id", "dr",
                 "--format", "json"])
    doc = json_output(r, "show-offset-mapping")
    assert [t["target_topic"] for t in doc["topics"]] == [world["topic"] + "-dr"], doc


def test_offset_reset_and_rollback(world):
    """plan, execute, rollback --dry-run and rollback of restore "dr", in that
    order (execute takes the snapshot that rollback puts back)."""
    args = ["--config", world["restore_path"], "--restore-id", "dr", "--format", "json"]
    plan = json_output(run_cli(["offset-reset", "plan", *args]), "offset-reset")
    assert plan["entries"] and all(e["current"] is None for e in plan["entries"]), plan
    done = json_output(run_cli(["offset-reset", "execute", *args]), "offset-reset")
    assert done["entries"] == plan["entries"]
    assert "snapshot_id" in done and "snapshot_id" not in plan, (done, plan)
    dry = json_output(run_cli(["offset-rollback", *args, "--snapshot", done["snapshot_id"], "--dry-run"]),
                      "offset-rollback")
    assert dry["entries"] and all(e["new"] is None and e["current"] is not None for e in dry["entries"]), dry
    back = json_output(run_cli(["offset-rollback", *args]), "offset-rollback")
    assert back["entries"] == dry["entries"]


# ------------------------------------------------------------------ prune

@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "real"])
def test_prune(world, tmp_path, dry_run):
    """On a copy of the store: schemas-b kept (last 1), schemas-a pruned with
    its segments, run status and restore "dr"; an orphan's segment swept."""
    storage = store_copy(world, tmp_path)
    orphan = storage / "data" / "crashed" / "t" / "0" / "00000000000000000000.kbseg"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left by a run that died")
    args = ["prune", "--path", storage, "--keep-last", "1", "--format", "json"]
    doc = json_output(run_cli(args + (["--dry-run"] if dry_run else [])), "prune")
    actions = {b["backup_id"]: (b["state"], b["action"]) for b in doc["backups"]}
    assert actions == {"schemas-b": ("committed", "keep"), "schemas-a": ("committed", "prune"),
                       "crashed": ("orphan", "prune")}, doc
    assert doc["dry_run"] is dry_run and doc["pruned"] == 1 and doc["orphans"] == 1, doc
    assert any(p.is_file() for p in (storage / "restores" / "schemas-a").rglob("*")) is dry_run
