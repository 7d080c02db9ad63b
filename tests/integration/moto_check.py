"""Asks the moto server, with boto3 (from moto's venv, not the product), what
it stored: run by test_s3_features.py with .cache/moto/venv/bin/python.

  moto_check.py create-locked-bucket BUCKET
  moto_check.py describe BUCKET PREFIX        -> one JSON object per line
  moto_check.py delete-version BUCKET KEY     -> prints the error code, or "deleted"
"""

from __future__ import annotations

import json
import os
import sys

import boto3
from botocore.exceptions import ClientError


def client():
    return boto3.client("s3", endpoint_url=os.environ["KB_MOTO_ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id=os.environ["KB_MOTO_ACCESS_KEY"],
                        aws_secret_access_key=os.environ["KB_MOTO_SECRET_KEY"])


def main() -> None:
    s3 = client()
    cmd = sys.argv[1]
    if cmd == "create-locked-bucket":
        s3.create_bucket(Bucket=sys.argv[2], ObjectLockEnabledForBucket=True)
    elif cmd == "describe":
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2], Prefix=sys.argv[3])
        for page in pages:
            for o in page.get("Contents", []):
                h = s3.head_object(Bucket=sys.argv[2], Key=o["Key"])
                until = h.get("ObjectLockRetainUntilDate")
                print(json.dumps({"key": o["Key"], "size": h["ContentLength"], "lock_mode": h.get("ObjectLockMode"),
                                  "retain_until": until.timestamp() if until else None,
                                  "storage_class": h.get("StorageClass"), "sse": h.get("ServerSideEncryption"),
                                  "kms_key": h.get("SSEKMSKeyId"), "version": h.get("VersionId")}))
    elif cmd == "delete-version":
        version = s3.head_object(Bucket=sys.argv[2], Key=sys.argv[3])["VersionId"]
        try:
            s3.delete_object(Bucket=sys.argv[2], Key=sys.argv[3], VersionId=version)
            print("deleted")
        except ClientError as e:
            print(e.response["Error"]["Code"])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
