"""Asks the moto server, with boto3 (from moto's venv, not the product), what
it stored: run by test_s3_features.py with .cache/moto/venv/bin/python.

  moto_check.py create-locked-bucket BUCKET
  moto_check.py describe BUCKET PREFIX        -> one JSON object per line
  moto_check.py delete-version BUCKET KEY     -> prints the error code, or "deleted"
  moto_check.py create-bucket BUCKET          (no error if it exists)
  moto_check.py temporary-credentials ROLE SESSION
      -> one JSON object: AccessKeyId, SecretAccessKey, SessionToken, Expiration.
         Creates ROLE (trusting the kafka-backup user, allowed s3:*) if needed and
         assumes it at moto's STS, signed with the user's key: moto, with IAM
         auth on, refuses unsigned STS calls such as AssumeRoleWithWebIdentity.
"""

from __future__ import annotations

import json
import os
import sys

import boto3
from botocore.exceptions import ClientError


def client(service: str = "s3"):
    return boto3.client(service, endpoint_url=os.environ["KB_MOTO_ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id=os.environ["KB_MOTO_ACCESS_KEY"],
                        aws_secret_access_key=os.environ["KB_MOTO_SECRET_KEY"])


def temporary_credentials(role: str, session: str) -> dict:
    iam = client("iam")
    user_arn = iam.get_user(UserName="kafka-backup")["User"]["Arn"]
    try:
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}]}))
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    iam.put_role_policy(RoleName=role, PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    arn = iam.get_role(RoleName=role)["Role"]["Arn"]
    c = client("sts").assume_role(RoleArn=arn, RoleSessionName=session, DurationSeconds=3600)["Credentials"]
    return {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
            "SessionToken": c["SessionToken"], "Expiration": c["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ")}


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
    elif cmd == "create-bucket":
        try:
            s3.create_bucket(Bucket=sys.argv[2])
        except ClientError as e:
            if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
    elif cmd == "temporary-credentials":
        print(json.dumps(temporary_credentials(sys.argv[2], sys.argv[3])))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
