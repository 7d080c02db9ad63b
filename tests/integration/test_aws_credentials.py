"""S3 credentials that are not static keys, each against a small local
endpoint that follows the documented protocol and hands out the local S3
server's keys: web identity (Kubernetes IRSA: STS AssumeRoleWithWebIdentity
with the projected token) and the EC2 instance metadata service (IMDSv2: a
session token first, then the role's credentials).

The stub hands out no session token: s3proxy answers 501 to any request that
carries x-amz-security-token, and signing with a token is covered by the SigV4
test-suite vector in tests/unit/sigv4_test.cc."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import EXIT_AUTH, S3_ACCESS_KEY, S3_SECRET_KEY, assert_error, cli_ok, run_cli
from test_storage import BUCKET, ensure_bucket

ROLE_ARN = "arn:aws:iam::123456789012:role/kafka-backup"
IMDS_TOKEN = "imds-session-token-0123"
SESSION_TOKEN = ""


class Stub(BaseHTTPRequestHandler):
    """STS (POST /) and IMDSv2 (/latest/...). Records what it was asked."""
    calls: list = []
    web_identity_token = ""

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
        self._send(200, f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult><Credentials>
    <AccessKeyId>{S3_ACCESS_KEY}</AccessKeyId><SecretAccessKey>{S3_SECRET_KEY}</SecretAccessKey>
    <SessionToken>{SESSION_TOKEN}</SessionToken><Expiration>{expires}</Expiration>
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
            self._send(200, json.dumps({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": S3_ACCESS_KEY,
                                        "SecretAccessKey": S3_SECRET_KEY, "Token": SESSION_TOKEN,
                                        "Expiration": expires}), "application/json")
        else:
            self._send(404, "")


@pytest.fixture
def stub():
    Stub.calls = []
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
