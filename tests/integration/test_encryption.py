"""Encryption at rest (docs/format/segment.md, "Encryption"; docs/config.md,
"encryption").

A real topic is backed up encrypted to a filesystem path and restored into the
target cluster:
- the restored records equal the source's;
- no stored byte (every file under the storage directory) holds a key, value
  or header value produced, with compression none as well as zstd;
- no log line (debug level), manifest, describe output (text and JSON) or
  --help text holds the key, in hex or base64;
- without the key, or with another, restore and validate --deep fail with a
  clear error and exit 2 (no key) or 6 (wrong key); a malformed key names its
  file and never its text;
- a flipped bit in a block's ciphertext, with the block CRC recomputed so only
  the authentication tag can tell, and a flipped bit in a segment's wrapped
  data key (header CRC recomputed) are reported by validate --deep naming the
  object and byte position; restore refuses (4) unless --skip-corrupt;
- a continuous backup (checkpoints only, no manifest) records its encryption
  in its journal: describe shows it, restore needs the key, and a resumed run
  without the key is refused;
- the same on S3 (the local s3proxy keeps objects as files, which are searched).
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import signal
import string
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (EXIT_AUTH, EXIT_BAD_INPUT, EXIT_CORRUPT, EXIT_OK, TARGET, assert_error, assert_same_records,
                      backup_config, binary, cli_ok, create_topic, dump, manifest_path, produce, rec, restore_config,
                      run_cli, s3_env, segment_files, unique, write_config)
from helpers.schemas import assert_valid
from helpers.storage import BUCKET, ensure_bucket, s3_storage
from helpers.segments import Segment

RECORDS = {0: 600, 1: 400}
KEY_ENV = "KB_TEST_ENCRYPTION_KEY"
DEFAULT_ENV = "KAFKA_BACKUP_ENCRYPTION_KEY"


def marker(rng: random.Random, what: str, i: int) -> str:
    """A distinctive value no compressor or coincidence produces: a prefix and
    24 random letters and digits."""
    return f"{what}{i}:" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(24))


# ----------------------------------------------------------------- fixture

@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A 2-partition topic of records whose keys, values and header values
    are random markers; a key (file, hex) and backups "plain-none" (codec
    none, key from the file) and "zstd" (key from an environment variable,
    base64)."""
    tmp = tmp_path_factory.mktemp("encryption")
    rng = random.Random(20261126)
    topic = unique("encrypted")
    create_topic(topic, 2)
    secrets = []
    records = []
    for p in (0, 1):
        for i in range(RECORDS[p]):
            k, v, h = marker(rng, "K", i), marker(rng, "V", i), marker(rng, "H", i)
            secrets += [k, v, h]
            records.append(rec(p, k, v, headers=[("trace", h)], timestamp=1_700_000_000_000 + i))
    produce(topic, records)

    key = bytes(rng.getrandbits(8) for _ in range(32))
    key_file = tmp / "backup.key"
    key_file.write_text(key.hex() + "\n")
    env = {KEY_ENV: base64.b64encode(key).decode()}
    storage = tmp / "store"
    logs = []
    for backup_id, opts, extra_env in (("none", {"compression": "none", "block_size_bytes": 4096}, {}),
                                       ("zstd", {"compression": "zstd"}, env)):
        cfg = backup_config(storage, [topic], backup_id=backup_id, segment_max_records=250, **opts)
        cfg["encryption"] = {"key_file": str(key_file)} if backup_id == "none" else {"key_env": KEY_ENV}
        path = write_config(tmp, cfg, f"backup-{backup_id}.yaml")
        r = cli_ok(["--log-level", "debug", "backup", "--config", path, "--format", "json"], env=extra_env,
                   unset=[DEFAULT_ENV])
        logs += [r.stdout, r.stderr]
    return {"tmp": tmp, "topic": topic, "storage": storage, "key": key, "key_file": key_file, "env": env,
            "secrets": secrets, "logs": logs}


def key_forms(key: bytes) -> list[bytes]:
    """Every way the key might leak: raw, hex (both cases), base64 (with and
    without padding, URL-safe)."""
    b64 = base64.b64encode(key)
    return [key, key.hex().encode(), key.hex().upper().encode(), b64, b64.rstrip(b"="),
            base64.urlsafe_b64encode(key).rstrip(b"=")]


