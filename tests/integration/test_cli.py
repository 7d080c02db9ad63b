"""The command line: help, list, 'latest', ${VAR} expansion, the seed's config."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from conftest import (EXIT_BAD_INPUT, ROOT, TARGET, assert_error, backup_config, cli_ok, create_topic, describe_topic,
                      produce, rec, restore_config, run_backup, run_cli, unique, write_config)

KEY_FLAGS = {
    "backup": ["--config", "--path", "--backup-id", "--format"],
    "restore": ["--config", "--path", "--backup-id", "--dry-run", "--format"],
    "list": ["--path", "--config", "--format"],
    "describe": ["--path", "--backup-id", "--format"],
    "validate": ["--path", "--backup-id", "--deep", "--format"],
}


@pytest.mark.parametrize("command", sorted(KEY_FLAGS))
def test_subcommand_help(command):
    r = cli_ok([command, "--help"])
    for flag in KEY_FLAGS[command]:
        assert flag in r.stdout, f"`{command} --help` does not mention {flag}:\n{r.stdout}"


def test_top_level_help_lists_subcommands_and_exit_codes():
    r = cli_ok(["--help"])
    for command in KEY_FLAGS:
        assert command in r.stdout
    assert "Exit codes" in r.stdout


def test_list_on_empty_directory(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli_ok(["list", "--path", empty])
    assert "no backups" in r.stdout, r.describe()
    doc = cli_ok(["list", "--path", empty, "--format", "json"]).json()
    assert doc["backups"] == []


@pytest.fixture(scope="module")
def small_topic():
    topic = unique("cli")
    create_topic(topic, 1)
    produce(topic, [rec(0, f"k{i}", f"v{i}", timestamp=1_700_000_000_000 + i) for i in range(3)])
    return topic


def test_latest_is_the_newest_backup(tmp_path, small_topic):
    storage = tmp_path / "store"
    # The newer id sorts first, so 'latest' cannot be the largest name.
    run_backup(tmp_path, backup_config(storage, [small_topic], backup_id="zz-older"), name="older.yaml")
    time.sleep(0.05)
    run_backup(tmp_path, backup_config(storage, [small_topic], backup_id="aa-newer"), name="newer.yaml")

    listed = cli_ok(["list", "--path", storage, "--format", "json"]).json()["backups"]
    assert [b["backup_id"] for b in listed] == ["zz-older", "aa-newer"], "list is oldest first"
    for b in listed:
        assert b["topics"] == 1 and b["records"] == 3, b
    text = cli_ok(["list", "--path", storage]).stdout
    assert "zz-older" in text and "aa-newer" in text

    desc = cli_ok(["describe", "--path", storage, "--backup-id", "latest", "--format", "json"]).json()
    assert desc["backup_id"] == "aa-newer"
    desc = cli_ok(["describe", "--path", storage, "--format", "json"]).json()    # default: latest
    assert desc["backup_id"] == "aa-newer"
    report = cli_ok(["validate", "--path", storage, "--backup-id", "latest", "--format", "json"]).json()
    assert report["ok"] is True
    cfg = write_config(tmp_path, restore_config(storage), "restore.yaml")
    dry = cli_ok(["restore", "--config", cfg, "--backup-id", "latest", "--dry-run", "--format", "json"]).json()
    assert dry["backup_id"] == "aa-newer" and dry["dry_run"] is True, dry
    assert dry["records"] == 3
    assert describe_topic(small_topic, TARGET, check=False) is None, "--dry-run created the target topic"


def test_path_and_backup_id_flags_override_config(tmp_path, small_topic):
    in_config = tmp_path / "from-config"
    on_flag = tmp_path / "from-flag"
    cfg = write_config(tmp_path, backup_config(in_config, [small_topic], backup_id="cfg-id"))
    summary = cli_ok(["backup", "--config", cfg, "--path", on_flag, "--backup-id", "flag-id",
                      "--format", "json"]).json()
    assert summary["backup_id"] == "flag-id"
    assert (on_flag / "manifests" / "flag-id.json").is_file()
    assert not in_config.exists()


def test_timestamp_and_env_variables_expand(tmp_path, small_topic):
    storage = tmp_path / "store"
    cfg = backup_config(storage, ["${KB_IT_TOPIC}"], backup_id="run-${TIMESTAMP}")
    path = write_config(tmp_path, cfg)
    summary = cli_ok(["backup", "--config", path, "--format", "json"], env={"KB_IT_TOPIC": small_topic}).json()
    bid = summary["backup_id"]
    assert re.fullmatch(r"run-[0-9A-Za-z._-]+", bid) and "TIMESTAMP" not in bid, bid
    assert (storage / "manifests" / f"{bid}.json").is_file()
    desc = cli_ok(["describe", "--path", storage, "--backup-id", bid, "--format", "json"]).json()
    assert [t["name"] for t in desc["topics"]] == [small_topic]


def test_seed_config_needs_its_password_variable(tmp_path):
    """testdata/config/dr-backup.yaml names ${KAFKA_PASSWORD}: unset, the run
    stops with exit 2 naming it, before connecting to its (unresolvable)
    brokers or touching its storage path."""
    seed = Path("testdata/config/dr-backup.yaml")
    assert (ROOT / seed).is_file()
    storage = Path("/var/backups/kafka")
    existed = storage.exists()
    t0 = time.monotonic()
    r = run_cli(["backup", "--config", seed], cwd=ROOT, unset=["KAFKA_PASSWORD"], timeout=60)
    assert_error(r, EXIT_BAD_INPUT, "KAFKA_PASSWORD", "dr-backup.yaml")
    assert time.monotonic() - t0 < 5, f"took {time.monotonic() - t0:.1f}s: did it try to connect first?"
    if not existed:
        assert not storage.exists(), "the failed run created the storage directory"


def test_summary_file_reports_the_run_in_one_json_object(tmp_path, small_topic):
    """--summary-file: what a Kubernetes pod's termination message carries (docs/operator.md).
    One compact JSON object, the command's headline figures on success, the error and exit code
    on failure, never more than the 4096 bytes Kubernetes keeps."""
    import json

    storage = tmp_path / "store"
    cfg = write_config(tmp_path, backup_config(storage, [small_topic], backup_id="sum-1"))
    out = tmp_path / "summary.json"
    cli_ok(["--summary-file", out, "backup", "--config", cfg])
    text = out.read_text()
    assert text.endswith("\n") and text.count("\n") == 1, text
    s = json.loads(text)
    assert s["command"] == "backup" and s["exit_code"] == 0 and "error" not in s, s
    assert s["backup_id"] == "sum-1" and s["state"] == "committed" and s["records"] == 3, s
    assert s["bytes"] > 0 and s["seconds"] >= 0, s

    cli_ok(["--summary-file", out, "validate", "--path", storage, "--backup-id", "latest", "--deep"])
    s = json.loads(out.read_text())
    assert s["command"] == "validate" and s["valid"] is True and s["records"] == 3, s
    assert s["records_checked"] == 3 and s["deep"] is True and s["problems"] == 0, s

    rcfg = write_config(tmp_path, restore_config(storage), "restore.yaml")
    cli_ok(["--summary-file", out, "restore", "--config", rcfg, "--backup-id", "sum-1", "--dry-run"])
    s = json.loads(out.read_text())
    assert s["command"] == "restore" and s["dry_run"] is True and s["records"] == 3, s

    # A failure: the exit code and the error as printed.
    r = run_cli(["--summary-file", out, "describe", "--path", storage, "--backup-id", "no-such-backup"])
    assert r.rc == 3, r.stderr
    s = json.loads(out.read_text())
    assert s["command"] == "describe" and s["exit_code"] == 3, s
    assert "no-such-backup" in s["error"] and s["error"] in r.stderr, (s, r.stderr)

    # A long error is cut to fit; the object stays whole JSON.
    long_id = "x" * 9000
    r = run_cli(["--summary-file", out, "describe", "--path", storage, "--backup-id", long_id])
    assert r.rc != 0
    raw = out.read_bytes()
    assert len(raw) <= 4096, len(raw)
    s = json.loads(raw)
    assert s["exit_code"] == r.rc and s["error"].endswith("..."), s

    # An unwritable summary file does not change the outcome.
    r = run_cli(["--summary-file", tmp_path / "no-dir" / "s.json", "list", "--path", storage])
    assert r.rc == 0 and "cannot write the summary" in r.stderr, r.stderr


def test_global_flags_after_the_subcommand(tmp_path, small_topic):
    """The README lists --no-progress and the log flags with the commands: they are accepted on
    either side of the subcommand, with the same effect, and a bad value is still exit 2."""
    import json

    storage = tmp_path / "store"
    cfg = write_config(tmp_path, backup_config(storage, [small_topic], backup_id="flags-1"))
    r = cli_ok(["backup", "--config", cfg, "--no-progress", "--log-format", "json", "--log-level", "debug",
                "--summary-file", tmp_path / "s.json"])
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines, r.describe()
    for line in lines:
        doc = json.loads(line)  # every stderr line is a JSON log object
        assert {"time", "level", "message"} <= doc.keys(), line
    assert any(json.loads(line)["level"] == "debug" for line in lines), r.stderr
    assert json.loads((tmp_path / "s.json").read_text())["backup_id"] == "flags-1"

    rcfg = write_config(tmp_path, restore_config(storage), "restore.yaml")
    r = cli_ok(["restore", "--config", rcfg, "--backup-id", "flags-1", "--dry-run", "--no-progress",
                "--format", "json"])
    assert r.json()["dry_run"] is True, r.describe()
    cli_ok(["list", "--path", storage, "--log-level", "warn", "--metrics-port", "0"])

    for bad, named in ((["--log-level", "loud"], "--log-level"), (["--no-such-flag"], "--no-such-flag")):
        r = run_cli(["list", "--path", storage, *bad])
        assert r.rc == EXIT_BAD_INPUT and named in r.stderr, r.describe()


def test_describe_as_yaml_is_the_json_document(tmp_path):
    """describe --format yaml: the same document as --format json, read back
    by a YAML parser, strings that look like numbers or booleans still strings."""
    import yaml
    from conftest import create_topic, produce, rec, run_backup, unique
    topic = unique("yaml")
    create_topic(topic, 2)
    produce(topic, [rec(i % 2, f"k{i}", f"v{i}") for i in range(30)])
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="20261207", source_cluster_id="on"))
    as_json = cli_ok(["describe", "--path", storage, "--backup-id", "20261207", "--format", "json"]).json()
    as_yaml = yaml.safe_load(cli_ok(["describe", "--path", storage, "--backup-id", "20261207", "--format",
                                     "yaml"]).stdout)
    assert as_yaml == as_json
    assert as_yaml["backup_id"] == "20261207" and as_yaml["source_cluster_id"] == "on", as_yaml
    r = cli_ok(["describe", "--help"])
    assert "yaml" in r.stdout


def test_config_check_prints_the_effective_config_with_secrets_masked(tmp_path):
    """`config check`: offline (the bootstrap and the bucket are nowhere), the
    effective values with defaults, every password masked; a bad config is
    exit 2 naming the file, line and key, as the commands would say it."""
    import yaml
    good = write_config(tmp_path, """\
