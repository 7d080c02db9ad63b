"""Each exit code documented in docs/exit-codes.md is caused by a test here,
named test_exit_<code>_..., which checks the code and the message; the table
is parsed, so a code documented without a test (or tested without being
documented) fails. Codes and their meanings also agree with src/cli/common.h,
`kafka-backup --help` and conftest's EXIT_* constants.

Exit 1 (internal error) means a bug, so no honest input causes it: its test
checks instead that the CLI maps exactly the internal failures to it."""

from __future__ import annotations

import re

import pytest

import conftest
from conftest import (EXIT_AUTH, EXIT_BAD_INPUT, EXIT_CONFLICT, EXIT_CORRUPT, EXIT_INTERNAL, EXIT_IO,
                      EXIT_NOT_FOUND, EXIT_OK, EXIT_UNAVAILABLE, ROOT, S3_SECRET_KEY, assert_error,
                      backup_config, cli_ok, create_topic, produce, rec, restore_config, run_backup, run_cli, s3_env,
                      segment_files, unique, write_config)
from helpers.segments import segment_index


EXIT_CODES_DOC = ROOT / "docs" / "exit-codes.md"


def documented_codes() -> dict[int, str]:
    """code -> meaning, from the table in docs/exit-codes.md."""
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*([^|]*?)\s*\|", EXIT_CODES_DOC.read_text(), re.MULTILINE)
    codes = {int(code): meaning for code, meaning in rows}
    assert len(codes) == len(rows), f"a code appears twice in {EXIT_CODES_DOC}: {rows}"
    return codes


def cli_exit_codes() -> dict[str, int]:
    """kExit... -> value, from the enum in src/cli/common.h."""
    text = (ROOT / "src" / "cli" / "common.h").read_text()
    enum = re.search(r"enum ExitCode : int \{(.*?)\};", text, re.DOTALL)
    assert enum, "no `enum ExitCode` in src/cli/common.h"
    return {name: int(value) for name, value in re.findall(r"(kExit\w+) = (\d+)", enum.group(1))}


@pytest.fixture(scope="module")
def backup(tmp_path_factory) -> dict:
    """A one-partition topic and a backup of it, "exit-a"."""
    tmp = tmp_path_factory.mktemp("exit-codes")
    topic = unique("exit")
    create_topic(topic, 1)
    produce(topic, [rec(0, f"k{i}", f"value {i} " + "x" * i, timestamp=1_700_000_000_000 + i) for i in range(50)])
    storage = tmp / "store"
    run_backup(tmp, backup_config(storage, [topic], backup_id="exit-a"))
    return {"topic": topic, "storage": storage}


# ------------------------------------------------------------- bookkeeping

def test_every_documented_exit_code_has_a_test():
    documented = documented_codes()
    tested = {int(m.group(1)) for name in globals() if (m := re.fullmatch(r"test_exit_(\d+)_\w+", name))}
    assert set(documented) == tested, (f"documented in docs/exit-codes.md: {sorted(documented)}; "
                                       f"caused by a test_exit_<code>_... here: {sorted(tested)}")


def test_documented_codes_agree_with_the_cli_and_the_harness():
    """docs/exit-codes.md, the ExitCode enum in src/cli/common.h (its source),
    the codes `kafka-backup --help` lists and conftest's EXIT_* hold the same codes."""
    documented = documented_codes()
    assert sorted(cli_exit_codes().values()) == sorted(documented), cli_exit_codes()
    help_text = cli_ok(["--help"]).stdout
    listed = help_text.split("Exit codes:", 1)[1].split("\n\n", 1)[0]
    assert sorted(int(c) for c in re.findall(r"(\d+) [a-zA-Z]", listed)) == sorted(documented), listed
    harness = {v for k, v in vars(conftest).items() if k.startswith("EXIT_")}
    assert harness == set(documented), sorted(harness)


# ------------------------------------------------------------------- codes

def test_exit_0_success(backup):
    r = cli_ok(["validate", "--path", backup["storage"], "--backup-id", "exit-a", "--deep"])
    assert r.rc == EXIT_OK and not r.error_lines, r.describe()
    assert "passed: deep validation of backup exit-a" in r.stdout, r.describe()