def restore(world: dict, tmp_path: Path, backup_id: str, *extra: str, env: dict | None = None, **opts):
    target = unique(f"{world['topic']}-{backup_id}")
    cfg = restore_config(world["storage"], backup_id=backup_id, topic_mapping={world["topic"]: target}, **opts)
    r = run_cli(["restore", "--config", write_config(tmp_path, cfg, f"restore-{backup_id}.yaml"), "--format", "json",
                 *extra], env=env, unset=[] if env and DEFAULT_ENV in env else [DEFAULT_ENV])
    return r, target


def other_key_file(tmp_path: Path) -> Path:
    path = tmp_path / "other.key"
    path.write_text(bytes(range(100, 132)).hex())
    return path


# ------------------------------------------------------------------ round trip

@pytest.mark.parametrize("backup_id", ["none", "zstd"])
def test_encrypted_backup_restores_every_record(world, tmp_path, backup_id):
    r, target = restore(world, tmp_path, backup_id, "--encryption-key-file", world["key_file"])
    assert r.rc == EXIT_OK, r.describe()
    assert_same_records(dump(world["topic"]), dump(target, TARGET), what=backup_id)


def test_key_from_the_default_environment_variable_reads_the_backup(world):
    r = run_cli(["validate", "--path", world["storage"], "--backup-id", "zstd", "--deep", "--format", "json"],
                env={DEFAULT_ENV: world["env"][KEY_ENV]})
    assert r.rc == EXIT_OK, r.describe()
    assert r.json()["records_checked"] == sum(RECORDS.values())


def test_manifest_records_the_algorithm_and_key_id(world):
    for backup_id in ("none", "zstd"):
        manifest = manifest_path(world["storage"], backup_id).read_text()
        enc = json.loads(manifest)["encryption"]
        assert enc["algorithm"] == "AES-256-GCM"
        assert len(enc["key_id"]) == 16 and all(c in "0123456789abcdef" for c in enc["key_id"])
    text = cli_ok(["describe", "--path", world["storage"], "--backup-id", "none"]).stdout
    assert f"encryption:      AES-256-GCM (key id {enc['key_id']})" in text, text
    doc = cli_ok(["describe", "--path", world["storage"], "--backup-id", "none", "--format", "json"]).json()
    assert assert_valid("describe", doc)["encryption"] == enc


# ------------------------------------------------------------- no plaintext

def test_stored_bytes_hold_no_record_content(world):
    files = [p for p in Path(world["storage"]).rglob("*") if p.is_file()]
    assert len(segment_files(world["storage"])) >= 8, files
    needles = [s.encode() for s in world["secrets"]]
    found = []
    for f in files:
        data = f.read_bytes()
        found += [(f.name, n) for n in needles if n in data]
    assert not found, f"plaintext in stored bytes: {found[:5]}"
    # The check itself works: the same markers are in the clear in an
    # unencrypted segment of the same topic.
    plain = Path(world["tmp"]) / "plain-store"
    path = write_config(world["tmp"], backup_config(plain, [world["topic"]], backup_id="plain", compression="none"),
                        "plain.yaml")
    cli_ok(["backup", "--config", path])
    data = b"".join(p.read_bytes() for p in segment_files(plain))
    assert all(n in data for n in needles[:30])


def test_no_key_in_logs_manifests_describe_or_help(world, tmp_path):
    outputs = list(world["logs"])
    storage = world["storage"]
    for backup_id in ("none", "zstd"):
        for fmt in ("text", "json"):
            outputs.append(cli_ok(["describe", "--path", storage, "--backup-id", backup_id, "--format", fmt]).stdout)
        r = cli_ok(["--log-level", "debug", "validate", "--path", storage, "--backup-id", backup_id, "--deep",
                    "--encryption-key-file", world["key_file"]])
        outputs += [r.stdout, r.stderr]
    r, _ = restore(world, tmp_path, "none", "--encryption-key-file", world["key_file"])
    outputs += [r.stdout, r.stderr]
    outputs.append(cli_ok(["list", "--path", storage, "--format", "json"]).stdout)
    for cmd in ([], ["backup"], ["restore"], ["validate"], ["describe"]):
        outputs.append(cli_ok([*cmd, "--help"]).stdout)
    # Every stored file that is not a segment: manifests, checkpoints, run status.
    for p in Path(storage).rglob("*"):
        if p.is_file() and p.suffix != ".kbseg":
            outputs.append(p.read_text(errors="replace"))
    blob = "\n".join(outputs).encode()
    for form in key_forms(world["key"]):
        assert form not in blob, f"the key appears in the output ({form[:6]!r}...)"


def test_help_documents_the_key_flag():
    for cmd in ("backup", "restore", "validate"):
        assert "--encryption-key-file" in cli_ok([cmd, "--help"]).stdout


