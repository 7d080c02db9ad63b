"""SASL through an identity provider, against the secure cluster of scripts/kafka-clusters.sh
(`start secure`, which starts its providers too; scripts/lib/identity-providers.sh):

    14097 OIDC  SASL_PLAINTEXT, OAUTHBEARER: JWTs from the test OIDC issuer
                (scripts/lib/oidc_issuer.py on 14098, the client credentials grant), checked by
                Kafka's own OAuthBearerValidatorCallbackHandler against the issuer's JWKS, the
                expected audience and issuer.
    14099 KERBEROS  SASL_PLAINTEXT, GSSAPI: realm KB.TEST of the test KDC (MIT krb5kdc on 14088);
                the broker logs in as kafka/127.0.0.1 from its keytab, we from client.keytab
                (kafka-backup@KB.TEST); stale.keytab holds keys the KDC has since replaced.

Each provider: a backup through its listener and a restore back through it, compared record by
record; a refused credential is exit 6, quickly, with an error that says what to check; the
secrets appear in no output or stored file; settings that cannot work are exit 2.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (EXIT_AUTH, EXIT_BAD_INPUT, assert_error, assert_same_records, backup_config, cli_ok,
                      create_topic, dump, manifest_path, produce, rec, restore_config, run_cli, unique,
                      write_config)

SECURE = os.environ.get("KB_SECURE_BOOTSTRAP", "127.0.0.1:14092")
OIDC_BS = os.environ.get("KB_SECURE_OIDC_BOOTSTRAP", "127.0.0.1:14097")
OIDC_TOKEN_ENDPOINT = os.environ.get("KB_SECURE_OIDC_TOKEN_ENDPOINT", "http://127.0.0.1:14098/token")
OIDC_CLIENT_ID = os.environ.get("KB_SECURE_OIDC_CLIENT_ID", "kafka-backup")
OIDC_CLIENT_SECRET = os.environ.get("KB_SECURE_OIDC_CLIENT_SECRET", "oidc-client-secret-c81d")
OIDC_OTHER_AUDIENCE_CLIENT = os.environ.get("KB_SECURE_OIDC_OTHER_AUDIENCE_CLIENT_ID", "kafka-backup-other-audience")
KERBEROS_BS = os.environ.get("KB_SECURE_KERBEROS_BOOTSTRAP", "127.0.0.1:14099")
_IDP = Path(os.environ.get("KB_BROKER_DIR", "/tmp/kafka-backup-brokers")) / "secure" / "idp"
OIDC_REQUEST_LOG = Path(os.environ.get("KB_SECURE_OIDC_REQUEST_LOG", str(_IDP / "oidc-requests.log")))
KRB5_CONFIG = os.environ.get("KB_SECURE_KRB5_CONFIG", str(_IDP / "krb5.conf"))
KRB5_PRINCIPAL = os.environ.get("KB_SECURE_KRB5_PRINCIPAL", "kafka-backup@KB.TEST")
KRB5_KEYTAB = os.environ.get("KB_SECURE_KRB5_KEYTAB", str(_IDP / "client.keytab"))
KRB5_STALE_PRINCIPAL = os.environ.get("KB_SECURE_KRB5_STALE_PRINCIPAL", "kafka-backup-stale@KB.TEST")
KRB5_STALE_KEYTAB = os.environ.get("KB_SECURE_KRB5_STALE_KEYTAB", str(_IDP / "stale.keytab"))

HINT = ("run `bash scripts/kafka-clusters.sh start secure` (scripts/test.sh does; "
        "`bash scripts/setup.sh` once before)")


def _accepts(address: str) -> str | None:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            return None
    except OSError as e:
        return str(e)


@pytest.fixture(scope="module")
def providers_topic() -> dict:
    """The providers and listeners answer (fails, never skips, otherwise); a topic on the secure
    cluster with keys, nulls, headers and timestamps, and a committed group offset."""
    endpoint = OIDC_TOKEN_ENDPOINT.split("/")[2]
    problems = [f"{what} {a} does not accept connections ({why})"
                for what, a in (("the OIDC listener", OIDC_BS), ("the OIDC issuer", endpoint), ("the broker", SECURE),
                                ("the Kerberos listener", KERBEROS_BS))
                if (why := _accepts(a))]
    problems += [f"{f} is missing (made on the secure cluster's first start)"
                 for f in (KRB5_CONFIG, KRB5_KEYTAB, KRB5_STALE_KEYTAB) if not Path(f).is_file()]
    if problems:
        pytest.fail("secure cluster not ready:\n  " + "\n  ".join(problems) + f"\n  {HINT}", pytrace=False)
    topic = unique("idp")
    create_topic(topic, 2, bootstrap=SECURE)
    records = [rec(p, f"k{p}-{i}", f"value {p}-{i}", headers=[("h", f"{i}"), ("null", None)],
                   timestamp=1_700_000_000_000 + 1000 * i) for p in range(2) for i in range(10)]
    records.append(rec(0, "tombstone", None, timestamp=1_700_000_100_000))
    produce(topic, records, bootstrap=SECURE)
    source = dump(topic, bootstrap=SECURE)
    assert len(source) == len(records), source
    return {"topic": topic, "records": source}


def oidc(client_id: str = OIDC_CLIENT_ID, secret: str = "${KB_TEST_OIDC_SECRET}", **extra) -> dict:
    """The security block a user writes, the secret from the environment."""
    block = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "OAUTHBEARER",
             "oauth_token_endpoint_url": OIDC_TOKEN_ENDPOINT, "oauth_client_id": client_id,
             "oauth_client_secret": secret}
    block.update(extra)
    return block


def token_requests() -> list[dict]:
    if not OIDC_REQUEST_LOG.is_file():
        return []
    return [json.loads(line) for line in OIDC_REQUEST_LOG.read_text().splitlines() if line.strip()]


def test_oidc_backup_and_restore_with_tokens_the_broker_validates(tmp_path, providers_topic):
    """sasl_mechanism OAUTHBEARER: the client credentials grant against the issuer's token
    endpoint, the JWT checked by the broker's own validator. Backup and restore both go through
    the OIDC listener; the issuer saw our client id; the secret is nowhere in the output or the
    backup."""
    storage = tmp_path / "store"
    topic = providers_topic["topic"]
    env = {"KB_TEST_OIDC_SECRET": OIDC_CLIENT_SECRET}
    granted_before = sum(1 for r in token_requests() if r["granted"] and r["client_id"] == OIDC_CLIENT_ID)
    cfg = backup_config(storage, [topic], backup_id="oidc", bootstrap=OIDC_BS)
    cfg["source"]["security"] = oidc(oauth_scope="kafka")
    cfg["source"]["connect_timeout_secs"] = 20
    r = cli_ok(["backup", "--config", write_config(tmp_path, cfg), "--format", "json"], env=env)
    assert r.json()["records"] == len(providers_topic["records"])
    granted = [r for r in token_requests() if r["granted"] and r["client_id"] == OIDC_CLIENT_ID]
    assert len(granted) > granted_before, "the backup never asked the issuer for a token"
    assert granted[-1]["scope"] == "kafka", granted[-1]

    renamed = unique("idp-oidc")
    rcfg = restore_config(storage, backup_id="oidc", bootstrap=OIDC_BS, topic_mapping={topic: renamed})
    rcfg["target"]["security"] = oidc()
    rcfg["target"]["connect_timeout_secs"] = 20
    r2 = cli_ok(["restore", "--config", write_config(tmp_path, rcfg, "restore.yaml"), "--format", "json"], env=env)
    assert_same_records(providers_topic["records"], dump(renamed, bootstrap=SECURE), what="restore through OIDC")
    stored = "".join(p.read_text(errors="replace") for p in storage.rglob("*") if p.is_file() and
                     p.suffix in (".json", ".jsonl", ".yaml", ""))
    for text, where in ((r.stdout + r.stderr, "backup output"), (r2.stdout + r2.stderr, "restore output"),
                        (stored + manifest_path(storage, "oidc").read_text(), "the backup")):
        assert OIDC_CLIENT_SECRET not in text, f"the client secret appears in {where}"


def test_oidc_wrong_client_secret_is_an_auth_error_naming_the_token_endpoint(tmp_path, providers_topic):
    cfg = backup_config(tmp_path / "store", [providers_topic["topic"]], backup_id="oidc-refused", bootstrap=OIDC_BS)
    cfg["source"]["security"] = oidc()
    cfg["source"]["connect_timeout_secs"] = 20
    wrong = "not-the-oidc-secret-5e0a"
    t0 = time.monotonic()
    r = run_cli(["backup", "--config", write_config(tmp_path, cfg)], env={"KB_TEST_OIDC_SECRET": wrong}, timeout=90)
    assert_error(r, EXIT_AUTH, "authentication failed", OIDC_TOKEN_ENDPOINT, "oauth_client_secret")
    assert time.monotonic() - t0 < 15, "the refusal waited for the connect timeout"
    assert wrong not in r.stdout + r.stderr
    assert {"client_id": OIDC_CLIENT_ID, "granted": False, "reason": "invalid_client"} in token_requests()


def test_oidc_token_for_another_audience_is_refused_by_the_broker(tmp_path, providers_topic):
    """The issuer grants the token, the broker's validator refuses it (wrong aud claim): the
    error says the broker refused it and what to check on the listener."""
    cfg = backup_config(tmp_path / "store", [providers_topic["topic"]], backup_id="oidc-aud", bootstrap=OIDC_BS)
    cfg["source"]["security"] = oidc(client_id=OIDC_OTHER_AUDIENCE_CLIENT)
    cfg["source"]["connect_timeout_secs"] = 20
    r = run_cli(["backup", "--config", write_config(tmp_path, cfg)], env={"KB_TEST_OIDC_SECRET": OIDC_CLIENT_SECRET},
                timeout=90)
    assert_error(r, EXIT_AUTH, "authentication failed", "broker refused the token", "audience")
    assert any(t["granted"] and t["client_id"] == OIDC_OTHER_AUDIENCE_CLIENT for t in token_requests())


@pytest.mark.parametrize("security,words", [
    (oidc(security_protocol="PLAINTEXT"), ["sasl_mechanism", "SASL_SSL"]),
    ({k: v for k, v in oidc().items() if k != "oauth_client_id"}, ["oauth_client_id"]),
    (oidc(secret=""), ["oauth_client_secret"]),
    (oidc(oauth_token_endpoint_url="idp.example.com/token"), ["oauth_token_endpoint_url", "http"]),
    (oidc(sasl_username="u"), ["sasl_username", "oauth_token_endpoint_url"]),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256", "sasl_username": "u", "sasl_password": "p",
      "oauth_client_id": "x"}, ["oauth_client_id", "OAUTHBEARER"]),
])
def test_oidc_settings_that_cannot_work_are_bad_input(tmp_path, security, words):
    cfg = backup_config(tmp_path / "store", ["t"], backup_id="oidc-bad", bootstrap="127.0.0.1:1")
    cfg["source"]["security"] = security
    r = run_cli(["backup", "--config", write_config(tmp_path, cfg)], env={"KB_TEST_OIDC_SECRET": "s"}, timeout=60)
    assert_error(r, EXIT_BAD_INPUT, *words)


# ------------------------------------------------------------- Kerberos

def kerberos(principal: str = KRB5_PRINCIPAL, keytab: str = KRB5_KEYTAB, **extra) -> dict:
    block = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "GSSAPI", "kerberos_principal": principal,
             "kerberos_keytab": keytab}
    block.update(extra)
    return block


def krb5_env(tmp_path: Path) -> dict:
    """The test realm's krb5.conf; TMPDIR in the test's directory, where the run keeps its own
    credential cache (KRB5CCNAME unset, as for most users)."""
    return {"KRB5_CONFIG": KRB5_CONFIG, "TMPDIR": str(tmp_path)}


def test_kerberos_backup_and_restore_through_the_gssapi_listener(tmp_path, providers_topic):
    """sasl_mechanism GSSAPI: kinit from the keytab, then librdkafka's GSSAPI through Cyrus SASL
    against a broker that accepts Kerberos only. The run's own credential cache is gone after it."""
    storage = tmp_path / "store"
    topic = providers_topic["topic"]
    cfg = backup_config(storage, [topic], backup_id="krb", bootstrap=KERBEROS_BS)
    cfg["source"]["security"] = kerberos()
    cfg["source"]["connect_timeout_secs"] = 20
    r = run_cli(["backup", "--config", write_config(tmp_path, cfg), "--format", "json"], env=krb5_env(tmp_path),
                unset=["KRB5CCNAME"])
    assert r.rc == 0, f"expected exit 0 from {r.describe()}"
    assert r.json()["records"] == len(providers_topic["records"])
    assert not list(tmp_path.glob("kafka-backup-krb5cc-*")), "the run left its credential cache behind"

    renamed = unique("idp-krb")
    rcfg = restore_config(storage, backup_id="krb", bootstrap=KERBEROS_BS, topic_mapping={topic: renamed})
    rcfg["target"]["security"] = kerberos(kerberos_service_name="kafka")
    rcfg["target"]["connect_timeout_secs"] = 20
    r = run_cli(["restore", "--config", write_config(tmp_path, rcfg, "restore.yaml")], env=krb5_env(tmp_path),
                unset=["KRB5CCNAME"])
    assert r.rc == 0, f"expected exit 0 from {r.describe()}"
    assert_same_records(providers_topic["records"], dump(renamed, bootstrap=SECURE), what="restore through GSSAPI")


