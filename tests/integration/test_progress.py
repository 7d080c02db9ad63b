"""The progress display: on a terminal (a pseudo-terminal made by `script`)
backup, restore and validate redraw a total bar and one line per topic with
rate and ETA; through a pipe the same runs print no display at all, only
plain log lines.

Each run is slowed (a bandwidth cap on S3, a restore throttle) so that it
lasts a few seconds: long enough that a display would be drawn."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

from conftest import (BINARY, S3_ENDPOINT, backup_config, cli_ok, create_topic, produce, rec, restore_config,
                      run_cli, s3_env, unique, write_config)
from helpers.storage import BUCKET, ensure_bucket, s3_storage

ESC = "\x1b["
BAR = re.compile(r"\[[#.]+\]\s+\d+%")


def on_terminal(args: list[str], env: dict, timeout: float = 120) -> str:
    """Runs kafka-backup with stdout and stderr on a pseudo-terminal; returns what the terminal received."""
    cmd = shlex.join([str(BINARY), *args])
    p = subprocess.run(["script", "-qfec", cmd, "/dev/null"], env={**os.environ, **env},
                       capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    out = p.stdout.decode(errors="replace")  # bytes: text mode would turn the display's \r into \n
    assert p.returncode == 0, f"`{cmd}` on a terminal exited {p.returncode}:\n{out[-3000:]}{p.stderr[-2000:]!r}"
    return out


def frames(screen: str) -> list[list[str]]:
    """The display's redrawn blocks: each starts after a carriage return and clear-to-end."""
    blocks = screen.split("\r" + ESC + "J")[1:]
    return [[re.sub(r"\x1b\[\d*A", "", line).strip("\r") for line in b.split("\n")] for b in blocks]


def assert_display(screen: str, label: str, topics: list[str], eta: bool = True) -> None:
    shown = [f for f in frames(screen) if f and f[0].startswith(label + " [")]
    assert shown, f"no {label} display on the terminal:\n{screen[-3000:]!r}"
    assert any(BAR.search(f[0]) and "/s" in f[0] and "records" in f[0] for f in shown), shown[-1]
    assert not eta or any("ETA" in f[0] for f in shown), f"no ETA in the total line: {shown}"
    for t in topics:
        lines = [line for f in shown for line in f[1:] if line.strip().startswith(t)]
        assert lines, f"no line for topic {t} in {shown[-1]}"
        assert any(BAR.search(line) for line in lines), lines[-1]
    assert not eta or any("/s" in line and "ETA" in line for f in shown for line in f[1:]), \
        f"no topic line with a rate and an ETA: {shown}"
    assert any("done" in line for line in shown[-1][1:]), f"no topic done in the last frame: {shown[-1]}"
    assert screen.count(ESC + "J") >= 2, "the display was never redrawn"


def assert_no_display(r) -> None:
    for stream in (r.stdout, r.stderr):
        assert ESC not in stream, f"terminal control codes through a pipe: {stream[-2000:]!r}"
        assert not BAR.search(stream), f"a progress bar through a pipe: {stream[-2000:]!r}"


def test_progress_display_on_a_terminal_and_none_through_a_pipe(tmp_path, s3_server):
    base = unique("progress")
    topics = [f"{base}-a", f"{base}-b"]
    for t in topics:
        create_topic(t, 2)
    # Incompressible values, 12 MB: more than the 8 MiB of raw blocks the
    # backup queues, so the bandwidth cap paces the uploads and the reading.
    produce(topics[0], [rec(i % 2, f"k{i}", os.urandom(1000)) for i in range(7000)])
    produce(topics[1], [rec(i % 2, f"k{i}", os.urandom(1000)) for i in range(5000)])
    ensure_bucket()
    env = s3_env()
    storage = s3_storage(f"progress/{base}")
    storage["max_bytes_per_sec"] = 3_000_000  # about 4 s

    for run, backup_id in (("tty", "shown"), ("pipe", "quiet")):
        cfg = backup_config("unused", topics, backup_id=backup_id, segment_max_bytes=1 << 20,
                            max_buffered_bytes=2 << 20)
        cfg["storage"] = storage
        path = write_config(tmp_path, cfg, f"backup-{run}.yaml")
        if run == "tty":
            # The reading may outrun the cap until the memory budget fills: no ETA promised.
            assert_display(on_terminal(["backup", "--config", str(path)], env), "backup", topics, eta=False)
        else:
            r = cli_ok(["backup", "--config", path], env=env)
            assert r.seconds > 2, f"the backup took {r.seconds:.1f}s: too quick to tell"
            assert_no_display(r)

    url = f"s3://{BUCKET}/progress/{base}?endpoint={S3_ENDPOINT}&max_bytes_per_sec=3000000"
    validate = ["validate", "--path", url, "--backup-id", "shown", "--deep"]
    assert_display(on_terminal(validate, env), "validate", topics)
    r = cli_ok(validate, env=env)
    assert "passed" in r.stdout
    assert_no_display(r)

    for run in ("tty", "pipe"):
        rcfg = restore_config("unused", backup_id="shown", max_records_per_sec=4000,
                              topic_mapping={t: f"{t}-{run}" for t in topics})
        rcfg["storage"] = s3_storage(f"progress/{base}")
        path = write_config(tmp_path, rcfg, f"restore-{run}.yaml")
        if run == "tty":
            assert_display(on_terminal(["restore", "--config", str(path)], env), "restore",
                           [f"{t}-tty" for t in topics])
        else:
            r = cli_ok(["restore", "--config", path], env=env)
            assert_no_display(r)

    # --no-progress: nothing on a terminal either.
    screen = on_terminal(["--no-progress", *validate], env)
    assert not BAR.search(screen) and ESC + "J" not in screen, screen[-2000:]


def test_json_log_lines(tmp_path):
    """--log-format json: every stderr line is a JSON object with time, level and message; errors add the exit code."""
    import json
    topic = unique("jsonlog")
    create_topic(topic, 1)
    produce(topic, [rec(0, "k", "v")])
    cfg = write_config(tmp_path, backup_config(tmp_path / "store", [topic], backup_id="j"))
    r = cli_ok(["--log-format", "json", "backup", "--config", cfg])
    lines = [json.loads(line) for line in r.stderr.splitlines()]
    assert lines and all(set(j) == {"time", "level", "message"} for j in lines), r.stderr
    assert any(j["level"] == "info" and "backup j" in j["message"] for j in lines), r.stderr
    again = run_cli(["--log-format", "json", "backup", "--config", cfg])
    err = [json.loads(line) for line in again.stderr.splitlines() if '"error"' in line]
    assert again.rc == 7 and err and err[-1]["exit_code"] == 7 and "already" in err[-1]["message"], again.describe()
    assert Path(tmp_path / "store").is_dir()