mode: backup
backup_id: "hourly-${TIMESTAMP}"
source:
  bootstrap_servers: ["kafka-prod-1.invalid:9092"]
  security:
    security_protocol: SASL_SSL
    sasl_mechanism: SCRAM-SHA-512
    sasl_username: backup
    sasl_password: pw-in-the-file-1
  client_properties:
    ssl.keystore.password: pw-in-the-file-2
    linger.ms: "5"
  topics:
    include: ["orders", "pay*"]
storage:
  backend: s3
  bucket: kafka-dr-backups
  region: us-east-1
  prefix: production/hourly
retention:
  keep_daily: 7
  max_age: 30d
""", "good.yaml")
    r = cli_ok(["config", "check", "--config", good], timeout=20)
    assert "pw-in-the-file" not in r.stdout + r.stderr
    doc = yaml.safe_load(r.stdout)
    assert doc["source"]["security"]["sasl_password"] == "***", doc
    assert doc["source"]["client_properties"] == {"ssl.keystore.password": "***", "linger.ms": "5"}, doc
    assert doc["backup"]["compression"] == "zstd" and doc["backup"]["checkpoint_interval_secs"] == 30, doc
    assert doc["backup_id"].startswith("hourly-2") and "${" not in doc["backup_id"], doc
    assert doc["storage"]["url"].startswith("s3://kafka-dr-backups/production/hourly"), doc
    assert doc["retention"]["max_age"] == "30d" and doc["retention"]["keep_daily"] == 7, doc

    restore = write_config(tmp_path, restore_config("/var/backups/kafka", "b1", time_window_end="-2h",
                                                    topic_mapping={"orders": "orders-restored"}), "restore.yaml")
    doc = yaml.safe_load(cli_ok(["config", "check", "--config", restore], timeout=20).stdout)
    assert doc["restore"]["topic_mapping"] == {"orders": "orders-restored"}, doc
    assert abs(doc["restore"]["time_window_end"] - (time.time() - 7200) * 1000) < 60_000, doc

    bad = write_config(tmp_path, "mode: backup\nsource:\n  bootstrap_servers: [a:1]\n  topicz: [x]\n"
                                 "storage:\n  path: /tmp/x\n", "bad.yaml")
    assert_error(run_cli(["config", "check", "--config", bad], timeout=20), EXIT_BAD_INPUT, "bad.yaml", "topicz")
    unset = write_config(tmp_path, "mode: backup\nsource:\n  bootstrap_servers: [\"${KB_SURELY_UNSET_VAR}\"]\n"
                                   "storage:\n  path: /tmp/x\n", "unset.yaml")
    assert_error(run_cli(["config", "check", "--config", unset], timeout=20), EXIT_BAD_INPUT, "KB_SURELY_UNSET_VAR")