# ------------------------------------------------------- missing, wrong key

def test_restore_without_the_key_is_bad_input_naming_the_key_id(world, tmp_path):
    key_id = cli_ok(["describe", "--path", world["storage"], "--backup-id", "none", "--format", "json"]).json()[
        "encryption"]["key_id"]
    r, _ = restore(world, tmp_path, "none")
    assert_error(r, EXIT_BAD_INPUT, "backup none is encrypted", f"key id {key_id}", "--encryption-key-file")
    r = run_cli(["validate", "--path", world["storage"], "--backup-id", "none", "--deep"], unset=[DEFAULT_ENV])
    assert_error(r, EXIT_BAD_INPUT, "backup none is encrypted", f"key id {key_id}")
    # Without --deep nothing is decrypted: the sizes are checked without a key.
    r = run_cli(["validate", "--path", world["storage"], "--backup-id", "none"], unset=[DEFAULT_ENV])
    assert r.rc == EXIT_OK, r.describe()


def test_wrong_key_is_refused_naming_both_key_ids(world, tmp_path):
    key_id = cli_ok(["describe", "--path", world["storage"], "--backup-id", "zstd", "--format", "json"]).json()[
        "encryption"]["key_id"]
    other = other_key_file(tmp_path)
    r, target = restore(world, tmp_path, "zstd", "--encryption-key-file", other)
    line = assert_error(r, EXIT_AUTH, "is not the key backup zstd was encrypted with", f"(key id {key_id})")
    assert "the key given (id " in line
    assert bytes(range(100, 132)).hex() not in r.stderr
    r = run_cli(["validate", "--path", world["storage"], "--backup-id", "zstd", "--deep", "--encryption-key-file",
                 other], unset=[DEFAULT_ENV])
    assert_error(r, EXIT_AUTH, f"(key id {key_id})")
    # With no key given, KAFKA_BACKUP_ENCRYPTION_KEY serves.
    r, _ = restore(world, tmp_path, "zstd", env={DEFAULT_ENV: world["env"][KEY_ENV]})
    assert r.rc == EXIT_OK, r.describe()


def test_malformed_key_names_its_file_not_its_text(world, tmp_path):
    bad = tmp_path / "short.key"
    text = "00112233445566778899aabbccddeeff"  # 16 bytes
    bad.write_text(text)
    r, _ = restore(world, tmp_path, "none", "--encryption-key-file", bad)
    line = assert_error(r, EXIT_BAD_INPUT, str(bad), "64 hex digits")
    assert text not in r.stderr and text not in r.stdout, line
    r = run_cli(["validate", "--path", world["storage"], "--backup-id", "none", "--deep", "--encryption-key-file",
                 tmp_path / "missing.key"])
    assert_error(r, EXIT_BAD_INPUT, "missing.key")


def test_unset_key_variable_is_bad_input(world, tmp_path):
    cfg = backup_config(tmp_path / "s", [world["topic"]], backup_id="x")
    cfg["encryption"] = {"key_env": "KB_TEST_UNSET_KEY_VARIABLE"}
    r = run_cli(["backup", "--config", write_config(tmp_path, cfg)], unset=["KB_TEST_UNSET_KEY_VARIABLE"])
    assert_error(r, EXIT_BAD_INPUT, "KB_TEST_UNSET_KEY_VARIABLE")


# --------------------------------------------------------------- tampering


def tampered_store(world: dict, tmp_path: Path) -> tuple[Path, list[Segment]]:
    dest = tmp_path / "store"
    shutil.copytree(world["storage"], dest)
    segs = [Segment(dest, p) for p in segment_files(dest, "none")]
    assert segs and all(s.version == 2 and s.encrypted for s in segs), [(s.key, s.version) for s in segs]
    return dest, sorted(segs, key=lambda s: s.key)


def validate_deep(world: dict, storage: Path) -> dict:
    r = run_cli(["validate", "--path", storage, "--backup-id", "none", "--deep", "--format", "json",
                 "--encryption-key-file", world["key_file"]])
    assert r.rc == EXIT_CORRUPT, r.describe()
    return r.json()


