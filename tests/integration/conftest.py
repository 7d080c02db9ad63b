"""Shared harness for kafka-backup's integration tests.

The tests run the real binary (build/kafka-backup, or $KB_BINARY) against two
real Kafka clusters and check the results with an independent client
(kafka-peer, the official Java client; tests/peer/KafkaPeer.java).

    bash scripts/setup.sh                 # once: Kafka jars, kafka-peer
    bash scripts/kafka-clusters.sh start  # the two clusters
    python3 -m pytest tests/integration -q

Environment:
    KB_SOURCE_BOOTSTRAP  source cluster (default 127.0.0.1:19092)
    KB_TARGET_BOOTSTRAP  target cluster (default 127.0.0.1:29092)
    KB_BINARY            the kafka-backup binary (default build/kafka-backup)
    KB_PEER              the peer wrapper (default .cache/kafka/bin/kafka-peer)

The binary is copied once per session (a rebuild during a run does not mix
two builds).  Nothing is skipped: a missing binary, peer or broker fails every test with a
message saying what to do.  Every test uses topic names with a fresh uuid, so
tests are independent and re-runnable; storage lives under pytest's tmp_path.
Topics are left on the clusters (the brokers keep no time-based retention);
only the crash test deletes its own bulky topic.

Helpers are plain functions here; test modules import them with
`from conftest import ...` (pytest puts this directory on sys.path).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _path_from_env(var: str, default: Path) -> Path:
    v = os.environ.get(var)
    if not v:
        return default
    p = Path(v)
    return p if p.is_absolute() else (ROOT / p)


SOURCE = os.environ.get("KB_SOURCE_BOOTSTRAP", "127.0.0.1:19092")
TARGET = os.environ.get("KB_TARGET_BOOTSTRAP", "127.0.0.1:29092")
BINARY = _path_from_env("KB_BINARY", ROOT / "build" / "kafka-backup")
PEER = _path_from_env("KB_PEER", ROOT / ".cache" / "kafka" / "bin" / "kafka-peer")
KAFKA_BIN = PEER.parent

# Exit codes of kafka-backup (docs, `kafka-backup --help`).
EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_NOT_FOUND, EXIT_CORRUPT = 0, 1, 2, 3, 4
EXIT_UNAVAILABLE, EXIT_AUTH, EXIT_CONFLICT, EXIT_IO = 5, 6, 7, 8

START_HINT = "run `bash scripts/kafka-clusters.sh start` (and `bash scripts/setup.sh` once before)"


# --------------------------------------------------------------------- basics

def unique(name: str) -> str:
    """A topic/backup name unique to this test run: kbit-<name>-<10 hex>."""
    return f"kbit-{name}-{uuid.uuid4().hex[:10]}"


def b64(data: bytes | str | None) -> str | None:
    if data is None:
        return None
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode("ascii")


def unb64(s: str | None) -> bytes | None:
    return None if s is None else base64.b64decode(s)


def rec(partition: int | None, key: bytes | str | None, value: bytes | str | None,
        headers: Iterable[tuple[str, bytes | str | None]] = (), timestamp: int | None = None) -> dict:
    """One kafka-peer produce input line (as a dict)."""
    return {
        "partition": partition,
        "key": b64(key),
        "value": b64(value),
        "headers": [[n, b64(v)] for n, v in headers],
        "timestamp": timestamp,
    }


def parallel(*calls: Callable[[], Any], workers: int = 3) -> list:
    """Runs the calls concurrently (each kafka-peer call is mostly JVM start-up);
    returns their results in order and re-raises the first failure."""
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(calls)))) as ex:
        futures = [ex.submit(c) for c in calls]
        return [f.result() for f in futures]


# ----------------------------------------------------------------------- CLI

_binary_in_use: Path = BINARY


def binary() -> Path:
    """The kafka-backup the tests run: a copy of BINARY taken at session start
    (see environment_ok), so a rebuild during the run changes nothing."""
    return _binary_in_use


def _snapshot_binary(dest_dir: Path) -> Path:
    """Copies BINARY once it is stable (not being re-linked) and runnable."""
    dest = dest_dir / BINARY.name
    last = ""
    for _ in range(30):
        before = BINARY.stat()
        shutil.copy2(BINARY, dest)
        after = BINARY.stat()
        if (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns) \
                and time.time() - after.st_mtime > 1:
            p = subprocess.run([str(dest), "--version"], capture_output=True, text=True, timeout=30)
            if p.returncode == 0:
                return dest
            last = f"--version exited {p.returncode}: {p.stderr.strip()}"
        time.sleep(2)
    pytest.fail(f"{BINARY} did not settle into a runnable binary within a minute ({last})", pytrace=False)


class CliResult:
    """Result of one kafka-backup run; unpacks as (rc, stdout, stderr)."""

    def __init__(self, args: list[str], rc: int, stdout: str, stderr: str, seconds: float):
        self.args, self.rc, self.stdout, self.stderr, self.seconds = args, rc, stdout, stderr, seconds

    def __iter__(self):
        return iter((self.rc, self.stdout, self.stderr))

    @property
    def error_lines(self) -> list[str]:
        return [l for l in self.stderr.splitlines() if l.startswith("error:")]

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError(f"stdout of {self.describe()} is not JSON ({e}):\n{self.stdout}") from e

    def describe(self) -> str:
        return (f"`kafka-backup {' '.join(self.args)}` (exit {self.rc}, {self.seconds:.1f}s)\n"
                f"--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}")

    def __repr__(self) -> str:
        return self.describe()


def run_cli(args: list[str], env: dict | None = None, timeout: float = 180,
            cwd: Path | str | None = None, unset: Iterable[str] = ()) -> CliResult:
    """Runs kafka-backup with args; env entries are added to os.environ, unset
    names are removed from it.  A hang past timeout fails the test."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    for name in unset:
        full_env.pop(name, None)
    args = [str(a) for a in args]
    t0 = time.monotonic()
    try:
        p = subprocess.run([str(binary()), *args], env=full_env, cwd=cwd, capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"`kafka-backup {' '.join(args)}` did not finish within {timeout}s\n"
                    f"stdout: {e.stdout!r}\nstderr: {e.stderr!r}")
    return CliResult(args, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def cli_ok(args: list[str], **kw) -> CliResult:
    """run_cli that must exit 0."""
    r = run_cli(args, **kw)
    assert r.rc == 0, f"expected exit 0 from {r.describe()}"
    return r


def assert_error(r: CliResult, code: int, *needles: str) -> str:
    """The run failed with `code` and exactly one 'error: ...' line on stderr
    that contains every needle.  Returns that line."""
    assert r.rc == code, f"expected exit {code}, got {r.describe()}"
    lines = r.error_lines
    assert len(lines) == 1, f"expected exactly one 'error:' line on stderr, got {lines!r}\n{r.describe()}"
    for n in needles:
        assert n in lines[0], f"error line does not mention {n!r}: {lines[0]!r}"
    return lines[0]


# ---------------------------------------------------------------------- peer

def peer(*args: str, input: str | None = None, timeout: float = 240, check: bool = True
         ) -> subprocess.CompletedProcess:
    """Runs kafka-peer; with check, a non-zero exit fails the test."""
    args = tuple(str(a) for a in args)
    try:
        p = subprocess.run([str(PEER), *args], input=input, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`kafka-peer {' '.join(args)}` did not finish within {timeout}s")
    if check and p.returncode != 0:
        pytest.fail(f"`kafka-peer {' '.join(args)}` exited {p.returncode}:\n{p.stderr[-4000:]}")
    return p


def create_topic(topic: str, partitions: int, bootstrap: str = SOURCE,
                 configs: dict[str, str] | None = None) -> None:
    args = ["create-topic", "--bootstrap", bootstrap, "--topic", topic, "--partitions", str(partitions)]
    for k, v in (configs or {}).items():
        args += ["--config", f"{k}={v}"]
    peer(*args)


def produce(topic: str, records: Iterable[dict], bootstrap: str = SOURCE,
            transactional_id: str | None = None) -> None:
    """Sends kafka-peer input lines (dicts from rec(), or {"txn": ...})."""
    args = ["produce", "--bootstrap", bootstrap, "--topic", topic]
    if transactional_id:
        args += ["--transactional-id", transactional_id]
    data = "".join(json.dumps(r) + "\n" for r in records)
    peer(*args, input=data)


def dump(topic: str, bootstrap: str = SOURCE, isolation: str = "read_committed") -> list[dict]:
    """All records of a topic, sorted by partition and offset."""
    p = peer("dump", "--bootstrap", bootstrap, "--topic", topic, "--isolation", isolation)
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def describe_topic(topic: str, bootstrap: str = SOURCE, check: bool = True) -> dict | None:
    """{"topic","partitions","replication_factor","configs"}; None if it fails and not check."""
    p = peer("describe-topic", "--bootstrap", bootstrap, "--topic", topic, check=check)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


def end_offsets(topic: str, bootstrap: str = SOURCE) -> dict[int, tuple[int, int]]:
    p = peer("end-offsets", "--bootstrap", bootstrap, "--topic", topic)
    out = {}
    for l in p.stdout.splitlines():
        if l.strip():
            d = json.loads(l)
            out[d["partition"]] = (d["earliest"], d["latest"])
    return out


def commit_offsets(group: str, topic: str, offsets: dict[int, int], bootstrap: str = SOURCE) -> None:
    args = ["commit-offsets", "--bootstrap", bootstrap, "--group", group, "--topic", topic]
    for p, o in offsets.items():
        args += ["--offset", f"{p}:{o}"]
    peer(*args)


def delete_topic(topic: str, bootstrap: str = SOURCE) -> None:
    peer("delete-topic", "--bootstrap", bootstrap, "--topic", topic, check=False)


# ------------------------------------------------------------ record compare

def content(r: dict, with_type: bool = True) -> tuple:
    """What must survive a round trip: everything but the offset."""
    t = (r["key"], r["value"], tuple(tuple(h) for h in r["headers"]), r["timestamp"])
    return t + (r["timestamp_type"],) if with_type else t


def by_partition(records: list[dict], with_type: bool = True) -> dict[int, list[tuple]]:
    out: dict[int, list[tuple]] = {}
    for r in records:
        out.setdefault(r["partition"], []).append(content(r, with_type))
    return out


def _short(t: tuple) -> str:
    s = repr(t)
    return s if len(s) < 300 else s[:300] + "...)"


def assert_same_records(source: list[dict], target: list[dict], *, with_type: bool = True,
                        what: str = "") -> None:
    """Per partition, in order: same key, value, headers, timestamp (and
    timestamp type).  Offsets are not compared."""
    src, dst = by_partition(source, with_type), by_partition(target, with_type)
    problems = []
    for p in sorted(set(src) | set(dst)):
        a, b = src.get(p, []), dst.get(p, [])
        if a == b:
            continue
        msg = f"{what} partition {p}: source has {len(a)} records, target {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                msg += f"; first difference at index {i}:\n  source {_short(x)}\n  target {_short(y)}"
                break
        problems.append(msg)
    assert not problems, "records differ:\n" + "\n".join(problems)


# ------------------------------------------------------------------- configs

def _yaml_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if v is None:
        return "null"
    return json.dumps(str(v))   # a JSON string is a valid YAML double-quoted scalar


def to_yaml(obj: Any, indent: int = 0) -> str:
    """Block-style YAML for dicts/lists/scalars (enough for kafka-backup configs)."""
    pad = "  " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            # A key a YAML reader would take for something else (an alias "*..", a tag "!..") is quoted.
            k = _yaml_scalar(k) if isinstance(k, str) and k[:1] in "*&!%@`|>'\"{[?-" else k
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{k}:\n{to_yaml(v, indent + 1)}")
            elif isinstance(v, (dict, list)):
                out.append(f"{pad}{k}: {'{}' if isinstance(v, dict) else '[]'}\n")
            else:
                out.append(f"{pad}{k}: {_yaml_scalar(v)}\n")
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, (dict, list)):
                raise ValueError("nested collections in lists are not needed here")
            out.append(f"{pad}- {_yaml_scalar(v)}\n")
    else:
        out.append(f"{pad}{_yaml_scalar(obj)}\n")
    return "".join(out)


def write_config(tmp_path: Path, cfg: dict | str, name: str = "config.yaml") -> Path:
    """Writes a config (a dict rendered as block YAML, or YAML text) and returns its path."""
    path = Path(tmp_path) / name
    path.write_text(cfg if isinstance(cfg, str) else to_yaml(cfg))
    return path


def backup_config(storage: Path | str, topics: list[str], backup_id: str | None = None,
                  exclude: list[str] | None = None, bootstrap: str = SOURCE, **backup_opts) -> dict:
    cfg: dict = {"mode": "backup"}
    if backup_id:
        cfg["backup_id"] = backup_id
    src: dict = {"bootstrap_servers": [bootstrap], "topics": {"include": topics}}
    if exclude:
        src["topics"]["exclude"] = exclude
    cfg["source"] = src
    cfg["storage"] = {"backend": "filesystem", "path": str(storage)}
    if backup_opts:
        cfg["backup"] = backup_opts
    return cfg


def restore_config(storage: Path | str, backup_id: str | None = None, bootstrap: str = TARGET,
                   **restore_opts) -> dict:
    cfg: dict = {"mode": "restore"}
    if backup_id:
        cfg["backup_id"] = backup_id
    cfg["target"] = {"bootstrap_servers": [bootstrap]}
    cfg["storage"] = {"backend": "filesystem", "path": str(storage)}
    if restore_opts:
        cfg["restore"] = restore_opts
    return cfg


def run_backup(tmp_path: Path, cfg: dict, name: str = "backup.yaml", extra: list[str] = ()) -> dict:
    """Backup that must succeed; returns its --format json summary."""
    path = write_config(tmp_path, cfg, name)
    return cli_ok(["backup", "--config", path, "--format", "json", *extra]).json()


def run_restore(tmp_path: Path, cfg: dict, name: str = "restore.yaml", extra: list[str] = ()) -> dict:
    path = write_config(tmp_path, cfg, name)
    return cli_ok(["restore", "--config", path, "--format", "json", *extra]).json()


def manifest_path(storage: Path, backup_id: str) -> Path:
    return Path(storage) / "manifests" / f"{backup_id}.json"


def segment_files(storage: Path, backup_id: str | None = None) -> list[Path]:
    base = Path(storage) / "data"
    if backup_id:
        base = base / backup_id
    return sorted(base.rglob("*.kbseg")) if base.exists() else []


# ------------------------------------------------------------------ fixtures

def _cluster_answers(bootstrap: str) -> str | None:
    """None if the broker answers a metadata request, else why not."""
    host, _, port = bootstrap.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except OSError as e:
        return f"cannot connect to {bootstrap}: {e}"
    if shutil.which("kcat"):
        cmd = ["kcat", "-L", "-b", bootstrap, "-m", "10"]
    else:
        cmd = [str(KAFKA_BIN / "kafka-topics"), "--bootstrap-server", bootstrap, "--list"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{cmd[0]} against {bootstrap} failed: {e}"
    if p.returncode != 0:
        return f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-500:]}"
    return None


