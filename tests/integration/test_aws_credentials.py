"""S3 credentials that are not static keys, each against a small local
endpoint that follows the documented protocol: web identity (Kubernetes IRSA:
STS AssumeRoleWithWebIdentity with the projected token) and the EC2 instance
metadata service (IMDSv2: a session token first, then the role's credentials).

Against s3proxy the stub hands out s3proxy's static keys and no session token:
s3proxy answers 501 to any request that carries x-amz-security-token.

Session tokens are tested end to end against moto, which checks them: its STS
issues temporary credentials (AssumeRole of a role allowed s3:*, signed by
moto's IAM user; moto with IAM auth on refuses unsigned STS calls, so the
binary's own AssumeRoleWithWebIdentity goes to the stub, which hands out those
credentials), and its S3 accepts a request signed with the temporary key only
if x-amz-security-token is that session's token. A backup, validate and list
succeed with them from the environment and from web identity; a tampered or
missing token is refused with exit 6."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import (EXIT_AUTH, S3_ACCESS_KEY, S3_SECRET_KEY, assert_error, backup_config, cli_ok, create_topic,
                      produce, rec, run_cli, unique, write_config)
from helpers.storage import BUCKET, ensure_bucket, moto_check

ROLE_ARN = "arn:aws:iam::123456789012:role/kafka-backup"
IMDS_TOKEN = "imds-session-token-0123"
S3PROXY_CREDENTIALS = {"AccessKeyId": S3_ACCESS_KEY, "SecretAccessKey": S3_SECRET_KEY, "SessionToken": ""}
MOTO_BUCKET = "kb-temporary-credentials"


class Stub(BaseHTTPRequestHandler):
    """STS (POST /) and IMDSv2 (/latest/...). Records what it was asked;
    hands out `credentials` (AccessKeyId, SecretAccessKey, SessionToken)."""
    calls: list = []
    web_identity_token = ""
    credentials = S3PROXY_CREDENTIALS

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: str, ctype: str = "text/plain") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 - STS
        form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
        Stub.calls.append(("STS", form))
        if form.get("Action") != "AssumeRoleWithWebIdentity" or form.get("RoleArn") != ROLE_ARN \
                or form.get("WebIdentityToken") != Stub.web_identity_token:
            self._send(403, "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                            "<Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error>"
                            "</ErrorResponse>", "text/xml")
            return
        expires = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        c = Stub.credentials
        self._send(200, f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult><Credentials>
    <AccessKeyId>{c["AccessKeyId"]}</AccessKeyId><SecretAccessKey>{c["SecretAccessKey"]}</SecretAccessKey>
    <SessionToken>{c["SessionToken"]}</SessionToken><Expiration>{expires}</Expiration>
  </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>""", "text/xml")

    def do_PUT(self):  # noqa: N802 - IMDSv2 session token
        Stub.calls.append(("PUT", self.path, self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")))
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self._send(200, IMDS_TOKEN)
        else:
            self._send(400, "bad token request")

    def do_GET(self):  # noqa: N802 - IMDSv2 metadata
        token = self.headers.get("X-aws-ec2-metadata-token")
        Stub.calls.append(("GET", self.path, token))
        if token != IMDS_TOKEN:
            self._send(401, "")
            return
        if self.path == "/latest/meta-data/iam/security-credentials/":
            self._send(200, "kb-role")
        elif self.path == "/latest/meta-data/iam/security-credentials/kb-role":
            expires = (datetime.now(timezone.utc) + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
            c = Stub.credentials
            self._send(200, json.dumps({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": c["AccessKeyId"],
                                        "SecretAccessKey": c["SecretAccessKey"], "Token": c["SessionToken"],
                                        "Expiration": expires}), "application/json")
        else:
            self._send(404, "")


@pytest.fixture
def stub():
    Stub.calls = []
    Stub.credentials = S3PROXY_CREDENTIALS
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def bare_env() -> dict:
    """No static AWS credentials anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE="/nonexistent/credentials", AWS_REGION="us-east-1")
    return env


AWS_VARS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_EC2_METADATA_SERVICE_ENDPOINT"]


def test_web_identity_token_is_exchanged_at_sts(tmp_path, s3_server, stub):
    token_file = tmp_path / "token"
    Stub.web_identity_token = "eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.sig"
    token_file.write_text(Stub.web_identity_token + "\n")
    env = bare_env()
    env.update(AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file), AWS_ROLE_ARN=ROLE_ARN,
               AWS_ROLE_SESSION_NAME="backup-pod", AWS_ENDPOINT_URL_STS=stub)
    ensure_bucket()
    r = cli_ok(["list", "--path", f"s3://{BUCKET}/webidentity?endpoint={s3_server}"], env=env, unset=AWS_VARS[:4])
    sts = [c for c in Stub.calls if c[0] == "STS"]
    assert len(sts) == 1, Stub.calls
    assert sts[0][1]["RoleSessionName"] == "backup-pod"

    Stub.web_identity_token = "another-token"          # STS refuses the file's token now
    r = run_cli(["list", "--path", f"s3://{BUCKET}/webidentity?endpoint={s3_server}"], env=env, unset=AWS_VARS[:4])
    assert_error(r, EXIT_AUTH, ROLE_ARN, "AccessDenied")


def test_instance_metadata_v2_session_token_first(tmp_path, s3_server, stub):
    env = bare_env()
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = stub
    ensure_bucket()
    Stub.calls = []
    cli_ok(["list", "--path", f"s3://{BUCKET}/imds?endpoint={s3_server}"], env=env, unset=AWS_VARS[:6])
    assert Stub.calls[0] == ("PUT", "/latest/api/token", "21600"), Stub.calls
    gets = [c for c in Stub.calls if c[0] == "GET"]
    assert [c[1] for c in gets] == ["/latest/meta-data/iam/security-credentials/",
                                    "/latest/meta-data/iam/security-credentials/kb-role"], Stub.calls
    assert all(c[2] == IMDS_TOKEN for c in gets), "every metadata read carries the IMDSv2 session token"


def test_no_credentials_anywhere_is_a_clear_error(tmp_path, s3_server):
    env = bare_env()
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:1"     # nothing listens there
    t0 = time.monotonic()
    r = run_cli(["list", "--path", f"s3://kb-none?endpoint={s3_server}"], env=env, unset=AWS_VARS[:6], timeout=60)
    assert_error(r, EXIT_AUTH, "no AWS credentials", "AWS_ACCESS_KEY_ID", "instance metadata")
    assert time.monotonic() - t0 < 15, "looking for credentials must not hang"


# ------------------------------------------------- session tokens, against moto

@pytest.fixture
def moto_session(moto_server) -> dict:
    """Temporary credentials from moto's STS, with their session token."""
    moto_check("create-bucket", MOTO_BUCKET)
    creds = json.loads(moto_check("temporary-credentials", "kafka-backup-temporary", unique("session")))
    assert creds["SessionToken"] and creds["AccessKeyId"].startswith("ASIA"), creds
    return creds


def session_env(creds: dict, token: str | None = None) -> dict:
    env = bare_env()
    env.update(AWS_ACCESS_KEY_ID=creds["AccessKeyId"], AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
               AWS_SESSION_TOKEN=creds["SessionToken"] if token is None else token)
    return env


def test_session_token_signs_a_backup_that_validates(tmp_path, moto_server, moto_session):
    topic = unique("sessiontoken")
    create_topic(topic, 2)
    produce(topic, [rec(p, f"k{i}", f"value {i}") for p in range(2) for i in range(50)])
    prefix = f"session/{topic}"
    cfg = backup_config("unused", [topic], backup_id="temporary", segment_max_records=30)
    cfg["storage"] = {"backend": "s3", "bucket": MOTO_BUCKET, "prefix": prefix, "region": "us-east-1",
                      "endpoint": moto_server}
    env = session_env(moto_session)
    cli_ok(["backup", "--config", write_config(tmp_path, cfg, "backup.yaml")], env=env, unset=AWS_VARS[3:],
           timeout=300)
    url = f"s3://{MOTO_BUCKET}/{prefix}?endpoint={moto_server}"
    cli_ok(["validate", "--path", url, "--backup-id", "temporary", "--deep"], env=env, unset=AWS_VARS[3:])
    listed = cli_ok(["list", "--path", url, "--format", "json"], env=env, unset=AWS_VARS[3:]).json()
    assert "temporary" in json.dumps(listed), listed


def test_web_identity_session_token_reaches_s3(tmp_path, moto_server, moto_session, stub):
    token_file = tmp_path / "token"
    Stub.web_identity_token = "eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.sig"
    Stub.credentials = moto_session
    token_file.write_text(Stub.web_identity_token + "\n")
    env = bare_env()
    env.update(AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file), AWS_ROLE_ARN=ROLE_ARN, AWS_ENDPOINT_URL_STS=stub)
    cli_ok(["list", "--path", f"s3://{MOTO_BUCKET}/webidentity?endpoint={moto_server}"], env=env,
           unset=AWS_VARS[:4])
    assert len([c for c in Stub.calls if c[0] == "STS"]) == 1, Stub.calls

    Stub.credentials = dict(moto_session, SessionToken=moto_session["SessionToken"][::-1])  # STS hands out junk
    r = run_cli(["list", "--path", f"s3://{MOTO_BUCKET}/webidentity?endpoint={moto_server}"], env=env,
                unset=AWS_VARS[:4])
    assert_error(r, EXIT_AUTH, MOTO_BUCKET, "InvalidToken")


def test_tampered_or_missing_session_token_is_refused(moto_server, moto_session):
    url = f"s3://{MOTO_BUCKET}/tampered?endpoint={moto_server}"
    token = moto_session["SessionToken"]
    tampered = token[:-8] + ("A" * 8 if not token.endswith("A" * 8) else "B" * 8)
    r = run_cli(["list", "--path", url], env=session_env(moto_session, tampered), unset=AWS_VARS[3:])
    line = assert_error(r, EXIT_AUTH, MOTO_BUCKET, "InvalidToken", "AWS_SESSION_TOKEN")
    assert tampered not in r.stdout + r.stderr and moto_session["SecretAccessKey"] not in line

    env = session_env(moto_session)
    del env["AWS_SESSION_TOKEN"]
    r = run_cli(["list", "--path", url], env=env, unset=AWS_VARS[2:])
    assert_error(r, EXIT_AUTH, MOTO_BUCKET, "InvalidAccessKeyId")
