"""Object-storage helpers shared by the test files: the S3 bucket of the suite and the
seed's storage block for it, and moto_check (boto3 from moto's venv)."""

from __future__ import annotations

import subprocess

from conftest import MOTO_PYTHON, ROOT, S3_ENDPOINT, s3_env

BUCKET = "kb-integration"


def s3_storage(prefix: str, bucket: str = BUCKET) -> dict:
    """The seed's storage block (backend: s3, bucket, region, prefix) plus the local endpoint."""
    return {"backend": "s3", "bucket": bucket, "region": "us-east-1", "prefix": prefix, "endpoint": S3_ENDPOINT}


def ensure_bucket(bucket: str = BUCKET) -> None:
    conformance = ROOT / "build" / "store_conformance"
    # The conformance binary creates its bucket; run one quick case to create ours.
    env = s3_env()
    env["KB_TEST_S3_URL"] = f"s3://{bucket}?endpoint={S3_ENDPOINT}"
    p = subprocess.run([str(conformance), "--gtest_filter=Backends/StoreConformance.OverwriteReplacesWholeObject/s3"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]


def moto_check(*args: str) -> str:
    p = subprocess.run([str(MOTO_PYTHON), str(ROOT / "tests" / "integration" / "helpers" / "moto_check.py"), *args],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    return p.stdout