@pytest.fixture(scope="session")
def environment_ok(tmp_path_factory) -> None:
    global _binary_in_use
    problems = []
    if not (BINARY.is_file() and os.access(BINARY, os.X_OK)):
        problems.append(f"kafka-backup binary not found at {BINARY} (build it, or set KB_BINARY)")
    else:
        _binary_in_use = _snapshot_binary(tmp_path_factory.mktemp("bin"))
    if not (PEER.is_file() and os.access(PEER, os.X_OK)):
        problems.append(f"kafka-peer not found at {PEER}: run `bash scripts/setup.sh` (or set KB_PEER)")
    for name, bs in (("source", SOURCE), ("target", TARGET)):
        why = _cluster_answers(bs)
        if why:
            problems.append(f"{name} Kafka cluster at {bs} does not answer ({why}); {START_HINT}")
    if problems:
        pytest.fail("integration environment not ready:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def _require_environment(environment_ok) -> None:
    """Every test needs the binary, the peer and both clusters."""


@pytest.fixture(scope="session")
def source_bootstrap() -> str:
    return SOURCE


@pytest.fixture(scope="session")
def target_bootstrap() -> str:
    return TARGET


@pytest.fixture(scope="session")
def kb_binary(environment_ok) -> Path:
    return binary()


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "serial: disturbs what every test shares (stops a broker); scripts/test.sh "
                                       "runs these files alone, after the others have run side by side")


