"""Object storage against real servers: S3 (s3proxy, which checks SigV4
signatures), Azure Blob (Azurite, which checks SharedKey) and GCS
(fake-gcs-server, which checks no credentials). For S3: the object-store
conformance suite, the fidelity round trip through S3, the seed's YAML and
`validate --path s3://...` with AWS_ENDPOINT_URL, credentials refused, a
missing bucket, and a backup that completes through injected faults."""

from __future__ import annotations

import json
import random
import subprocess


from helpers.faulty_proxy import FaultyProxy
from conftest import (azure_env, gcs_env, AZURE_KEY, EXIT_AUTH, EXIT_NOT_FOUND, ROOT, S3_ENDPOINT, S3_SECRET_KEY,
                      SOURCE, TARGET, assert_error, assert_same_records, backup_config, cli_ok, create_topic, dump,
                      parallel, produce, rec, restore_config, run_cli, s3_env, unique, write_config)
from helpers.storage import BUCKET, ensure_bucket, s3_storage

BASE_TS = 1_700_000_000_000


def test_conformance_suite_on_every_backend(s3_server, azurite, gcs_server):
    """tests/conformance/store_conformance_test.cc on filesystem, S3, Azure and GCS."""
    env = s3_env()
    env.update(azure_env())
    env.update(gcs_env())
    env["KB_TEST_GCS_URL"] = "gs://kb-conformance"
    env["KB_TEST_S3_URL"] = f"s3://kb-conformance?endpoint={s3_server}"
    env["KB_TEST_AZURE_URL"] = f"azure://kb-conformance?endpoint={azurite}"
    p = subprocess.run([str(ROOT / "build" / "store_conformance")], env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-2000:]
    listed = subprocess.run([str(ROOT / "build" / "store_conformance"), "--gtest_list_tests"], capture_output=True,
                            text=True, timeout=60).stdout
    cases = sum(1 for line in listed.splitlines() if line.startswith("  "))
    assert cases >= 40, listed  # every case on each of the four backends
    assert f"[  PASSED  ] {cases} tests" in p.stdout, p.stdout[-3000:]


def test_round_trip_through_s3_with_the_seed_yaml(tmp_path, s3_server):
    ensure_bucket()
    topic = unique("s3rt")
    create_topic(topic, 3)
    records = [rec(p, f"k{p}-{i}", f"value {p}/{i}" * (i % 5 + 1), headers=[("h", f"{i}")],
                   timestamp=BASE_TS + i) for p in range(3) for i in range(200)]
    produce(topic, records)
    prefix = f"production/{topic}"
    cfg = backup_config("unused", [topic], backup_id="s3-rt")
    cfg["storage"] = s3_storage(prefix)
    r = cli_ok(["backup", "--config", write_config(tmp_path, cfg, "backup.yaml"), "--format", "json"], env=s3_env())
    assert r.json()["records"] == 600, r.stdout

    url = f"s3://{BUCKET}/{prefix}?endpoint={s3_server}"
    listed = cli_ok(["list", "--path", url], env=s3_env())
    assert "s3-rt" in listed.stdout, listed.stdout
    v = cli_ok(["validate", "--path", url, "--backup-id", "s3-rt", "--deep"], env=s3_env())
    assert "passed" in v.stdout, v.stdout

    rcfg = restore_config("unused", backup_id="s3-rt")
    rcfg["storage"] = s3_storage(prefix)
    rr = cli_ok(["restore", "--config", write_config(tmp_path, rcfg, "restore.yaml"), "--format", "json"],
                env=s3_env())
    assert rr.json()["records"] == 600
    src, dst = parallel(lambda: dump(topic, SOURCE), lambda: dump(topic, TARGET))
    assert_same_records(src, dst, what=topic)


def test_seed_validate_command_takes_the_endpoint_from_aws_endpoint_url(tmp_path, s3_server):
    """`kafka-backup validate --path s3://kafka-dr-backups/production/hourly --backup-id X --deep`,
    exactly as in the seed, the endpoint from AWS_ENDPOINT_URL as the AWS CLI takes it."""
    ensure_bucket("kafka-dr-backups")
    topic = unique("s3seed")
    create_topic(topic, 1)
    produce(topic, [rec(0, f"k{i}", f"v{i}", timestamp=BASE_TS + i) for i in range(50)])
    backup_id = f"hourly-{topic}"        # the server may keep earlier runs' backups
    cfg = backup_config("unused", [topic], backup_id=backup_id)
    cfg["storage"] = {"backend": "s3", "bucket": "kafka-dr-backups", "region": "us-east-1",
                      "prefix": "production/hourly"}
    env = s3_env()
    env["AWS_ENDPOINT_URL"] = s3_server
    cli_ok(["backup", "--config", write_config(tmp_path, cfg)], env=env)
    r = cli_ok(["validate", "--path", "s3://kafka-dr-backups/production/hourly", "--backup-id", backup_id, "--deep"],
               env=env)
    assert f"passed: deep validation of backup {backup_id}" in r.stdout, r.stdout


