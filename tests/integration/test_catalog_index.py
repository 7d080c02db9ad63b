"""The catalog index (docs/format/manifest.md, "The catalog index"): with 5,000
committed backups in S3 (generated manifests, as a year of hourly backups
leaves), `latest` and the parent of `backup --incremental` resolve with a
bounded number of requests, counted at the wire, and name the backup a full
scan of every manifest names; an index gone stale (manifests added or pruned
behind its back) is mended with a read of each new manifest only."""

from __future__ import annotations

import json
import random
import subprocess
from urllib.parse import unquote, urlsplit

from conftest import (MOTO_PYTHON, ROOT, S3_ACCESS_KEY, S3_ENDPOINT, S3_SECRET_KEY, backup_config, cli_ok,
                      create_topic, produce, rec, s3_env, unique, write_config)
from helpers.storage import BUCKET, ensure_bucket, s3_storage
from helpers.faulty_proxy import FaultyProxy

BACKUPS = 5000
HOUR_MS = 3_600_000


def s3_objects(put: dict[str, str] | None = None, delete: list[str] | None = None,
               get: list[str] | None = None) -> dict[str, str]:
    spec = {"endpoint": S3_ENDPOINT, "bucket": BUCKET, "access_key": S3_ACCESS_KEY, "secret_key": S3_SECRET_KEY,
            "put": put or {}, "delete": delete or [], "get": get or []}
    p = subprocess.run([str(MOTO_PYTHON), str(ROOT / "tests" / "integration" / "helpers" / "s3_fill.py")], input=json.dumps(spec),
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout)["got"]


def manifest_gets(requests: list[tuple[str, str]]) -> list[str]:
    paths = [unquote(urlsplit(t).path) for m, t in requests if m == "GET"]
    return [p for p in paths if "/manifests/" in p]


def full_scan_latest(url: str) -> str:
    """What every manifest says: `list` reads each one."""
    backups = cli_ok(["list", "--path", url, "--format", "json"], env=s3_env(), timeout=600).json()["backups"]
    committed = [b for b in backups if b["state"] == "committed"]
    assert committed, backups
    return committed[-1]["backup_id"]  # oldest first by completed_at


def test_latest_and_incremental_parent_with_five_thousand_backups(tmp_path, s3_server):
    ensure_bucket()
    topic = unique("catidx")
    create_topic(topic, 2)
    produce(topic, [rec(i % 2, f"k{i}", f"v{i}", timestamp=1_700_000_000_000 + i) for i in range(100)])
    prefix = f"catalog/{unique('p')}"
    url = f"s3://{BUCKET}/{prefix}?endpoint={S3_ENDPOINT}"
    cfg = backup_config("unused", [topic], backup_id="template")
    cfg["storage"] = s3_storage(prefix)
    cli_ok(["backup", "--config", write_config(tmp_path, cfg, "template.yaml")], env=s3_env())
    key = f"{prefix}/manifests/template.json"
    template = json.loads(s3_objects(get=[key], delete=[key])[key])  # its segments stay: the copies name them
    base = template["completed_at_ms"]

    # Half a year and more of hourly backups before it, ids not in time order.
    rng = random.Random(5)
    order = list(range(BACKUPS))
    rng.shuffle(order)
    newest = order[-1]
    generated = {}
    for rank, n in enumerate(order):
        at = base - 60_000 if n == newest else base - (BACKUPS - rank) * HOUR_MS
        m = dict(template, backup_id=f"hourly-{n:05d}", created_at_ms=at - 1000, completed_at_ms=at)
        generated[f"{prefix}/manifests/hourly-{n:05d}.json"] = json.dumps(m, indent=2) + "\n"
    s3_objects(put=generated)
    expected = f"hourly-{newest:05d}"

    host, port = S3_ENDPOINT.split("://", 1)[1].rsplit(":", 1)
    proxy = FaultyProxy(host, int(port), reset_rate=0, stall_rate=0)
    counted = f"s3://{BUCKET}/{prefix}?endpoint={proxy.url()}"
    try:
        def latest() -> tuple[str, list[tuple[str, str]]]:
            proxy.take_requests()
            d = cli_ok(["describe", "--path", counted, "--backup-id", "latest", "--format", "json"], env=s3_env(),
                       timeout=600).json()
            return d["backup_id"], proxy.take_requests()

        # No index yet: it is built from every manifest, once.
        first, built = latest()
        assert first == expected, first
        assert len(manifest_gets(built)) >= BACKUPS, len(manifest_gets(built))
        assert any(m == "PUT" and "/index/catalog.json" in t for m, t in built), "the index was not written"

        # From the index: a few LIST pages and one read of the index, and
        # describe's one read of the manifest it shows.
        second, bounded = latest()
        assert second == expected == full_scan_latest(url)
        assert manifest_gets(bounded) == [f"/{BUCKET}/{prefix}/manifests/{expected}.json"], manifest_gets(bounded)
        assert len(bounded) <= BACKUPS // 1000 + 6, bounded

        # Behind the index's back: three new backups (one the newest) and the
        # newest generated one pruned. Only the new manifests are read.
        added = {}
        for i in range(3):
            at = base - 30_000 if i == 1 else base - 90_000 - i * 1000
            added[f"{prefix}/manifests/late-{i}.json"] = json.dumps(
                dict(template, backup_id=f"late-{i}", created_at_ms=at - 1000, completed_at_ms=at)) + "\n"
        s3_objects(put=added, delete=[f"{prefix}/manifests/{expected}.json"])
        third, mended = latest()
        assert third == "late-1" == full_scan_latest(url), third
        reads = sorted(manifest_gets(mended))
        assert reads == sorted([f"/{BUCKET}/{prefix}/manifests/late-{i}.json" for i in range(3)] +
                               [f"/{BUCKET}/{prefix}/manifests/late-1.json"]), reads
        fourth, again = latest()
        assert fourth == "late-1" and len(manifest_gets(again)) == 1, manifest_gets(again)

        # An incremental backup chooses its parent from the index: it reads
        # the parent's manifest and no other.
        produce(topic, [rec(i % 2, f"k{i}", f"v{i}", timestamp=1_700_000_000_000 + i) for i in range(100, 150)])
        inc = backup_config("unused", [topic], backup_id="incremental-1")
        inc["storage"] = dict(s3_storage(prefix), endpoint=proxy.url())
        proxy.take_requests()
        summary = cli_ok(["backup", "--config", write_config(tmp_path, inc, "inc.yaml"), "--incremental", "--format",
                          "json"], env=s3_env(), timeout=600).json()
        requests = proxy.take_requests()
        assert summary["parent_backup_id"] == "late-1", summary
        reads = [r for r in manifest_gets(requests) if not r.endswith("/incremental-1.json")]
        assert reads == [f"/{BUCKET}/{prefix}/manifests/late-1.json"], reads
        assert len(requests) < 200, f"{len(requests)} requests for one incremental backup of 2 partitions"
        # The new backup went into the index at its commit: latest reads no other manifest.
        fifth, after = latest()
        assert fifth == "incremental-1" == full_scan_latest(url), fifth
        assert manifest_gets(after) == [f"/{BUCKET}/{prefix}/manifests/incremental-1.json"], manifest_gets(after)
    finally:
        proxy.close()