def pytest_report_header(config) -> list[str]:
    return [f"kafka-backup: {BINARY} (copied at session start); kafka-peer: {PEER}",
            f"clusters: source {SOURCE}, target {TARGET}"]


# ------------------------------------------------------------ object storage

S3_ENDPOINT = os.environ.get("KB_S3_ENDPOINT", "http://127.0.0.1:19000")
S3_ACCESS_KEY = os.environ.get("KB_S3_ACCESS_KEY", "kbtestaccess")
S3_SECRET_KEY = os.environ.get("KB_S3_SECRET_KEY", "kbtestsecret-0123456789")
S3_REGION = os.environ.get("KB_S3_REGION", "us-east-1")
S3_START_HINT = "run `bash scripts/s3-server.sh start` (scripts/test.sh does)"


def s3_env(secret: str | None = None, access_key: str | None = None) -> dict:
    """The environment a kafka-backup process needs for the local S3 server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=access_key or S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=secret or S3_SECRET_KEY,
               AWS_REGION=S3_REGION, AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
    return env


@pytest.fixture(scope="session")
def s3_server() -> str:
    """The local S3 server's endpoint; fails (never skips) when it is not running."""
    host, _, port = S3_ENDPOINT.split("://", 1)[1].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except OSError as e:
        pytest.fail(f"the S3 test server at {S3_ENDPOINT} does not answer ({e}); {S3_START_HINT}", pytrace=False)
    return S3_ENDPOINT