def test_flipped_ciphertext_bit_with_crc_recomputed_is_reported(world, tmp_path):
    storage, segs = tampered_store(world, tmp_path)
    seg = segs[0]
    assert len(seg.blocks) >= 3
    pos = seg.tamper_block(1, 12 + 100)  # past the nonce, inside the ciphertext
    doc = validate_deep(world, storage)
    issues = doc["issues"]
    assert len(issues) == 1, issues
    issue = issues[0]
    assert issue["object"] == seg.key
    assert f"block at byte {pos}" in issue["message"] and "authentication tag" in issue["message"], issue
    assert issue["unreadable"]["position"] == pos
    assert issue["unreadable"]["first_offset"] == seg.blocks[1].first
    # restore refuses; --skip-corrupt restores the rest.
    cfg = restore_config(storage, backup_id="none", topic_mapping={world["topic"]: unique("tampered")})
    path = write_config(tmp_path, cfg, "r.yaml")
    r = run_cli(["restore", "--config", path, "--encryption-key-file", world["key_file"]])
    assert_error(r, EXIT_CORRUPT, seg.key, "authentication tag")
    r = run_cli(["restore", "--config", path, "--encryption-key-file", world["key_file"], "--skip-corrupt",
                 "--format", "json"])
    assert r.rc == EXIT_CORRUPT, r.describe()
    doc = r.json()
    assert doc["records_skipped"] == seg.blocks[1].records and doc["records"] == sum(RECORDS.values()) - doc[
        "records_skipped"], doc


def test_flipped_tag_bit_is_reported(world, tmp_path):
    storage, segs = tampered_store(world, tmp_path)
    seg = segs[-1]
    pos = seg.tamper_block(0, seg.blocks[0].size - 48 - 1)  # the last byte of the tag
    issue = validate_deep(world, storage)["issues"][0]
    assert issue["object"] == seg.key and f"block at byte {pos}" in issue["message"], issue


def test_altered_wrapped_key_loses_the_segment(world, tmp_path):
    storage, segs = tampered_store(world, tmp_path)
    seg = segs[1]
    seg.tamper_wrapped_key()
    issues = validate_deep(world, storage)["issues"]
    assert len(issues) == 1 and issues[0]["object"] == seg.key, issues
    assert "wrapped data key" in issues[0]["message"], issues
    assert issues[0]["unreadable"]["records"] == sum(b.records for b in seg.blocks)


# ------------------------------------------- checkpoints, S3 (other paths)

