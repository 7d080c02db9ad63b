"""Writes and deletes many objects in an S3 bucket at once (boto3, run with
moto's venv, which has it): test_catalog_index.py stores thousands of
generated manifests with it. Reads a JSON spec on stdin:
{"endpoint", "bucket", "access_key", "secret_key", "put": {key: text}, "delete": [key], "get": [key]}
and prints {"got": {key: text}} (read before anything is written or deleted)."""

import json
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config


def main() -> None:
    spec = json.load(sys.stdin)
    s3 = boto3.client("s3", endpoint_url=spec["endpoint"], aws_access_key_id=spec["access_key"],
                      aws_secret_access_key=spec["secret_key"], region_name="us-east-1",
                      config=Config(max_pool_connections=16, retries={"max_attempts": 5}))
    bucket = spec["bucket"]
    got = {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode() for k in spec.get("get", [])}
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1].encode()),
                      spec.get("put", {}).items()))
        list(pool.map(lambda k: s3.delete_object(Bucket=bucket, Key=k), spec.get("delete", [])))
    print(json.dumps({"got": got}))


if __name__ == "__main__":
    main()