def test_wrong_secret_is_a_clear_auth_error_without_retries(tmp_path, s3_server):
    ensure_bucket()
    env = s3_env(secret="not-the-secret")
    r = run_cli(["list", "--path", f"s3://{BUCKET}/anything?endpoint={s3_server}"], env=env, timeout=60)
    msg = assert_error(r, EXIT_AUTH, "S3", BUCKET, "SignatureDoesNotMatch")
    assert "not-the-secret" not in r.stdout + r.stderr and S3_SECRET_KEY not in r.stdout + r.stderr
    assert r.seconds < 10, f"an auth failure must not be retried for {r.seconds:.1f}s: {msg}"

    r = run_cli(["list", "--path", f"s3://{BUCKET}/anything?endpoint={s3_server}"],
                env=s3_env(access_key="AKIDNOBODY"), timeout=60)
    assert_error(r, EXIT_AUTH, BUCKET, "InvalidAccessKeyId")


def test_missing_bucket_is_a_clear_not_found(tmp_path, s3_server):
    r = run_cli(["list", "--path", f"s3://no-such-bucket-kb/p?endpoint={s3_server}"], env=s3_env(), timeout=60)
    assert_error(r, EXIT_NOT_FOUND, "no-such-bucket-kb", "does not exist")


def test_backup_and_restore_complete_through_injected_faults(tmp_path, s3_server):
    """10% of storage calls fail (half of them after the server acted, as a
    lost answer): the retries hide it, the backup validates and restores whole."""
    ensure_bucket()
    topic = unique("s3faults")
    create_topic(topic, 4)
    produce(topic, [rec(p, f"k{p}-{i}", f"v{i}", timestamp=BASE_TS + i) for p in range(4) for i in range(300)])
    prefix = f"faults/{topic}"
    env = s3_env()
    env["KAFKA_BACKUP_TEST_FAULT_RATE"] = "0.1"
    cfg = backup_config("unused", [topic], backup_id="faulty", segment_max_records=50)
    cfg["storage"] = s3_storage(prefix)
    cli_ok(["backup", "--config", write_config(tmp_path, cfg, "backup.yaml")], env=env, timeout=300)
    url = f"s3://{BUCKET}/{prefix}?endpoint={s3_server}"
    cli_ok(["validate", "--path", url, "--backup-id", "faulty", "--deep"], env=env, timeout=300)
    rcfg = restore_config("unused", backup_id="faulty")
    rcfg["storage"] = s3_storage(prefix)
    cli_ok(["restore", "--config", write_config(tmp_path, rcfg, "restore.yaml")], env=env, timeout=300)
    src, dst = parallel(lambda: dump(topic, SOURCE), lambda: dump(topic, TARGET))
    assert_same_records(src, dst, what=topic)


def test_backup_completes_through_connection_resets_and_stalls(tmp_path, s3_server):
    """Between us and the S3 server a proxy resets connections (mid-request
    and mid-response) and stalls them, about one request in ten: the requests
    are abandoned after stall_timeout_secs and retried, and the backup
    validates and restores whole. A 40 MiB multipart upload goes through a
    gentler proxy (its 16 MiB parts cross hundreds of chunks)."""
    ensure_bucket()
    host, port = s3_server.split("://", 1)[1].split(":")
    topic = unique("wire")
    create_topic(topic, 3)
    produce(topic, [rec(p, f"k{p}-{i}", f"value {i} " * 20, timestamp=BASE_TS + i) for p in range(3) for i in range(400)])
    prefix = f"wire/{topic}"
    proxy = FaultyProxy(host, int(port), reset_rate=0.06, stall_rate=0.03, seed=7)
    try:
        storage = dict(s3_storage(prefix), endpoint=proxy.url(), stall_timeout_secs=2)
        cfg = backup_config("unused", [topic], backup_id="wire", segment_max_records=100)
        cfg["storage"] = storage
        cli_ok(["backup", "--config", write_config(tmp_path, cfg, "backup.yaml")], env=s3_env(), timeout=600)
        assert proxy.resets > 0 and proxy.stalls > 0, (proxy.resets, proxy.stalls)
        url = f"s3://{BUCKET}/{prefix}?endpoint={proxy.url()}&stall_timeout_secs=2"
        cli_ok(["validate", "--path", url, "--backup-id", "wire", "--deep"], env=s3_env(), timeout=600)
    finally:
        proxy.close()
    rcfg = restore_config("unused", backup_id="wire")
    rcfg["storage"] = s3_storage(prefix)
    cli_ok(["restore", "--config", write_config(tmp_path, rcfg, "restore.yaml")], env=s3_env(), timeout=300)
    src, dst = parallel(lambda: dump(topic, SOURCE), lambda: dump(topic, TARGET))
    assert_same_records(src, dst, what=topic)

    gentle = FaultyProxy(host, int(port), reset_rate=0.003, stall_rate=0.001, seed=11)
    try:
        big = stream(f"s3://{BUCKET}/{prefix}-big?endpoint={gentle.url()}&stall_timeout_secs=2", "big", 40 << 20,
                     s3_env())
        assert big["stored"] == 40 << 20
        assert gentle.resets + gentle.stalls > 0, "the proxy broke nothing: the test proves nothing"
    finally:
        gentle.close()