def test_kerberos_uses_the_credential_cache_the_user_names(tmp_path, providers_topic):
    """With KRB5CCNAME set, the tickets go where the user said (klist shows our principal)."""
    cache = tmp_path / "user-cache"
    cfg = backup_config(tmp_path / "store", [providers_topic["topic"]], backup_id="krb-cc", bootstrap=KERBEROS_BS)
    cfg["source"]["security"] = kerberos()
    env = {**krb5_env(tmp_path), "KRB5CCNAME": f"FILE:{cache}"}
    cli_ok(["backup", "--config", write_config(tmp_path, cfg)], env=env)
    listed = subprocess.run(["klist", "-c", f"FILE:{cache}"], capture_output=True, text=True, env={**os.environ, **env})
    assert listed.returncode == 0 and KRB5_PRINCIPAL in listed.stdout, listed.stdout + listed.stderr


@pytest.mark.parametrize("case,security,words", [
    ("stale keytab", kerberos(KRB5_STALE_PRINCIPAL, KRB5_STALE_KEYTAB), [KRB5_STALE_KEYTAB, "klist -kt"]),
    ("keytab of another principal", kerberos(KRB5_PRINCIPAL, KRB5_STALE_KEYTAB), [KRB5_STALE_KEYTAB, KRB5_PRINCIPAL]),
    ("unknown service", kerberos(kerberos_service_name="not-kafka"), ["kerberos_service_name", "not-kafka"]),
])
def test_kerberos_refusals_are_auth_errors(tmp_path, providers_topic, case, security, words):
    cfg = backup_config(tmp_path / "store", [providers_topic["topic"]], backup_id="krb-no", bootstrap=KERBEROS_BS)
    cfg["source"]["security"] = security
    cfg["source"]["connect_timeout_secs"] = 20
    t0 = time.monotonic()
    r = run_cli(["backup", "--config", write_config(tmp_path, cfg)], env=krb5_env(tmp_path), unset=["KRB5CCNAME"],
                timeout=90)
    assert_error(r, EXIT_AUTH, *words)
    assert time.monotonic() - t0 < 15, f"{case}: the refusal waited for the connect timeout"


@pytest.mark.parametrize("security,words", [
    (kerberos(keytab="/nonexistent/kafka-backup.keytab"), ["kerberos_keytab", "/nonexistent/kafka-backup.keytab"]),
    ({k: v for k, v in kerberos().items() if k != "kerberos_principal"}, ["kerberos_principal"]),
    (kerberos(security_protocol="SSL"), ["sasl_mechanism", "SASL_SSL"]),
    (kerberos(sasl_password="p"), ["sasl_password", "kerberos_keytab"]),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u", "sasl_password": "p",
      "kerberos_keytab": "/k"}, ["kerberos_keytab", "GSSAPI"]),
])
def test_kerberos_settings_that_cannot_work_are_bad_input(tmp_path, security, words):
    cfg = backup_config(tmp_path / "store", ["t"], backup_id="krb-bad", bootstrap="127.0.0.1:1")
    cfg["source"]["security"] = security
    r = run_cli(["backup", "--config", write_config(tmp_path, cfg)], env=krb5_env(tmp_path), timeout=60)
    assert_error(r, EXIT_BAD_INPUT, *words)
