"""Storage credentials from the cloud's identity services, against local endpoints that follow
each provider's documented protocol (no real Azure AD or GCE metadata server can run here):

- Azure AD (Entra ID) for Blob storage: the client credentials grant at
  AZURE_AUTHORITY_HOST/TENANT/oauth2/v2.0/token, with a client secret (service principal) or the
  federated token file as the client assertion (AKS workload identity); the bearer token then
  goes to Azurite started here with --oauth basic (HTTPS, which Azurite's OAuth requires), which
  checks the token's issuer, audience and lifetime and refuses requests without one.
- GCE / GKE workload identity for GCS: the metadata server's
  /computeMetadata/v1/instance/service-accounts/default/token (Metadata-Flavor: Google) at
  GCE_METADATA_HOST; the storage calls go through a proxy that refuses any other bearer token
  before fake-gcs-server (which checks none).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import secrets
import socket
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import (AZURE_ACCOUNT, AZURE_KEY, EXIT_AUTH, EXIT_BAD_INPUT, GCS_ENDPOINT, ROOT, assert_error,
                      assert_same_records, backup_config, create_topic, dump, gcs_env, produce, rec,
                      restore_config, run_cli, unique, write_config)

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "0f5c2a4e-kafka-backup-test"
CLIENT_SECRET = "aad-client-secret-" + secrets.token_hex(6)
# An application whose tokens name another audience: Azurite must refuse them.
OTHER_AUDIENCE_CLIENT_ID = "0f5c2a4e-other-audience"
FEDERATED_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6a2I6YmFja3VwIn0.c2lnbmF0dXJl"
STORAGE_SCOPE = "https://storage.azure.com/.default"
AZURITE_MAIN = ROOT / ".cache" / "azurite" / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
CONFORMANCE = ROOT / "build" / "store_conformance"

# Every credential variable of the Azure and Google chains, unset around each run.
CLOUD_VARS = ["AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN",
              "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE",
              "AZURE_AUTHORITY_HOST", "STORAGE_EMULATOR_HOST", "GOOGLE_OAUTH_ACCESS_TOKEN",
              "GOOGLE_APPLICATION_CREDENTIALS", "GCS_HMAC_ACCESS_ID", "GCS_HMAC_SECRET", "GCE_METADATA_HOST",
              "SSL_CERT_FILE", "SSL_CERT_DIR"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def serve(handler) -> tuple[ThreadingHTTPServer, int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def run(args: list, env: dict, timeout: float = 120):
    return run_cli(args, env=env, unset=[v for v in CLOUD_VARS if v not in env], timeout=timeout)


@pytest.fixture(scope="module")
def topic() -> dict:
    name = unique("cloud-id")
    create_topic(name, 2)
    produce(name, [rec(p, f"k{i}", f"v{p}-{i}", headers=[("h", str(i))], timestamp=1_700_000_000_000 + i)
                   for p in range(2) for i in range(15)])
    return {"topic": name, "records": dump(name)}


# ------------------------------------------------------------------ Azure AD

class AzureAd(BaseHTTPRequestHandler):
    """Azure AD's v2.0 token endpoint (client credentials grant), as documented in
    "Microsoft identity platform and the OAuth 2.0 client credentials flow": a client secret, or
    a client assertion (jwt-bearer) that must be the workload's federated token."""
    requests: list[dict] = []

    def do_POST(self):  # noqa: N802
        form = {k: v[0] for k, v in urllib.parse.parse_qs(
            self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()).items()}
        tenant = self.path.split("/")[1]
        entry = {"path": self.path, "tenant": tenant, **{k: v for k, v in form.items() if k != "client_secret"},
                 "secret_ok": form.get("client_secret") == CLIENT_SECRET}
        AzureAd.requests.append(entry)
        ok = (self.path == f"/{TENANT}/oauth2/v2.0/token" and form.get("grant_type") == "client_credentials"
              and form.get("client_id") in (CLIENT_ID, OTHER_AUDIENCE_CLIENT_ID) and form.get("scope") == STORAGE_SCOPE
              and (form.get("client_secret") == CLIENT_SECRET or (
                  form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                  and form.get("client_assertion") == FEDERATED_TOKEN)))
        if not ok:
            self._send(401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret "
                             "provided. Ensure the secret being sent in the request is the client secret value."})
            return
        now = int(time.time())
        audience = "https://storage.azure.com" if form["client_id"] == CLIENT_ID else "https://vault.azure.net"
        claims = {"aud": audience, "iss": f"https://sts.windows.net/{TENANT}/", "iat": now,
                  "nbf": now - 5, "exp": now + 3599, "appid": CLIENT_ID, "tid": TENANT, "oid": "kb-test"}
        head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64url(json.dumps(claims).encode())
        token = head + "." + b64url(hmac.new(b"not-checked-by-azurite", head.encode(), hashlib.sha256).digest())
        self._send(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token})

    def _send(self, code: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def azure_ad():
    AzureAd.requests = []
    server, port = serve(AzureAd)
    yield f"http://127.0.0.1:{port}/"
    server.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def azurite_oauth(tmp_path_factory):
    """Azurite with --oauth basic over HTTPS (a certificate from a CA made here); the test account
    of scripts/azurite.sh (SharedKey still works, to check the data independently)."""
    if not AZURE_KEY:
        pytest.fail("KB_AZURE_KEY is not set: eval \"$(bash scripts/azurite.sh env)\" (scripts/test.sh does)",
                    pytrace=False)
    if not AZURITE_MAIN.is_file():
        pytest.fail(f"{AZURITE_MAIN} is missing: run scripts/setup.sh", pytrace=False)
    d = tmp_path_factory.mktemp("azurite-oauth")
    ca_key, ca, key, csr, crt = (d / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt"))
    steps = [["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", ca_key, "-out", ca,
              "-subj", "/CN=kafka-backup azurite test CA", "-addext", "basicConstraints=critical,CA:TRUE"],
             ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"]]
    for step in steps:
        subprocess.run([str(a) for a in step], check=True, capture_output=True)
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    subprocess.run(["openssl", "x509", "-req", "-days", "2", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
                    "-CAcreateserial", "-extfile", str(d / "ext"), "-out", str(crt)], check=True, capture_output=True)
    port = free_port()
    log = open(d / "azurite.log", "w")
    env = {k: v for k, v in os.environ.items() if k != "AZURITE_DB"}
    env["AZURITE_ACCOUNTS"] = f"{AZURE_ACCOUNT}:{AZURE_KEY}"
    proc = subprocess.Popen(["node", str(AZURITE_MAIN), "--blobHost", "127.0.0.1", "--blobPort", str(port),
                             "--oauth", "basic", "--cert", str(crt), "--key", str(key), "--inMemoryPersistence",
                             "--skipApiVersionCheck", "--disableProductStyleUrl", "--disableTelemetry"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=d)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"Azurite with --oauth did not start:\n{(d / 'azurite.log').read_text()}", pytrace=False)
            time.sleep(0.2)
    yield {"endpoint": f"https://127.0.0.1:{port}/{AZURE_ACCOUNT}", "ca": str(ca)}
    proc.terminate()
    proc.wait(10)
    log.close()


def aad_env(authority: str, azurite: dict, **overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in CLOUD_VARS}
    env.update(AZURE_STORAGE_ACCOUNT=AZURE_ACCOUNT, AZURE_TENANT_ID=TENANT, AZURE_CLIENT_ID=CLIENT_ID,
               AZURE_CLIENT_SECRET=CLIENT_SECRET, AZURE_AUTHORITY_HOST=authority, SSL_CERT_FILE=azurite["ca"])
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def ensure_container(env: dict, endpoint: str, container: str) -> None:
    """Creates the container through the store itself (tests/conformance), with env's credentials."""
    p = subprocess.run([str(CONFORMANCE), "--gtest_filter=Backends/StoreConformance.OverwriteReplacesWholeObject/azure"],
                       env={**env, "KB_TEST_AZURE_URL": f"azure://{container}?endpoint={endpoint}"},
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "[  PASSED  ] 1 test" in p.stdout, p.stdout[-3000:] + p.stderr[-2000:]


def azure_storage(endpoint: str, container: str, prefix: str) -> dict:
    return {"backend": "azure", "container": container, "prefix": prefix, "endpoint": endpoint}


def test_azure_ad_service_principal_backs_up_and_restores(tmp_path, topic, azure_ad, azurite_oauth):
    """AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET: a token for
    https://storage.azure.com/.default, sent as a bearer token that Azurite checks; the backup
    validates deep and restores record for record."""
    env = aad_env(azure_ad, azurite_oauth)
    endpoint = azurite_oauth["endpoint"]
    ensure_container(env, endpoint, "kb-aad")
    cfg = backup_config("unused", [topic["topic"]], backup_id="aad-sp")
    cfg["storage"] = azure_storage(endpoint, "kb-aad", "sp")
    r = run(["backup", "--config", write_config(tmp_path, cfg)], env)
    assert r.rc == 0, r.describe()
    url = f"azure://kb-aad/sp?endpoint={endpoint}"
    v = run(["validate", "--path", url, "--backup-id", "aad-sp", "--deep"], env)
    assert v.rc == 0, v.describe()
    renamed = unique("cloud-id-aad")
    rcfg = restore_config("unused", backup_id="aad-sp", topic_mapping={topic["topic"]: renamed})
    rcfg["storage"] = azure_storage(endpoint, "kb-aad", "sp")
    rr = run(["restore", "--config", write_config(tmp_path, rcfg, "restore.yaml")], env)
    assert rr.rc == 0, rr.describe()
    assert_same_records(topic["records"], dump(renamed, bootstrap=os.environ.get("KB_TARGET_BOOTSTRAP",
                                                                               "127.0.0.1:29092")),
                        what="restore from Azure with an Azure AD token")
    grants = [q for q in AzureAd.requests if q["secret_ok"]]
    assert grants and all(q["scope"] == STORAGE_SCOPE and q["tenant"] == TENANT for q in grants), AzureAd.requests
    for out in (r, v, rr):
        assert CLIENT_SECRET not in out.stdout + out.stderr

    # Azurite does check the token: one for another audience (Key Vault's) is refused.
    refused = run(["list", "--path", url], {**env, "AZURE_CLIENT_ID": OTHER_AUDIENCE_CLIENT_ID}, timeout=60)
    assert_error(refused, EXIT_AUTH, "kb-aad", "403")


def test_azure_ad_workload_identity_uses_the_federated_token_file(tmp_path, topic, azure_ad, azurite_oauth):
    """AKS workload identity: AZURE_FEDERATED_TOKEN_FILE's token is the client assertion."""
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(FEDERATED_TOKEN + "\n")
    env = aad_env(azure_ad, azurite_oauth, AZURE_CLIENT_SECRET=None, AZURE_FEDERATED_TOKEN_FILE=str(token_file))
    endpoint = azurite_oauth["endpoint"]
    ensure_container(env, endpoint, "kb-aad-wi")
    before = len(AzureAd.requests)
    cfg = backup_config("unused", [topic["topic"]], backup_id="aad-wi")
    cfg["storage"] = azure_storage(endpoint, "kb-aad-wi", "wi")
    r = run(["backup", "--config", write_config(tmp_path, cfg), "--format", "json"], env)
    assert r.rc == 0, r.describe()
    assert r.json()["records"] == len(topic["records"])
    used = AzureAd.requests[before:]
    assert used and all(q.get("client_assertion") == FEDERATED_TOKEN and "client_secret" not in q for q in used), used


def test_azure_ad_wrong_client_secret_is_an_auth_error(tmp_path, azure_ad, azurite_oauth):
    wrong = "not-the-aad-secret-" + secrets.token_hex(4)
    env = aad_env(azure_ad, azurite_oauth, AZURE_CLIENT_SECRET=wrong)
    r = run(["list", "--path", f"azure://kb-aad/sp?endpoint={azurite_oauth['endpoint']}"], env, timeout=60)
    assert_error(r, EXIT_AUTH, CLIENT_ID, "AZURE_CLIENT_SECRET", "invalid_client")
    assert wrong not in r.stdout + r.stderr


def test_azure_ad_settings_that_cannot_work_are_clear_errors(tmp_path, azure_ad, azurite_oauth):
    url = f"azure://kb-aad/sp?endpoint={azurite_oauth['endpoint']}"
    half = aad_env(azure_ad, azurite_oauth, AZURE_CLIENT_SECRET=None)
    assert_error(run(["list", "--path", url], half, timeout=60), EXIT_BAD_INPUT, "AZURE_FEDERATED_TOKEN_FILE")
    # A server whose CA is not trusted: the error says how to trust it.
    untrusted = aad_env(azure_ad, azurite_oauth, SSL_CERT_FILE=None)
    assert_error(run(["list", "--path", url], untrusted, timeout=60), EXIT_BAD_INPUT, "SSL_CERT_FILE")


# ------------------------------------------------------- GCE metadata server

class Metadata(BaseHTTPRequestHandler):
    """The GCE metadata server's token path, as documented ("Authenticate workloads using
    service accounts"): refused without Metadata-Flavor: Google."""
    token = "ya29.kbtest-" + secrets.token_hex(8)
    bound = True
    requests: list[dict] = []

    def do_GET(self):  # noqa: N802
        Metadata.requests.append({"path": self.path, "flavor": self.headers.get("Metadata-Flavor")})
        if self.headers.get("Metadata-Flavor") != "Google":
            self._send(403, b"Missing Metadata-Flavor:Google header.", "text/html")
        elif self.path != "/computeMetadata/v1/instance/service-accounts/default/token" or not Metadata.bound:
            self._send(404, b"Not Found", "text/html")
        else:
            self._send(200, json.dumps({"access_token": Metadata.token, "expires_in": 3599,
                                        "token_type": "Bearer"}).encode(), "application/json")

    def _send(self, code: int, data: bytes, kind: str):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class BearerProxy(BaseHTTPRequestHandler):
    """Forwards to fake-gcs-server only requests that carry the metadata server's token."""
    seen: list[str] = []

    def _forward(self):
        auth = self.headers.get("Authorization", "")
        BearerProxy.seen.append(auth)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if auth != f"Bearer {Metadata.token}":
            data = json.dumps({"error": {"code": 401, "message": "Invalid Credentials"}}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        host, _, port = GCS_ENDPOINT.split("://", 1)[1].partition(":")
        upstream = http.client.HTTPConnection(host, int(port or 80), timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "authorization")}
        upstream.request(self.command, self.path, body=body, headers=headers)
        resp = upstream.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        upstream.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def metadata_and_proxy(gcs_server):
    Metadata.requests, BearerProxy.seen, Metadata.bound = [], [], True
    meta, meta_port = serve(Metadata)
    proxy, proxy_port = serve(BearerProxy)
    p = subprocess.run([str(CONFORMANCE), "--gtest_filter=Backends/StoreConformance.OverwriteReplacesWholeObject/gcs"],
                       env={**gcs_env(), "KB_TEST_GCS_URL": "gs://kb-metadata"}, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    yield {"metadata": f"127.0.0.1:{meta_port}", "endpoint": f"http://127.0.0.1:{proxy_port}"}
    meta.shutdown()
    proxy.shutdown()


def metadata_env(host: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in CLOUD_VARS}
    env["GCE_METADATA_HOST"] = host
    return env


def test_gcs_token_from_the_metadata_server(tmp_path, topic, metadata_and_proxy):
    """No key, no token, no emulator: the metadata server's token (GKE workload identity) is
    the bearer of every storage call; backup and restore round trip."""
    env = metadata_env(metadata_and_proxy["metadata"])
    storage = {"backend": "gcs", "bucket": "kb-metadata", "prefix": unique("wi"),
               "endpoint": metadata_and_proxy["endpoint"]}
    cfg = backup_config("unused", [topic["topic"]], backup_id="gke-wi")
    cfg["storage"] = storage
    r = run(["backup", "--config", write_config(tmp_path, cfg)], env)
    assert r.rc == 0, r.describe()
    renamed = unique("cloud-id-gcs")
    rcfg = restore_config("unused", backup_id="gke-wi", topic_mapping={topic["topic"]: renamed})
    rcfg["storage"] = storage
    rr = run(["restore", "--config", write_config(tmp_path, rcfg, "restore.yaml")], env)
    assert rr.rc == 0, rr.describe()
    assert_same_records(topic["records"], dump(renamed, bootstrap=os.environ.get("KB_TARGET_BOOTSTRAP",
                                                                               "127.0.0.1:29092")),
                        what="restore from GCS with a metadata-server token")
    assert Metadata.requests and all(q["flavor"] == "Google" for q in Metadata.requests), Metadata.requests
    assert BearerProxy.seen and set(BearerProxy.seen) == {f"Bearer {Metadata.token}"}, set(BearerProxy.seen)


def test_gcs_metadata_server_without_a_bound_account_is_an_auth_error(tmp_path, metadata_and_proxy):
    Metadata.bound = False
    try:
        r = run(["list", "--path", f"gs://kb-metadata/wi?endpoint={metadata_and_proxy['endpoint']}"],
                metadata_env(metadata_and_proxy["metadata"]), timeout=60)
    finally:
        Metadata.bound = True
    assert_error(r, EXIT_AUTH, "metadata server", "HTTP 404", "workload identity")


def test_gcs_without_any_credentials_names_every_way_to_give_them(tmp_path, metadata_and_proxy):
    """No GCE_METADATA_HOST either: the default metadata.google.internal does not resolve here."""
    env = {k: v for k, v in os.environ.items() if k not in CLOUD_VARS}
    r = run(["list", "--path", f"gs://kb-metadata/wi?endpoint={metadata_and_proxy['endpoint']}"], env, timeout=60)
    assert_error(r, EXIT_AUTH, "GOOGLE_APPLICATION_CREDENTIALS", "metadata.google.internal")