AZURE_ENDPOINT = os.environ.get("KB_AZURE_ENDPOINT", "http://127.0.0.1:10000/kbtest")
AZURE_ACCOUNT = os.environ.get("KB_AZURE_ACCOUNT", "kbtest")
AZURE_KEY = os.environ.get("KB_AZURE_KEY", "")


def azure_env(key: str | None = None) -> dict:
    """The environment a kafka-backup process needs for the local Azurite."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_STORAGE_")}
    env.update(AZURE_STORAGE_ACCOUNT=AZURE_ACCOUNT, AZURE_STORAGE_KEY=key or AZURE_KEY)
    return env


@pytest.fixture(scope="session")
def azurite() -> str:
    """Azurite's blob endpoint; fails (never skips) when it is not running."""
    host, _, rest = AZURE_ENDPOINT.split("://", 1)[1].partition(":")
    port = rest.split("/", 1)[0]
    if not AZURE_KEY:
        pytest.fail("KB_AZURE_KEY is not set: eval \"$(bash scripts/azurite.sh env)\" (scripts/test.sh does)",
                    pytrace=False)
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except OSError as e:
        pytest.fail(f"Azurite at {AZURE_ENDPOINT} does not answer ({e}); run `bash scripts/azurite.sh start`",
                    pytrace=False)
    return AZURE_ENDPOINT


