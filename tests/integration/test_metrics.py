"""Prometheus metrics: a backup run with --metrics-port is scraped while it
runs (slowed by a bandwidth cap on its S3 storage); the counters rise between
scrapes, every line parses as the text exposition format, /health answers."""

from __future__ import annotations

import re
import socket
import subprocess
import time
import urllib.request

from conftest import (EXIT_BAD_INPUT, S3_ENDPOINT, assert_error, backup_config, binary, create_topic, produce,
                      rec, run_cli, s3_env, unique, write_config)
from helpers.storage import BUCKET, ensure_bucket

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? '
                    r'(-?[0-9.eE+-]+|NaN|Nan|\+Inf|-Inf)$')


def parse(text: str) -> dict[str, float]:
    """Samples of a text exposition, keyed by name{labels}; fails on any line
    that is neither a comment (# HELP / # TYPE) nor a sample."""
    samples = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# "):
            assert re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* ", line), line
            continue
        m = SAMPLE.match(line)
        assert m, f"not an exposition sample: {line!r}"
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3).replace("Nan", "nan"))
    return samples


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read().decode()


def test_metrics_rise_during_a_backup_and_parse(tmp_path, s3_server):
    ensure_bucket()
    topic = unique("metrics")
    create_topic(topic, 2)
    produce(topic, [rec(p, f"k{i}", "v" * 2000, timestamp=1_700_000_000_000 + i) for p in range(2) for i in range(5000)])
    cfg = backup_config("unused", [topic], backup_id="metered", segment_max_records=200, compression="none",
                        max_buffered_bytes=2 << 20)
    cfg["storage"] = {"backend": "s3", "bucket": BUCKET, "prefix": f"metrics/{topic}", "endpoint": S3_ENDPOINT,
                      "max_bytes_per_sec": 4_000_000}
    port = free_port()
    proc = subprocess.Popen([str(binary()), "--metrics-port", str(port), "--metrics-bind", "127.0.0.1", "backup",
                             "--config", str(write_config(tmp_path, cfg, "backup.yaml"))],
                            env=s3_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    scrapes = []
    health = None
    try:
        deadline = time.time() + 120
        while proc.poll() is None and time.time() < deadline:
            try:
                status, text = get(f"http://127.0.0.1:{port}/metrics")
                assert status == 200
                scrapes.append(parse(text))
                if health is None:
                    health = get(f"http://127.0.0.1:{port}/health")
            except OSError:
                pass  # not listening yet, or the run just ended
            time.sleep(0.3)
    finally:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]

    assert health is not None and health[0] == 200 and parse(health[1])["kafka_backup_up"] == 1
    records = [s.get('kafka_backup_records_total{operation="backup"}', 0) for s in scrapes]
    stored = [s.get('kafka_backup_storage_bytes_total{operation="backup"}', 0) for s in scrapes]
    assert len(scrapes) >= 3, f"only {len(scrapes)} scrapes while the backup ran"
    assert records == sorted(records) and stored == sorted(stored), "counters went down"
    assert len({r for r in records if r > 0}) >= 2, f"records_total did not rise between scrapes: {records}"
    assert len({b for b in stored if b > 0}) >= 2, f"storage_bytes_total did not rise between scrapes: {stored}"
    last = scrapes[-1]
    puts = sum(v for k, v in last.items() if k.startswith("kafka_backup_storage_requests_total")
               and 'operation="put"' in k and 'outcome="ok"' in k)
    assert puts >= 1, "no successful storage put counted"
    assert any(k.startswith("kafka_backup_storage_request_duration_seconds_bucket") for k in last)
    assert 0 < last['kafka_backup_progress_ratio{operation="backup"}'] <= 1
    assert f'kafka_backup_consumer_lag_records{{topic="{topic}"}}' in last
    partition_lag = {k: v for k, v in last.items() if k.startswith("kafka_backup_partition_lag_records")}
    assert f'kafka_backup_partition_lag_records{{partition="0",topic="{topic}"}}' in partition_lag, partition_lag
    lags = [sum(v for k, v in s.items() if k.startswith("kafka_backup_partition_lag_records")) for s in scrapes]
    assert any(v > 0 for v in lags), f"the partitions' lag never showed records left: {lags}"


def test_a_metrics_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run_cli(["--metrics-port", str(port), "--metrics-bind", "127.0.0.1", "list", "--path", str(tmp_path)])
    assert_error(r, EXIT_BAD_INPUT, f"127.0.0.1:{port}", "--metrics-port")


def test_metrics_from_the_config_file(tmp_path):
    """`metrics: {port, bind}` in the YAML starts the same server; --metrics-port wins over it."""
    storage = tmp_path / "store"
    storage.mkdir()
    port = free_port()
    cfg = write_config(tmp_path, {"storage": {"backend": "filesystem", "path": str(storage)},
                                  "metrics": {"port": port, "bind": "127.0.0.1"}})
    r = run_cli(["list", "--config", cfg])
    assert r.rc == 0 and f"metrics on http://127.0.0.1:{port}/metrics" in r.stderr, r.describe()
    other = free_port()
    r = run_cli(["--metrics-port", str(other), "--metrics-bind", "127.0.0.1", "list", "--config", cfg])
    assert r.rc == 0 and f"127.0.0.1:{other}/metrics" in r.stderr and f":{port}/" not in r.stderr, r.describe()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        bad = write_config(tmp_path, {"storage": {"backend": "filesystem", "path": str(storage)},
                                      "metrics": {"port": taken, "bind": "127.0.0.1"}}, "busy.yaml")
        r = run_cli(["list", "--config", bad])
    assert_error(r, EXIT_BAD_INPUT, f"127.0.0.1:{taken}", "metrics.port")
    wrong = write_config(tmp_path, {"storage": {"path": str(storage)}, "metrics": {"port": "nine"}}, "wrong.yaml")
    assert_error(run_cli(["list", "--config", wrong]), EXIT_BAD_INPUT, "metrics.port", "integer")