def test_exit_1_internal_error_is_what_the_cli_maps_internal_failures_to():
    """No honest input causes exit 1 (it means a bug), so this checks the
    mapping instead: ExitCodeFor in src/cli/common.cc classifies every
    Status::Code, Internal (and nothing else) as kExitFailure = 1, and the
    other codes as docs/exit-codes.md says."""
    status_h = (ROOT / "include" / "kafka_backup" / "status.h").read_text()
    status_codes = re.findall(r"^\s+(k[A-Z]\w*)(?: = 0)?,", status_h.split("enum class Code {", 1)[1].split("};")[0],
                              re.MULTILINE)
    body = (ROOT / "src" / "cli" / "common.cc").read_text().split("int ExitCodeFor(", 1)[1].split("\n}\n", 1)[0]
    mapping = {}
    for cases, result in re.findall(r"((?:\s*case C::k\w+:)+)\s*return (kExit\w+);", body):
        for code in re.findall(r"C::(k\w+)", cases):
            mapping[code] = cli_exit_codes()[result]
    assert sorted(mapping) == sorted(status_codes), f"Status codes {status_codes}, ExitCodeFor handles {mapping}"
    assert cli_exit_codes()["kExitFailure"] == EXIT_INTERNAL
    assert mapping == {"kOk": EXIT_OK, "kInternal": EXIT_INTERNAL, "kInvalidArgument": EXIT_BAD_INPUT,
                       "kNotFound": EXIT_NOT_FOUND, "kCorruption": EXIT_CORRUPT, "kUnavailable": EXIT_UNAVAILABLE,
                       "kAuth": EXIT_AUTH, "kAlreadyExists": EXIT_CONFLICT, "kConflict": EXIT_CONFLICT,
                       "kIoError": EXIT_IO}, mapping
    assert "internal error" in documented_codes()[EXIT_INTERNAL]
    assert "1 internal error" in cli_ok(["--help"]).stdout


def test_exit_2_bad_input_unknown_config_key(tmp_path, backup):
    storage = tmp_path / "store"
    cfg = backup_config(storage, [backup["topic"]], backup_id="typo", compresion="zstd")
    path = write_config(tmp_path, cfg, "typo.yaml")
    line = path.read_text().splitlines().index('  compresion: "zstd"') + 1
    r = run_cli(["backup", "--config", path])
    assert_error(r, EXIT_BAD_INPUT, f"typo.yaml:{line}", "compresion")
    assert not storage.exists(), "a config error touched the storage"


def test_exit_3_not_found_unknown_backup_id(backup):
    r = run_cli(["describe", "--path", backup["storage"], "--backup-id", "no-such-backup"])
    assert_error(r, EXIT_NOT_FOUND, "'no-such-backup' not found", "available: exit-a")
    assert r.stdout == ""


