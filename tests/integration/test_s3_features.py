"""S3 features s3proxy does not have, against a second S3 implementation
(moto's server, which checks SigV4 signatures against IAM users): Object Lock
retention on every object a backup writes, SSE-KMS with a customer key, a
storage class. The backup validates and restores whole through it, and a
locked object version cannot be deleted."""

from __future__ import annotations

import json
import os
import time

from conftest import (EXIT_AUTH, SOURCE, TARGET, assert_error, assert_same_records, backup_config, cli_ok,
                      create_topic, dump, moto_env, parallel, produce, rec, restore_config, run_cli, unique,
                      write_config)
from helpers.storage import moto_check

BUCKET = "kb-locked"


def test_object_lock_sse_kms_and_storage_class_on_every_object(tmp_path, moto_server):
    try:
        moto_check("create-locked-bucket", BUCKET)
    except AssertionError as e:
        assert "BucketAlreadyOwnedByYou" in str(e) or "BucketAlreadyExists" in str(e), e
    topic = unique("locked")
    create_topic(topic, 2)
    produce(topic, [rec(p, f"k{p}-{i}", f"value {i} " * 10, timestamp=1_700_000_000_000 + i)
                    for p in range(2) for i in range(300)])
    prefix = f"hourly/{topic}"
    kms_key = os.environ["KB_MOTO_KMS_KEY"]
    storage = {"backend": "s3", "bucket": BUCKET, "prefix": prefix, "region": "us-east-1", "endpoint": moto_server,
               "object_lock_mode": "GOVERNANCE", "object_lock_days": 2, "storage_class": "STANDARD_IA",
               "server_side_encryption": "aws:kms", "kms_key_id": kms_key}
    cfg = backup_config("unused", [topic], backup_id="locked", segment_max_records=100)
    cfg["storage"] = storage
    started = time.time()
    cli_ok(["backup", "--config", write_config(tmp_path, cfg, "backup.yaml")], env=moto_env(), timeout=300)

    objects = [json.loads(line) for line in moto_check("describe", BUCKET, prefix + "/").splitlines()]
    assert len(objects) >= 7, objects  # 6 segments and the manifest at least
    two_days = 2 * 86400
    for o in objects:
        assert o["lock_mode"] == "GOVERNANCE", o
        assert started + two_days - 120 <= o["retain_until"] <= time.time() + two_days + 120, o
        assert o["storage_class"] == "STANDARD_IA", o
        assert o["sse"] == "aws:kms" and kms_key in (o["kms_key"] or ""), o
    assert moto_check("delete-version", BUCKET, objects[0]["key"]).strip() == "AccessDenied"

    url = f"s3://{BUCKET}/{prefix}?endpoint={moto_server}"
    cli_ok(["validate", "--path", url, "--backup-id", "locked", "--deep"], env=moto_env(), timeout=300)
    rcfg = restore_config("unused", backup_id="locked")
    rcfg["storage"] = {"backend": "s3", "bucket": BUCKET, "prefix": prefix, "endpoint": moto_server}
    cli_ok(["restore", "--config", write_config(tmp_path, rcfg, "restore.yaml")], env=moto_env(), timeout=300)
    src, dst = parallel(lambda: dump(topic, SOURCE), lambda: dump(topic, TARGET))
    assert_same_records(src, dst, what=topic)

    r = run_cli(["list", "--path", url], env=moto_env(secret="not-the-secret"), timeout=60)
    assert_error(r, EXIT_AUTH, BUCKET, "SignatureDoesNotMatch")
    assert "not-the-secret" not in r.stdout + r.stderr