def test_continuous_encrypted_backup_is_read_from_its_checkpoints_with_its_key(world, tmp_path):
    """A continuous backup has no manifest: its checkpoint journal's base
    records the encryption, so describe, restore and a resumed run know."""
    topic = unique("encrypted-live")
    create_topic(topic, 2)
    rng = random.Random(7)
    values = [marker(rng, "L", i) for i in range(300)]
    produce(topic, [rec(i % 2, f"k{i}", v, timestamp=1_700_000_000_000 + i) for i, v in enumerate(values)])
    storage = tmp_path / "store"
    cfg = backup_config(storage, [topic], backup_id="live", continuous=True, checkpoint_interval_secs=1)
    cfg["encryption"] = {"key_file": str(world["key_file"])}
    path = write_config(tmp_path, cfg, "live.yaml")
    env = {k: v for k, v in os.environ.items() if k != DEFAULT_ENV}
    proc = subprocess.Popen([str(binary()), "--no-progress", "backup", "--config", str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            r = run_cli(["describe", "--path", storage, "--backup-id", "live", "--format", "json"])
            if r.rc == 0 and r.json()["records"] >= 300:
                break
            assert time.monotonic() < deadline, "the backup's checkpoints never showed 300 records"
            time.sleep(0.25)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert not (storage / "manifests").exists() or not list((storage / "manifests").iterdir())
    doc = assert_valid("describe", cli_ok(["describe", "--path", storage, "--backup-id", "live", "--format",
                                           "json"]).json())
    assert doc["state"] == "continuous" and doc["encryption"]["algorithm"] == "AES-256-GCM", doc
    key_id = doc["encryption"]["key_id"]

    # Resuming it without the key is refused before anything is written.
    plain_cfg = dict(cfg)
    del plain_cfg["encryption"]
    r = run_cli(["backup", "--config", write_config(tmp_path, plain_cfg, "live-plain.yaml")], unset=[DEFAULT_ENV])
    assert_error(r, EXIT_BAD_INPUT, "was started encrypted", f"key id {key_id}")

    target = unique("encrypted-live-restored")
    rcfg = restore_config(storage, backup_id="live", topic_mapping={topic: target})
    rpath = write_config(tmp_path, rcfg, "live-restore.yaml")
    assert_error(run_cli(["restore", "--config", rpath], unset=[DEFAULT_ENV]), EXIT_BAD_INPUT,
                 "backup live is encrypted", f"key id {key_id}")
    cli_ok(["restore", "--config", rpath, "--encryption-key-file", world["key_file"]])
    assert_same_records(dump(topic), dump(target, TARGET), what=topic)
    data = b"".join(p.read_bytes() for p in Path(storage).rglob("*") if p.is_file())
    assert not [v for v in values if v.encode() in data]


def test_encrypted_backup_on_s3_round_trips_and_stores_no_plaintext(world, tmp_path, s3_server):
    ensure_bucket()
    prefix = unique("encrypted")
    env = {**s3_env(), KEY_ENV: world["env"][KEY_ENV]}
    env.pop(DEFAULT_ENV, None)
    cfg = backup_config("unused", [world["topic"]], backup_id="s3", compression="none")
    cfg["storage"] = s3_storage(prefix)
    cfg["encryption"] = {"key_env": KEY_ENV}
    cli_ok(["backup", "--config", write_config(tmp_path, cfg, "s3.yaml")], env=env)
    target = unique(f"{world['topic']}-s3")
    rcfg = restore_config("unused", backup_id="s3", topic_mapping={world["topic"]: target})
    rcfg["storage"] = s3_storage(prefix)
    rpath = write_config(tmp_path, rcfg, "s3-restore.yaml")
    assert_error(run_cli(["restore", "--config", rpath], env=s3_env(), unset=[DEFAULT_ENV]), EXIT_BAD_INPUT,
                 "backup s3 is encrypted")
    cli_ok(["restore", "--config", rpath, "--encryption-key-file", world["key_file"]], env=s3_env())
    assert_same_records(dump(world["topic"]), dump(target, TARGET), what="s3")
    # The S3 test server (s3proxy, filesystem blob store) keeps each object as a file.
    stored = Path(os.environ.get("KB_S3_DIR", "/tmp/kafka-backup-s3")) / "data" / BUCKET / prefix
    files = [p for p in stored.rglob("*") if p.is_file()]
    assert any(p.suffix == ".kbseg" for p in files), f"no segment found under {stored}"
    needles = [s.encode() for s in world["secrets"]]
    data = b"".join(p.read_bytes() for p in files)
    assert not [n for n in needles if n in data]
    for form in key_forms(world["key"]):
        assert form not in data


def test_validate_restore_checks_the_key(world, tmp_path):
    cfg = restore_config(world["storage"], backup_id="none", topic_mapping={world["topic"]: unique("preflight")})
    path = write_config(tmp_path, cfg, "preflight.yaml")
    r = run_cli(["validate-restore", "--config", path], unset=[DEFAULT_ENV])
    assert r.rc == EXIT_BAD_INPUT and "backup none is encrypted" in r.stdout + r.stderr, r.describe()
    r = run_cli(["validate-restore", "--config", path, "--encryption-key-file", other_key_file(tmp_path)])
    assert r.rc == EXIT_AUTH and "is not the key backup none was encrypted with" in r.stdout + r.stderr, r.describe()
    r = run_cli(["validate-restore", "--config", path, "--encryption-key-file", world["key_file"]])
    assert r.rc == EXIT_OK, r.describe()


def test_incremental_backup_continues_only_from_a_backup_with_the_same_key(world, tmp_path):
    storage = tmp_path / "store"
    shutil.copytree(world["storage"], storage)
    produce(world["topic"], [rec(0, "after", marker(random.Random(3), "N", 0), timestamp=1_700_000_100_000)])
    for backup_id, key_file in (("inc-same", world["key_file"]), ("inc-other", other_key_file(tmp_path))):
        cfg = backup_config(storage, [world["topic"]], backup_id=backup_id, incremental=True)
        cfg["encryption"] = {"key_file": str(key_file)}
        cli_ok(["backup", "--config", write_config(tmp_path, cfg, f"{backup_id}.yaml")], unset=[DEFAULT_ENV])
    same = cli_ok(["describe", "--path", storage, "--backup-id", "inc-same", "--format", "json"]).json()
    assert same.get("parent_backup_id") in ("none", "zstd"), same
    other = cli_ok(["describe", "--path", storage, "--backup-id", "inc-other", "--format", "json"]).json()
    assert "parent_backup_id" not in other, "a backup with another key must not inherit segments it cannot read"
    for backup_id, key_file in (("inc-same", world["key_file"]), ("inc-other", other_key_file(tmp_path))):
        r = run_cli(["validate", "--path", storage, "--backup-id", backup_id, "--deep", "--encryption-key-file",
                     key_file])
        assert r.rc == EXIT_OK, r.describe()
