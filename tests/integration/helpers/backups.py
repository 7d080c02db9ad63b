"""Backups run in the background (continuous or killed mid-run): start one, watch its
checkpoints through `describe`, stop it with a signal; the records they are fed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import BINARY, rec, run_cli
from helpers.schemas import json_output


def start(cfg: Path, env: dict | None = None, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([str(BINARY), "--no-progress", "backup", "--config", str(cfg), "--format", "json", *extra],
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def describe(path: str, backup_id: str, env: dict | None = None) -> dict | None:
    r = run_cli(["describe", "--path", path, "--backup-id", backup_id, "--format", "json"], env=env)
    return json_output(r, "describe") if r.rc == 0 else None


def wait_for_records(path: str, backup_id: str, n: int, proc: subprocess.Popen, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    doc = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the backup ended early: rc={proc.returncode}\n{proc.communicate()[1][-3000:]}"
        doc = describe(path, backup_id)
        if doc and doc["records"] >= n:
            return doc
        time.sleep(0.25)
    raise AssertionError(f"the backup's checkpoints never showed {n} records: {doc and doc['records']}")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def records(topic: str, partitions: int, first: int, n: int) -> list[dict]:
    return [rec(i % partitions, f"k{i}", f"v{i}-".encode() + os.urandom(200), headers=[("i", str(i))],
                timestamp=1_700_000_000_000 + i) for i in range(first, first + n)]