def test_exit_4_corrupt_data_flipped_byte(tmp_path, backup):
    """A flipped byte in a block's payload: validate --deep lists the problem
    (naming the object and the block) and exits 4; a restore stops at the
    block with exit 4 and an error naming the object."""
    storage = tmp_path / "store"
    cfg = backup_config(storage, [backup["topic"]], backup_id="flipped", compression="none")
    run_backup(tmp_path, cfg)
    (seg,) = segment_files(storage, "flipped")
    key = seg.relative_to(storage).as_posix()
    data = bytearray(seg.read_bytes())
    pos, size, _n, first, _last = segment_index(bytes(data))[2][0]
    data[pos + size // 2] ^= 0x01
    seg.write_bytes(bytes(data))

    r = run_cli(["validate", "--path", storage, "--backup-id", "flipped", "--deep"])
    assert r.rc == EXIT_CORRUPT, r.describe()
    problems = [l for l in r.stderr.splitlines() if "problem: " in l]    # maybe after a log prefix
    assert len(problems) == 1 and f"{backup['topic']}[0] {key}:" in problems[0], r.describe()
    assert str(pos) in problems[0] and str(first) in problems[0], problems
    assert "FAILED: deep validation of backup flipped" in r.stdout, r.describe()

    restore = restore_config(storage, backup_id="flipped", topic_mapping={backup["topic"]: backup["topic"] + "-4"})
    r = run_cli(["restore", "--config", write_config(tmp_path, restore, "restore.yaml")])
    assert_error(r, EXIT_CORRUPT, key)


def test_exit_5_unavailable_unreachable_broker(tmp_path):
    storage = tmp_path / "store"
    cfg = backup_config(storage, ["some-topic"], backup_id="unreachable", bootstrap="127.0.0.1:1")
    cfg["source"]["connect_timeout_secs"] = 2
    r = run_cli(["backup", "--config", write_config(tmp_path, cfg)], timeout=60)
    assert_error(r, EXIT_UNAVAILABLE, "127.0.0.1:1", "within 2s", "check that the brokers are running")
    assert r.seconds < 15, f"gave up on an unreachable broker only after {r.seconds:.1f}s"


def test_exit_6_authentication_refused_storage_secret(s3_server):
    url = f"s3://kb-exit-codes/p?endpoint={s3_server}"
    r = run_cli(["list", "--path", url], env=s3_env(secret="not-the-secret"), timeout=60)
    assert_error(r, EXIT_AUTH, "kb-exit-codes", "SignatureDoesNotMatch", "check the credentials")
    assert "not-the-secret" not in r.stdout + r.stderr and S3_SECRET_KEY not in r.stdout + r.stderr


def test_exit_7_conflict_backup_id_already_committed(tmp_path, backup):
    manifest = backup["storage"] / "manifests" / "exit-a.json"
    before = manifest.read_bytes()
    cfg = backup_config(backup["storage"], [backup["topic"]], backup_id="exit-a")
    r = run_cli(["backup", "--config", write_config(tmp_path, cfg)])
    assert_error(r, EXIT_CONFLICT, "backup 'exit-a' already exists", "choose another backup_id")
    assert manifest.read_bytes() == before, "the committed manifest changed"


def test_exit_8_local_io_error_storage_under_a_file(tmp_path, backup):
    """root ignores permissions, so the storage directory is made impossible:
    its parent is a regular file."""
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("not a directory\n")
    cfg = backup_config(blocker / "store", [backup["topic"]], backup_id="io")
    r = run_cli(["backup", "--config", write_config(tmp_path, cfg)])
    assert_error(r, EXIT_IO, str(blocker), "Not a directory")
    assert blocker.read_text() == "not a directory\n"


def test_exit_2_bad_input_keyless_records_into_a_compacted_topic(tmp_path, backup):
    """The broker refuses records without a key in a compacted topic: bad input
    (the restore's topic_configs), not an internal error, and the message says why."""
    keyless = f"{backup['topic']}-keyless"
    create_topic(keyless, 1)
    produce(keyless, [rec(0, None, f"no key {i}") for i in range(3)])
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [keyless], backup_id="keyless"))
    compacted = f"{keyless}-compacted"
    cfg = restore_config(storage, backup_id="keyless", topic_mapping={keyless: compacted},
                         topic_configs={keyless: {"cleanup.policy": "compact"}})
    r = run_cli(["restore", "--config", write_config(tmp_path, cfg, "compacted.yaml")])
    assert_error(r, EXIT_BAD_INPUT, compacted, "cleanup.policy compact")


def test_exit_4_corrupt_offset_snapshot(tmp_path, backup):
    """offset-rollback of a snapshot that is JSON but not a snapshot: corrupt data, named."""
    cfg = restore_config(backup["storage"], backup_id="exit-a", restore_id="snap",
                         topic_mapping={backup["topic"]: f"{backup['topic']}-snap"})
    path = write_config(tmp_path, cfg, "snap.yaml")
    cli_ok(["restore", "--config", path])
    snapshots = backup["storage"] / "restores" / "exit-a" / "snap" / "offset-snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    (snapshots / "bad.json").write_text("[1, 2]")
    r = run_cli(["offset-rollback", "--config", path, "--restore-id", "snap", "--snapshot", "bad"])
    assert_error(r, EXIT_CORRUPT, "bad.json", "is not an offset snapshot")
