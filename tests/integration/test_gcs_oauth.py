"""GCS with a service-account key: kafka-backup signs a JWT (RS256) with the
key and exchanges it at the key's token_uri for an access token. The token
endpoint here follows Google's documented protocol (RFC 7523 JWT bearer grant)
and verifies the signature with the public key using the openssl command; the
storage calls then go to fake-gcs-server (which checks no credentials)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import EXIT_AUTH, assert_error, run_cli

EMAIL = "kafka-backup@test-project.iam.gserviceaccount.com"


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def rsa_key(directory: Path, name: str) -> tuple[Path, Path]:
    private, public = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                    str(private)], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)], check=True,
                   capture_output=True)
    return private, public


class TokenEndpoint(BaseHTTPRequestHandler):
    public_key: Path
    workdir: Path
    grants: list = []

    def log_message(self, *args):
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802
        form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
        jwt = form.get("assertion", "")
        header_b64, claims_b64, sig_b64 = (jwt.split(".") + ["", "", ""])[:3]
        data, sig = self.workdir / "signed.txt", self.workdir / "sig.bin"
        data.write_bytes(f"{header_b64}.{claims_b64}".encode())
        sig.write_bytes(b64url_decode(sig_b64))
        verified = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(self.public_key), "-signature",
                                   str(sig), str(data)], capture_output=True).returncode == 0
        claims = json.loads(b64url_decode(claims_b64)) if claims_b64 else {}
        TokenEndpoint.grants.append({"grant_type": form.get("grant_type"), "verified": verified,
                                     "header": json.loads(b64url_decode(header_b64)) if header_b64 else {},
                                     "claims": claims})
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or not verified:
            self._json(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
            return
        self._json(200, {"access_token": "ya29.stub-token", "expires_in": 3599, "token_type": "Bearer"})


@pytest.fixture
def token_endpoint(tmp_path):
    TokenEndpoint.grants = []
    TokenEndpoint.workdir = tmp_path
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token"
    server.shutdown()


def key_file(tmp_path: Path, private: Path, token_uri: str) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps({"type": "service_account", "project_id": "test-project",
                                "private_key_id": "0123", "private_key": private.read_text(),
                                "client_email": EMAIL, "token_uri": token_uri}))
    return path


def oauth_env(key: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "GCS_HMAC_", "STORAGE_EMULATOR"))}
    env["GOOGLE_APPLICATION_CREDENTIALS"] = str(key)
    return env


UNSET = ["STORAGE_EMULATOR_HOST", "GOOGLE_OAUTH_ACCESS_TOKEN", "GCS_HMAC_ACCESS_ID", "GCS_HMAC_SECRET"]


def test_service_account_key_is_exchanged_for_a_token(tmp_path, gcs_server, token_endpoint):
    private, public = rsa_key(tmp_path, "sa")
    TokenEndpoint.public_key = public
    env = oauth_env(key_file(tmp_path, private, token_endpoint))
    url = f"gs://kb-oauth/p?endpoint={gcs_server}"
    r = run_cli(["list", "--path", url], env=env, unset=UNSET, timeout=60)
    # The bucket does not exist on the emulator: what matters is that the token was obtained first.
    assert r.rc in (0, 3), r.describe()
    assert len(TokenEndpoint.grants) == 1, TokenEndpoint.grants
    g = TokenEndpoint.grants[0]
    assert g["verified"], "the JWT must verify with the service account's public key"
    assert g["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert g["header"] == {"alg": "RS256", "typ": "JWT"}
    assert g["claims"]["iss"] == EMAIL and g["claims"]["aud"] == token_endpoint
    assert g["claims"]["scope"] == "https://www.googleapis.com/auth/devstorage.read_write"
    assert g["claims"]["exp"] - g["claims"]["iat"] == 3600
    assert "BEGIN PRIVATE KEY" not in r.stdout + r.stderr


def test_a_key_the_endpoint_does_not_know_is_refused(tmp_path, gcs_server, token_endpoint):
    private, _ = rsa_key(tmp_path, "sa")
    _, other_public = rsa_key(tmp_path, "other")
    TokenEndpoint.public_key = other_public
    env = oauth_env(key_file(tmp_path, private, token_endpoint))
    r = run_cli(["list", "--path", f"gs://kb-oauth/p?endpoint={gcs_server}"], env=env, unset=UNSET, timeout=60)
    assert_error(r, EXIT_AUTH, EMAIL, "invalid_grant")
    assert r.seconds < 10, f"a refused key must not be retried ({r.seconds:.1f}s)"
