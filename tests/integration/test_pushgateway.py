"""metrics.pushgateway_url: when a command ends its metrics, its exit code and its timings are
pushed to a real Prometheus Pushgateway (built by scripts/setup.sh from the Go module proxy and
started here), grouped by job, command and the configured labels; a failed run keeps the last
success's timestamp; an unreachable gateway is a warning, never a changed exit code."""

from __future__ import annotations

import re
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import (EXIT_BAD_INPUT, EXIT_NOT_FOUND, ROOT, TARGET, assert_error, backup_config, cli_ok,
                      create_topic, produce, rec, run_cli, unique, write_config)

PUSHGATEWAY = ROOT / ".cache" / "pushgateway" / "bin" / "pushgateway"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    assert PUSHGATEWAY.exists(), f"{PUSHGATEWAY} not found: run scripts/setup.sh (it builds the Pushgateway)"
    port = free_port()
    log = tmp_path_factory.mktemp("pushgateway") / "pushgateway.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(PUSHGATEWAY), f"--web.listen-address=127.0.0.1:{port}"], stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if urllib.request.urlopen(f"{url}/-/ready", timeout=2).status == 200:
                break
        except OSError:
            pass
        assert proc.poll() is None, f"the Pushgateway exited: {log.read_text()}"
        assert time.monotonic() < deadline, f"the Pushgateway did not answer at {url}: {log.read_text()}"
        time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def samples(url: str, name: str) -> list[tuple[dict, float]]:
    """The gateway's samples of a metric: (labels, value)."""
    text = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
    out = []
    for m in re.finditer(rf"^{name}\{{(.*?)\}} (\S+)$", text, re.M):
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
        out.append((labels, float(m.group(2))))
    return out


def one(url: str, name: str, **labels) -> float:
    found = [v for l, v in samples(url, name) if all(l.get(k) == want for k, want in labels.items())]
    assert len(found) == 1, (name, labels, samples(url, name))
    return found[0]


def test_a_backup_pushes_its_metrics_and_outcome_and_a_failure_keeps_the_last_success(tmp_path, gateway):
    topic = unique("push")
    create_topic(topic, 2)
    produce(topic, [rec(i % 2, f"k{i}", f"v{i}") for i in range(40)])
    job = unique("job")
    cfg = backup_config(tmp_path / "store", [topic], backup_id="pushed")
    cfg["metrics"] = {"pushgateway_url": gateway + "/", "pushgateway_job": job,
                      "pushgateway_labels": {"cluster": "prod/eu-1"}}
    before = time.time()
    r = cli_ok(["backup", "--config", write_config(tmp_path, cfg, "push.yaml")])
    assert "metrics pushed to" in r.stderr, r.stderr
    group = {"job": job, "command": "backup", "cluster": "prod/eu-1"}
    assert one(gateway, "kafka_backup_records_total", operation="backup", **group) == 40
    assert one(gateway, "kafka_backup_last_run_exit_code", **group) == 0
    success = one(gateway, "kafka_backup_last_success_timestamp_seconds", **group)
    assert before - 1 <= success <= time.time() + 1
    assert one(gateway, "kafka_backup_last_run_duration_seconds", **group) > 0

    # A failed run (a topic that does not exist): its exit code, the last success kept.
    cfg["source"]["topics"]["include"] = [unique("push-absent")]
    cfg["backup_id"] = "failing"
    assert_error(run_cli(["backup", "--config", write_config(tmp_path, cfg, "fail.yaml")]), EXIT_NOT_FOUND)
    assert one(gateway, "kafka_backup_last_run_exit_code", **group) == EXIT_NOT_FOUND
    assert one(gateway, "kafka_backup_last_success_timestamp_seconds", **group) == success
    assert one(gateway, "kafka_backup_last_run_timestamp_seconds", **group) >= success


def test_a_drill_pushes_its_rto_rpo_and_last_success(tmp_path, gateway):
    topic = unique("push-drill")
    create_topic(topic, 1)
    produce(topic, [rec(0, f"k{i}", f"v{i}", timestamp=1_700_000_000_000 + i) for i in range(30)])
    storage = tmp_path / "store"
    cli_ok(["backup", "--config", write_config(tmp_path, backup_config(storage, [topic], backup_id="drilled"))])
    job = unique("job")
    cfg = {"mode": "drill", "backup_id": "drilled", "storage": {"backend": "filesystem", "path": str(storage)},
           "target": {"bootstrap_servers": [TARGET]}, "drill": {"validate": "shallow"},
           "metrics": {"pushgateway_url": gateway, "pushgateway_job": job}}
    before = time.time()
    cli_ok(["drill", "--config", write_config(tmp_path, cfg, "drill.yaml")], timeout=300)
    group = {"job": job, "command": "drill"}
    assert before - 1 <= one(gateway, "kafka_backup_drill_last_success_timestamp_seconds", **group) <= time.time() + 1
    assert one(gateway, "kafka_backup_drill_rto_seconds", **group) > 0
    rpo = one(gateway, "kafka_backup_drill_rpo_seconds", **group)
    assert abs(rpo - (before - 1_700_000_000.029)) < 120, rpo


def test_an_unreachable_gateway_is_a_warning_without_secrets_and_bad_keys_are_exit_2(tmp_path):
    topic = unique("push-down")
    create_topic(topic, 1)
    produce(topic, [rec(0, "k", "v")])
    cfg = backup_config(tmp_path / "store", [topic], backup_id="down")
    cfg["metrics"] = {"pushgateway_url": f"http://pusher:s3cretpw@127.0.0.1:{free_port()}"}
    r = cli_ok(["backup", "--config", write_config(tmp_path, cfg, "down.yaml")])
    assert "cannot push the metrics to the Pushgateway at http://***@127.0.0.1" in r.stderr, r.stderr
    assert "s3cretpw" not in r.stderr + r.stdout
    shown = cli_ok(["config", "check", "--config", write_config(tmp_path, cfg, "down.yaml")]).stdout
    assert "pushgateway_url" in shown and "s3cretpw" not in shown, shown

    for metrics, key in (({"pushgateway_url": "pushgateway:9091"}, "metrics.pushgateway_url"),
                         ({"pushgateway_url": "http://h:9091", "pushgateway_labels": {"job": "x"}},
                          "metrics.pushgateway_labels.job"),
                         ({"pushgateway_url": "http://h:9091", "pushgateway_labels": {"9bad": "x"}},
                          "metrics.pushgateway_labels.9bad")):
        cfg["metrics"] = metrics
        assert_error(run_cli(["backup", "--config", write_config(tmp_path, cfg, "bad.yaml")]), EXIT_BAD_INPUT, key)
