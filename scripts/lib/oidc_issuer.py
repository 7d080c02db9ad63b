#!/usr/bin/env python3
"""A small OpenID Connect token issuer for the secure test cluster (scripts/kafka-clusters.sh).

It follows the protocol a real identity provider speaks to Kafka clients and brokers:

  POST /token   the OAuth 2.0 client credentials grant (RFC 6749 section 4.4): the client
                authenticates with HTTP Basic (client_id:client_secret, as librdkafka's
                sasl.oauthbearer.method=oidc sends it) or with client_id and client_secret in
                the form body; the answer is {"access_token", "token_type", "expires_in"}, the
                token a JWT (RFC 7519) signed RS256 with the issuer's key; a wrong client or
                secret is 401 {"error": "invalid_client"} (RFC 6749 section 5.2).
  GET  /jwks    the issuer's public key as a JSON Web Key Set (RFC 7517), what Kafka's
                OAuthBearerValidatorCallbackHandler reads from sasl.oauthbearer.jwks.endpoint.url.

Tokens carry iss, sub (the client id), aud, iat, exp and scope. Signing uses the openssl
command (already needed for the cluster's certificates), so the script needs only Python's
standard library. Every token request is appended to --log as one JSON line (the client id,
whether it was granted; never the secret).

usage: oidc_issuer.py --port P --key KEY.pem --issuer URL --audience AUD --client ID:SECRET[:AUD]... [--log F]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(key_path: str) -> dict:
    """The key's public half as a JWK; its id is a hash of the modulus."""
    out = subprocess.run(["openssl", "rsa", "-in", key_path, "-noout", "-modulus"], check=True,
                         capture_output=True, text=True).stdout
    modulus = bytes.fromhex(out.strip().split("=", 1)[1])
    exponent = (65537).to_bytes(3, "big")  # the key is made with rsa_keygen_pubexp:65537
    kid = "kb-test-" + hashlib.sha256(modulus).hexdigest()[:16]
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": b64url(modulus), "e": b64url(exponent)}


def sign_rs256(key_path: str, signing_input: bytes) -> bytes:
    return subprocess.run(["openssl", "dgst", "-sha256", "-binary", "-sign", key_path], input=signing_input,
                          check=True, capture_output=True).stdout


class Issuer:
    def __init__(self, args: argparse.Namespace):
        self.key = args.key
        self.issuer = args.issuer
        self.lifetime = args.lifetime
        # id -> (secret, audience): a client may be given tokens for another audience
        # (ID:SECRET:AUDIENCE), which a broker expecting --audience must refuse.
        self.clients = {}
        for c in args.client:
            client_id, secret, *audience = c.split(":", 2)
            self.clients[client_id] = (secret, audience[0] if audience else args.audience)
        jwk = public_jwk(args.key)
        self.kid = jwk["kid"]
        self.jwks = json.dumps({"keys": [jwk]}).encode()
        self.log_path = args.log
        self.lock = threading.Lock()

    def token(self, client_id: str, scope: str) -> str:
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        claims = {"iss": self.issuer, "sub": client_id, "aud": self.clients[client_id][1], "iat": now,
                  "exp": now + self.lifetime, "scope": scope}
        signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
        return signing_input.decode() + "." + b64url(sign_rs256(self.key, signing_input))

    def log(self, entry: dict) -> None:
        if not self.log_path:
            return
        with self.lock, open(self.log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")


def handler_for(issuer: Issuer):
    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: dict | bytes) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path.split("?")[0] == "/jwks":
                self._send(200, issuer.jwks)
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            if self.path.split("?")[0] != "/token":
                self._send(404, {"error": "not_found"})
                return
            client_id = form.get("client_id", [""])[0]
            secret = form.get("client_secret", [""])[0]
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                try:
                    decoded = base64.b64decode(auth[6:]).decode()
                    client_id, secret = (urllib.parse.unquote(p) for p in decoded.split(":", 1))
                except (ValueError, binascii.Error):
                    client_id = secret = ""
            grant = form.get("grant_type", [""])[0]
            if grant != "client_credentials":
                issuer.log({"client_id": client_id, "granted": False, "reason": "grant_type " + grant})
                self._send(400, {"error": "unsupported_grant_type"})
                return
            if not client_id or client_id not in issuer.clients or issuer.clients[client_id][0] != secret:
                issuer.log({"client_id": client_id, "granted": False, "reason": "invalid_client"})
                self._send(401, {"error": "invalid_client", "error_description": "client authentication failed"})
                return
            scope = form.get("scope", ["kafka"])[0]
            issuer.log({"client_id": client_id, "granted": True, "scope": scope})
            self._send(200, {"access_token": issuer.token(client_id, scope), "token_type": "Bearer",
                             "expires_in": issuer.lifetime, "scope": scope})

        def log_message(self, fmt, *args):  # quiet: requests go to --log
            pass

    return Handler


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--key", required=True, help="the RSA private key (PEM) tokens are signed with")
    p.add_argument("--issuer", required=True, help="the iss claim")
    p.add_argument("--audience", required=True, help="the aud claim")
    p.add_argument("--client", action="append", required=True,
                   help="ID:SECRET[:AUDIENCE] of a client (repeatable; AUDIENCE overrides --audience)")
    p.add_argument("--lifetime", type=int, default=3600, help="token lifetime in seconds")
    p.add_argument("--log", help="append one JSON line per token request here")
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(Issuer(args)))
    print(f"oidc issuer on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