def azure_storage(prefix: str, container: str = "kb-integration") -> dict:
    return {"backend": "azure", "container": container, "prefix": prefix, "endpoint": AZURE_ENDPOINT_URL()}


def AZURE_ENDPOINT_URL() -> str:  # noqa: N802 - reads the fixture's value lazily
    from conftest import AZURE_ENDPOINT
    return AZURE_ENDPOINT


def ensure_container(container: str = "kb-integration") -> None:
    env = azure_env()
    env["KB_TEST_AZURE_URL"] = f"azure://{container}?endpoint={AZURE_ENDPOINT_URL()}"
    p = subprocess.run([str(ROOT / "build" / "store_conformance"),
                        "--gtest_filter=Backends/StoreConformance.OverwriteReplacesWholeObject/azure"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]


def test_round_trip_through_azure_and_a_wrong_key(tmp_path, azurite):
    ensure_container()
    topic = unique("azrt")
    create_topic(topic, 2)
    produce(topic, [rec(p, f"k{p}-{i}", f"value {p}/{i}", headers=[("h", "x")], timestamp=BASE_TS + i)
                    for p in range(2) for i in range(150)])
    cfg = backup_config("unused", [topic], backup_id="az-rt")
    cfg["storage"] = azure_storage(f"production/{topic}")
    cli_ok(["backup", "--config", write_config(tmp_path, cfg, "backup.yaml")], env=azure_env())
    url = f"azure://kb-integration/production/{topic}?endpoint={azurite}"
    cli_ok(["validate", "--path", url, "--backup-id", "az-rt", "--deep"], env=azure_env())
    rcfg = restore_config("unused", backup_id="az-rt")
    rcfg["storage"] = azure_storage(f"production/{topic}")
    cli_ok(["restore", "--config", write_config(tmp_path, rcfg, "restore.yaml")], env=azure_env())
    src, dst = parallel(lambda: dump(topic, SOURCE), lambda: dump(topic, TARGET))
    assert_same_records(src, dst, what=topic)

    wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ=="
    r = run_cli(["list", "--path", url], env=azure_env(key=wrong), timeout=60)
    assert_error(r, EXIT_AUTH, "Azure", "kb-integration", "AuthenticationFailed")
    assert wrong not in r.stdout + r.stderr and AZURE_KEY not in r.stdout + r.stderr
    assert r.seconds < 10, f"an auth failure must not be retried ({r.seconds:.1f}s)"

    r = run_cli(["list", "--path", f"azure://no-such-container?endpoint={azurite}"], env=azure_env(), timeout=60)
    assert_error(r, EXIT_NOT_FOUND, "no-such-container", "does not exist")


def test_round_trip_through_gcs(tmp_path, gcs_server):
    """The fidelity round trip through the GCS JSON API (fake-gcs-server;
    resumable uploads are covered by the conformance suite's large object)."""
    env = gcs_env()
    conformance = ROOT / "build" / "store_conformance"
    e = dict(env, KB_TEST_GCS_URL="gs://kb-integration")
    p = subprocess.run([str(conformance), "--gtest_filter=Backends/StoreConformance.OverwriteReplacesWholeObject/gcs"],
                       env=e, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    topic = unique("gcsrt")
    create_topic(topic, 2)
    produce(topic, [rec(p, f"k{p}-{i}", f"value {p}/{i}", headers=[("h", "x")], timestamp=BASE_TS + i)
                    for p in range(2) for i in range(150)])
    cfg = backup_config("unused", [topic], backup_id="gcs-rt")
    cfg["storage"] = {"backend": "gcs", "bucket": "kb-integration", "prefix": f"production/{topic}"}
    cli_ok(["backup", "--config", write_config(tmp_path, cfg, "backup.yaml")], env=env)
    url = f"gs://kb-integration/production/{topic}"
    cli_ok(["validate", "--path", url, "--backup-id", "gcs-rt", "--deep"], env=env)
    rcfg = restore_config("unused", backup_id="gcs-rt")
    rcfg["storage"] = cfg["storage"]
    cli_ok(["restore", "--config", write_config(tmp_path, rcfg, "restore.yaml")], env=env)
    src, dst = parallel(lambda: dump(topic, SOURCE), lambda: dump(topic, TARGET))
    assert_same_records(src, dst, what=topic)

    r = run_cli(["list", "--path", "gs://no-such-bucket-kb/p"], env=env, timeout=60)
    assert_error(r, EXIT_NOT_FOUND, "no-such-bucket-kb", "does not exist")


def test_point_in_time_restore_reads_a_small_fraction_from_s3(tmp_path, s3_server):
    """One minute out of two hours of records (one per 600 ms, 400 B of
    random hex each), backed up into S3 in 6 segments: the restore skips the
    segments outside the window and fetches only the blocks it needs with
    ranged GETs, at most 5% of the stored bytes."""
    ensure_bucket()
    topic = unique("s3pitr")
    create_topic(topic, 1)
    rng = random.Random(5)
    hours = [rec(0, f"k{i}", f"{i:05d} " + "%0400x" % rng.getrandbits(1600), timestamp=BASE_TS + 600 * i)
             for i in range(12000)]
    produce(topic, hours)
    prefix = f"pitr/{topic}"
    cfg = backup_config("unused", [topic], backup_id="hour", segment_max_records=2000, block_size_bytes=8192)
    cfg["storage"] = s3_storage(prefix)
    backup = cli_ok(["backup", "--config", write_config(tmp_path, cfg, "backup.yaml"), "--format", "json"],
                    env=s3_env()).json()
    start, end = BASE_TS + 600 * 3000, BASE_TS + 600 * 3000 + 59_999     # minute 30, inclusive
    rcfg = restore_config("unused", backup_id="hour", topic_mapping={topic: f"{topic}-minute"},
                          time_window_start=start, time_window_end=end)
    rcfg["storage"] = s3_storage(prefix)
    report = cli_ok(["restore", "--config", write_config(tmp_path, rcfg, "restore.yaml"), "--format", "json"],
                    env=s3_env()).json()
    expected = [r for r in dump(topic) if start <= r["timestamp"] <= end]
    assert report["records"] == len(expected) == 100, report
    assert_same_records(expected, dump(f"{topic}-minute", TARGET), what=f"{topic}-minute")
    fetched, stored = report["bytes_fetched"], backup["stored_bytes"]
    print(f"one minute of two hours from S3: fetched {fetched} of {stored} stored bytes ({100 * fetched / stored:.1f}%)")
    assert 0 < fetched <= 0.05 * stored, f"fetched {fetched} bytes of {stored}: more than 5%"


def stream(url: str, key: str, size: int, env: dict) -> dict:
    p = subprocess.run([str(ROOT / "build" / "stream_upload"), url, key, str(size), "--delete"], env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return json.loads(p.stdout)


def test_a_two_gigabyte_stream_uploads_in_bounded_memory(s3_server, azurite):
    """A segment stream of 2 GiB goes to S3 as a multipart upload holding one
    16 MiB part at a time: the uploader's peak RSS stays far below 256 MiB.
    Azure's staged blocks are checked the same way with a smaller object."""
    ensure_bucket()
    two_gib = 2 << 30
    s3 = stream(f"s3://{BUCKET}/stream-{unique('rss')}?endpoint={S3_ENDPOINT}", "big", two_gib, s3_env())
    assert s3["stored"] == two_gib
    assert s3["peak_buffered"] <= (16 << 20) + (1 << 20) + 13, s3
    assert 0 < s3["peak_rss_kib"] < 128 * 1024, f"peak RSS {s3['peak_rss_kib']} KiB for a 2 GiB upload"

    env = azure_env()
    az = stream(f"azure://kb-conformance/stream-{unique('rss')}?endpoint={azurite}", "big", 256 << 20, env)
    assert az["stored"] == 256 << 20
    assert 0 < az["peak_rss_kib"] < 128 * 1024, az