GCS_ENDPOINT = os.environ.get("KB_GCS_ENDPOINT", "http://127.0.0.1:4443")


def gcs_env() -> dict:
    """The environment a kafka-backup process needs for the local GCS emulator
    (fake-gcs-server checks no credentials; the OAuth path is unit-tested)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "GCS_HMAC_"))}
    env["STORAGE_EMULATOR_HOST"] = GCS_ENDPOINT.split("://", 1)[1]
    return env


@pytest.fixture(scope="session")
def gcs_server() -> str:
    host, _, port = GCS_ENDPOINT.split("://", 1)[1].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except OSError as e:
        pytest.fail(f"the GCS emulator at {GCS_ENDPOINT} does not answer ({e}); run `bash scripts/gcs-server.sh start`",
                    pytrace=False)
    return GCS_ENDPOINT


MOTO_ENDPOINT = os.environ.get("KB_MOTO_ENDPOINT", "")
MOTO_PYTHON = ROOT / ".cache" / "moto" / "venv" / "bin" / "python"


def moto_env(secret: str | None = None) -> dict:
    """The environment a kafka-backup process needs for the local moto server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=os.environ.get("KB_MOTO_ACCESS_KEY", ""),
               AWS_SECRET_ACCESS_KEY=secret or os.environ.get("KB_MOTO_SECRET_KEY", ""),
               AWS_REGION="us-east-1", AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
    return env


@pytest.fixture(scope="session")
def moto_server() -> str:
    """moto's S3 endpoint; fails (never skips) when it is not running."""
    if not MOTO_ENDPOINT:
        pytest.fail("KB_MOTO_ENDPOINT is not set: eval \"$(bash scripts/moto-server.sh env)\" (scripts/test.sh does)",
                    pytrace=False)
    host, _, port = MOTO_ENDPOINT.split("://", 1)[1].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except OSError as e:
        pytest.fail(f"moto at {MOTO_ENDPOINT} does not answer ({e}); run `bash scripts/moto-server.sh start`",
                    pytrace=False)
    return MOTO_ENDPOINT
