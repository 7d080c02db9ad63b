"""Kafka security against a real broker: the "secure" cluster of
scripts/kafka-clusters.sh (`start secure`; scripts/test.sh starts it).

Its listeners (all on 127.0.0.1):
    14092 PLAINTEXT       tests produce and read through it (kafka-peer has no security settings)
    14094 SSL             client certificate required (mTLS)
    14095 SASL_PLAINTEXT  PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
    14096 SASL_SSL        the same mechanisms over TLS (server authentication only)
Certificates come from openssl (the script, in <broker dir>/secure/tls/); the SCRAM users
were created when the storage was formatted; the PLAIN user lives in the JAAS config.

Every case of the matrix backs up a topic of the secure cluster through one listener with
a `security` block written as a user writes it (docs/config.md), restores it into the
TARGET cluster and compares record by record. Refusals (wrong password, wrong CA, no
client certificate) must be exit 6 with an error naming the problem, quickly; secrets
must appear in no output, log line or stored file.

Environment (`eval "$(bash scripts/kafka-clusters.sh env secure)"`; the defaults are the
script's): KB_SECURE_BOOTSTRAP, KB_SECURE_SSL_BOOTSTRAP, KB_SECURE_SASL_PLAINTEXT_BOOTSTRAP,
KB_SECURE_SASL_SSL_BOOTSTRAP, KB_SECURE_CA, KB_SECURE_CLIENT_CERT, KB_SECURE_CLIENT_KEY,
KB_SECURE_CLIENT_KEY_ENCRYPTED, KB_SECURE_CLIENT_KEY_PASSWORD, KB_SECURE_{PLAIN,SCRAM256,SCRAM512}_{USER,PASSWORD}.

SCRAM needs librdkafka 2.6.1 or later against Kafka 4 (confluentinc/librdkafka#4895):
scripts/setup.sh builds one, and the SCRAM round trips here must pass.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import (EXIT_AUTH, EXIT_BAD_INPUT, TARGET, _cluster_answers, assert_error,
                      assert_same_records, backup_config, cli_ok, commit_offsets, create_topic,
                      dump, manifest_path, produce, rec, restore_config, run_cli, unique,
                      write_config)

SECURE = os.environ.get("KB_SECURE_BOOTSTRAP", "127.0.0.1:14092")
SSL_BS = os.environ.get("KB_SECURE_SSL_BOOTSTRAP", "127.0.0.1:14094")
SASL_PLAINTEXT_BS = os.environ.get("KB_SECURE_SASL_PLAINTEXT_BOOTSTRAP", "127.0.0.1:14095")
SASL_SSL_BS = os.environ.get("KB_SECURE_SASL_SSL_BOOTSTRAP", "127.0.0.1:14096")

_TLS = Path(os.environ.get("KB_BROKER_DIR", "/tmp/kafka-backup-brokers")) / "secure" / "tls"
CA = os.environ.get("KB_SECURE_CA", str(_TLS / "ca.crt"))
CLIENT_CERT = os.environ.get("KB_SECURE_CLIENT_CERT", str(_TLS / "client.crt"))
CLIENT_KEY = os.environ.get("KB_SECURE_CLIENT_KEY", str(_TLS / "client.key"))
CLIENT_KEY_ENCRYPTED = os.environ.get("KB_SECURE_CLIENT_KEY_ENCRYPTED", str(_TLS / "client-encrypted.key"))
CLIENT_KEY_PASSWORD = os.environ.get("KB_SECURE_CLIENT_KEY_PASSWORD", "client-key-pw-3e8b")
USERS = {
    "PLAIN": (os.environ.get("KB_SECURE_PLAIN_USER", "carol"),
              os.environ.get("KB_SECURE_PLAIN_PASSWORD", "carol-plain-pw-4b1e")),
    "SCRAM-SHA-256": (os.environ.get("KB_SECURE_SCRAM256_USER", "backup-service"),
                      os.environ.get("KB_SECURE_SCRAM256_PASSWORD", "scram256-pw-9d2c")),
    "SCRAM-SHA-512": (os.environ.get("KB_SECURE_SCRAM512_USER", "bob"),
                      os.environ.get("KB_SECURE_SCRAM512_PASSWORD", "scram512-pw-6a7f")),
}

# The AWS access key the SASL listeners' OAUTHBEARER takes MSK IAM tokens from
# (tests/peer/MskIamValidator.java checks their SigV4 signature with it).
MSK_KEY_ID = os.environ.get("KB_SECURE_MSK_ACCESS_KEY_ID", "AKIAKBTESTMSKIAM0001")
MSK_SECRET = os.environ.get("KB_SECURE_MSK_SECRET_ACCESS_KEY", "kbtest/msk+iam-secret-7f3a")
MSK_REGION = os.environ.get("KB_SECURE_MSK_REGION", "eu-west-1")
# Every variable of the AWS credential chain, unset around each MSK IAM run.
AWS_CHAIN_VARS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                  "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_REGION",
                  "AWS_DEFAULT_REGION"]

SECURE_HINT = ("run `bash scripts/kafka-clusters.sh start secure` (scripts/test.sh does; "
               "`bash scripts/setup.sh` once before)")


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="session")
def secure_cluster() -> str:
    """The secure cluster answers on every listener and its certificates exist;
    fails (never skips) otherwise."""
    problems = []
    why = _cluster_answers(SECURE)
    if why:
        problems.append(f"the secure Kafka cluster at {SECURE} does not answer ({why})")
    for bs in (SSL_BS, SASL_PLAINTEXT_BS, SASL_SSL_BS):
        host, _, port = bs.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=5):
                pass
        except OSError as e:
            problems.append(f"the secure cluster's listener {bs} does not accept connections ({e})")
    for f in (CA, CLIENT_CERT, CLIENT_KEY, CLIENT_KEY_ENCRYPTED):
        if not Path(f).is_file():
            problems.append(f"{f} is missing (the script makes it on the secure cluster's first start)")
    if problems:
        pytest.fail("secure cluster not ready:\n  " + "\n  ".join(problems) + f"\n  {SECURE_HINT}",
                    pytrace=False)
    return SECURE


@pytest.fixture(scope="module")
def secure_topic(secure_cluster) -> dict:
    """A topic on the secure cluster (produced through its PLAINTEXT listener):
    keys, a null value, an empty value, headers, explicit timestamps; a consumer
    group with a committed offset on it."""
    topic = unique("security")
    create_topic(topic, 2, bootstrap=SECURE)
    records = [rec(p, f"k{p}-{i}", f"value {p}-{i} " + "x" * i,
                   headers=[("h", f"{i}"), ("empty", b""), ("null", None)],
                   timestamp=1_700_000_000_000 + 1000 * i)
               for p in range(2) for i in range(12)]
    records += [rec(0, "tombstone", None, timestamp=1_700_000_100_000), rec(1, None, b"", timestamp=1_700_000_100_001)]
    produce(topic, records, bootstrap=SECURE)
    group = unique("security-group")
    commit_offsets(group, topic, {0: 5, 1: 7}, bootstrap=SECURE)
    source = dump(topic, bootstrap=SECURE)
    assert len(source) == len(records), source
    return {"topic": topic, "records": source, "group": group}


# ------------------------------------------------------------------- helpers

def sasl(protocol: str, mechanism: str, password: str | None = None, **extra) -> dict:
    user, right = USERS[mechanism]
    block = {"security_protocol": protocol, "sasl_mechanism": mechanism, "sasl_username": user,
             "sasl_password": right if password is None else password}
    block.update(extra)
    return block


def secure_backup_config(storage: Path, topic: str, backup_id: str, bootstrap: str, security: dict,
                         connect_timeout_secs: int | None = None) -> dict:
    cfg = backup_config(storage, [topic], backup_id=backup_id, bootstrap=bootstrap)
    cfg["source"]["security"] = security
    if connect_timeout_secs:
        cfg["source"]["connect_timeout_secs"] = connect_timeout_secs
    return cfg


def restore_and_compare(tmp_path: Path, storage: Path, backup_id: str, topic: str, expected: list[dict],
                        what: str) -> None:
    """Restores the backup into TARGET under a new name and compares every record."""
    renamed = unique("security-restored")
    cfg = restore_config(storage, backup_id=backup_id, topic_mapping={topic: renamed})
    cli_ok(["restore", "--config", write_config(tmp_path, cfg, f"restore-{backup_id}.yaml"), "--format", "json"])
    assert_same_records(expected, dump(renamed, bootstrap=TARGET), what=what)


# -------------------------------------------------------------- the matrix

MATRIX = [
    # id, bootstrap, security block (None: no block at all, as most configs)
    ("plaintext", SECURE, None),
    ("plaintext-explicit", SECURE, {"security_protocol": "PLAINTEXT"}),
    ("ssl-mtls", SSL_BS, {"security_protocol": "SSL", "ssl_ca_location": CA,
                          "ssl_certificate_location": CLIENT_CERT, "ssl_key_location": CLIENT_KEY}),
    ("ssl-mtls-encrypted-key", SSL_BS, {"security_protocol": "SSL", "ssl_ca_location": CA,
                                        "ssl_certificate_location": CLIENT_CERT,
                                        "ssl_key_location": CLIENT_KEY_ENCRYPTED,
                                        "ssl_key_password": CLIENT_KEY_PASSWORD}),
    ("sasl-plaintext-plain", SASL_PLAINTEXT_BS, sasl("SASL_PLAINTEXT", "PLAIN")),
    ("sasl-plaintext-scram-sha-256", SASL_PLAINTEXT_BS, sasl("SASL_PLAINTEXT", "SCRAM-SHA-256")),
    ("sasl-plaintext-scram-sha-512", SASL_PLAINTEXT_BS, sasl("SASL_PLAINTEXT", "SCRAM-SHA-512")),
    ("sasl-ssl-plain", SASL_SSL_BS, sasl("SASL_SSL", "PLAIN", ssl_ca_location=CA)),
    # The seed's (disaster-recovery runbook) block.
    ("sasl-ssl-scram-sha-256", SASL_SSL_BS, sasl("SASL_SSL", "SCRAM-SHA-256", ssl_ca_location=CA)),
    ("sasl-ssl-scram-sha-512", SASL_SSL_BS, sasl("SASL_SSL", "SCRAM-SHA-512", ssl_ca_location=CA)),
]


@pytest.mark.parametrize("case,bootstrap,security", MATRIX, ids=[m[0] for m in MATRIX])
def test_backup_through_listener_then_restore_matches(tmp_path, secure_topic, case, bootstrap, security):
    storage = tmp_path / "store"
    topic = secure_topic["topic"]
    cfg = backup_config(storage, [topic], backup_id=case, bootstrap=bootstrap)
    if security is not None:
        cfg["source"]["security"] = security
    cfg["source"]["connect_timeout_secs"] = 20
    r = run_cli(["backup", "--config", write_config(tmp_path, cfg), "--format", "json"], timeout=120)
    assert r.rc == 0, f"expected exit 0 from {r.describe()}"
    summary = r.json()
    assert summary["records"] == len(secure_topic["records"]), summary
    # The group's committed offsets, read through the secured listener too.
    manifest = json.loads(manifest_path(storage, case).read_text())
    groups = {g["group_id"]: {(o["topic"], o["partition"]): o["offset"] for o in g["offsets"]}
              for g in manifest["consumer_groups"]}
    assert groups.get(secure_topic["group"]) == {(topic, 0): 5, (topic, 1): 7}, manifest["consumer_groups"]
    restore_and_compare(tmp_path, storage, case, topic, secure_topic["records"], what=case)


def test_restore_into_secure_cluster_through_sasl_ssl(tmp_path, secure_topic):
    """target.security: the restore's admin, transactional producer and checks
    all go through SASL_SSL."""
    storage = tmp_path / "store"
    topic = secure_topic["topic"]
    cli_ok(["backup", "--config", write_config(tmp_path, backup_config(storage, [topic], "into", bootstrap=SECURE),
                                               "backup.yaml")])
    renamed = unique("security-into")
    cfg = restore_config(storage, backup_id="into", bootstrap=SASL_SSL_BS, topic_mapping={topic: renamed})
    cfg["target"]["security"] = sasl("SASL_SSL", "PLAIN", ssl_ca_location=CA)
    cfg["target"]["connect_timeout_secs"] = 20
    path = write_config(tmp_path, cfg, "restore.yaml")
    cli_ok(["validate-restore", "--config", path])
    cli_ok(["restore", "--config", path, "--format", "json"])
    assert_same_records(secure_topic["records"], dump(renamed, bootstrap=SECURE), what="restore into secure")


def test_restore_into_secure_cluster_through_sasl_ssl_scram(tmp_path, secure_topic):
    """The seed's block on the target side (SCRAM-SHA-256 over SASL_SSL)."""
    storage = tmp_path / "store"
    topic = secure_topic["topic"]
    cli_ok(["backup", "--config", write_config(tmp_path, backup_config(storage, [topic], "into", bootstrap=SECURE),
                                               "backup.yaml")])
    renamed = unique("security-into-scram")
    cfg = restore_config(storage, backup_id="into", bootstrap=SASL_SSL_BS, topic_mapping={topic: renamed})
    cfg["target"]["security"] = sasl("SASL_SSL", "SCRAM-SHA-256", ssl_ca_location=CA)
    cfg["target"]["connect_timeout_secs"] = 20
    r = run_cli(["restore", "--config", write_config(tmp_path, cfg, "restore.yaml"), "--format", "json"])
    assert r.rc == 0, f"expected exit 0 from {r.describe()}"
    assert_same_records(secure_topic["records"], dump(renamed, bootstrap=SECURE), what="restore into secure (SCRAM)")


# ---------------------------------------------------------------- refusals

def run_refused(tmp_path, cfg: dict, command: str = "backup"):
    t0 = time.monotonic()
    r = run_cli([command, "--config", write_config(tmp_path, cfg)], timeout=90)
    return r, time.monotonic() - t0


@pytest.mark.parametrize("mechanism,bootstrap,protocol", [
    ("PLAIN", SASL_PLAINTEXT_BS, "SASL_PLAINTEXT"),
    ("SCRAM-SHA-256", SASL_PLAINTEXT_BS, "SASL_PLAINTEXT"),
    ("PLAIN", SASL_SSL_BS, "SASL_SSL"),
    ("SCRAM-SHA-256", SASL_SSL_BS, "SASL_SSL"),
])
def test_wrong_password_is_an_auth_error_before_the_connect_timeout(tmp_path, secure_topic, mechanism,
                                                                    bootstrap, protocol):
    wrong = "wrong-pw-" + uuid.uuid4().hex[:8]
    extra = {"ssl_ca_location": CA} if protocol == "SASL_SSL" else {}
    storage = tmp_path / "store"
    cfg = secure_backup_config(storage, secure_topic["topic"], "wrong-pw", bootstrap,
                               sasl(protocol, mechanism, password=wrong, **extra), connect_timeout_secs=20)
    r, elapsed = run_refused(tmp_path, cfg)
    line = assert_error(r, EXIT_AUTH, bootstrap, "authentication failed", mechanism if mechanism != "PLAIN" else
                        "Invalid username or password", "sasl_password")
    assert elapsed < 15, f"an authentication refusal took {elapsed:.1f}s (connect_timeout_secs is 20): {line}"
    assert wrong not in r.stdout + r.stderr
    assert not (storage / "manifests").exists() or not list((storage / "manifests").iterdir())


def test_unknown_user_is_an_auth_error(tmp_path, secure_topic):
    cfg = secure_backup_config(tmp_path / "store", secure_topic["topic"], "no-user", SASL_PLAINTEXT_BS,
                               {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
                                "sasl_username": "nobody", "sasl_password": "whatever-pw"}, connect_timeout_secs=20)
    r, elapsed = run_refused(tmp_path, cfg)
    assert_error(r, EXIT_AUTH, "authentication failed")
    assert elapsed < 15


def test_restore_with_wrong_password_is_an_auth_error(tmp_path, secure_topic):
    storage = tmp_path / "store"
    topic = secure_topic["topic"]
    cli_ok(["backup", "--config", write_config(tmp_path, backup_config(storage, [topic], "b", bootstrap=SECURE),
                                               "backup.yaml")])
    cfg = restore_config(storage, backup_id="b", bootstrap=SASL_SSL_BS, topic_mapping={topic: unique("never")})
    cfg["target"]["security"] = sasl("SASL_SSL", "PLAIN", password="wrong-pw-restore", ssl_ca_location=CA)
    cfg["target"]["connect_timeout_secs"] = 20
    for command in ("restore", "validate-restore"):
        r, elapsed = run_refused(tmp_path, cfg, command)
        assert r.rc == EXIT_AUTH, f"{command}: expected exit {EXIT_AUTH}, got {r.describe()}"
        assert "authentication failed" in r.stdout + r.stderr, r.describe()
        assert "wrong-pw-restore" not in r.stdout + r.stderr
        assert elapsed < 15, f"{command} took {elapsed:.1f}s"


def test_ssl_without_client_certificate_is_refused_by_the_mtls_listener(tmp_path, secure_topic):
    cfg = secure_backup_config(tmp_path / "store", secure_topic["topic"], "ca-only", SSL_BS,
                               {"security_protocol": "SSL", "ssl_ca_location": CA}, connect_timeout_secs=20)
    r, elapsed = run_refused(tmp_path, cfg)
    assert_error(r, EXIT_AUTH, SSL_BS, "client's TLS certificate", "ssl_certificate_location")
    assert elapsed < 15


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory) -> str:
    """A CA made here, which did not sign the broker's certificate."""
    d = tmp_path_factory.mktemp("other-ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(d / "other.key"), "-out", str(d / "other.crt"), "-subj", "/CN=not the broker's CA"],
                   check=True, capture_output=True)
    return str(d / "other.crt")


@pytest.mark.parametrize("listener", ["SSL", "SASL_SSL"])
def test_wrong_ca_is_a_clear_tls_error(tmp_path, secure_topic, other_ca, listener):
    if listener == "SSL":
        bootstrap, security = SSL_BS, {"security_protocol": "SSL", "ssl_ca_location": other_ca,
                                       "ssl_certificate_location": CLIENT_CERT, "ssl_key_location": CLIENT_KEY}
    else:
        bootstrap, security = SASL_SSL_BS, sasl("SASL_SSL", "PLAIN", ssl_ca_location=other_ca)
    cfg = secure_backup_config(tmp_path / "store", secure_topic["topic"], "wrong-ca", bootstrap, security,
                               connect_timeout_secs=20)
    r, elapsed = run_refused(tmp_path, cfg)
    assert_error(r, EXIT_AUTH, bootstrap, "certificate verify failed", "ssl_ca_location")
    assert elapsed < 15


def test_wrong_key_password_is_bad_input_naming_the_key(tmp_path, secure_topic):
    cfg = secure_backup_config(tmp_path / "store", secure_topic["topic"], "bad-key-pw", SSL_BS,
                               {"security_protocol": "SSL", "ssl_ca_location": CA,
                                "ssl_certificate_location": CLIENT_CERT, "ssl_key_location": CLIENT_KEY_ENCRYPTED,
                                "ssl_key_password": "not-the-key-pw-77"})
    r, _ = run_refused(tmp_path, cfg)
    assert_error(r, EXIT_BAD_INPUT, "ssl.key.location", "ssl_key_password")
    assert "not-the-key-pw-77" not in r.stdout + r.stderr


def test_missing_ca_file_is_bad_input(tmp_path, secure_topic):
    missing = str(tmp_path / "no-such-ca.crt")
    cfg = secure_backup_config(tmp_path / "store", secure_topic["topic"], "no-ca", SASL_SSL_BS,
                               sasl("SASL_SSL", "PLAIN", ssl_ca_location=missing))
    r, _ = run_refused(tmp_path, cfg)
    assert_error(r, EXIT_BAD_INPUT, "ssl.ca.location")


# ------------------------------------------------------------------ secrets

def test_secrets_appear_in_no_output_log_or_stored_file(tmp_path, secure_topic):
    """Backup and restore with a SASL password and an encrypted client key
    whose password both come from ${VAR}s: the backup at --log-level trace
    with librdkafka's own debug log on (debug: all, which dumps the client
    configuration), the restore at --log-level debug. Neither secret is in any
    output or log line, any stored file, the describe/list/status/validate
    output or --help; the ${VAR} substitution works (a wrong expansion would be
    refused)."""
    sasl_pw, key_pw = USERS["PLAIN"][1], CLIENT_KEY_PASSWORD
    env = {"KB_IT_KAFKA_PASSWORD": sasl_pw, "KB_IT_KEY_PASSWORD": key_pw}
    storage = tmp_path / "store"
    topic = secure_topic["topic"]
    # Client certificate and encrypted key on the SASL_SSL listener: the broker
    # asks for no certificate there, but the key is decrypted with the password.
    security = {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": USERS["PLAIN"][0],
                "sasl_password": "${KB_IT_KAFKA_PASSWORD}", "ssl_ca_location": CA,
                "ssl_certificate_location": CLIENT_CERT, "ssl_key_location": CLIENT_KEY_ENCRYPTED,
                "ssl_key_password": "${KB_IT_KEY_PASSWORD}"}
    bcfg = secure_backup_config(storage, topic, "secret", SASL_SSL_BS, security, connect_timeout_secs=20)
    bcfg["source"]["client_properties"] = {"debug": "all"}
    bpath = write_config(tmp_path, bcfg, "backup.yaml")
    assert sasl_pw not in bpath.read_text() and key_pw not in bpath.read_text()

    outputs = []
    r = cli_ok(["--log-level", "trace", "backup", "--config", bpath], env=env)
    outputs.append(("backup", r))
    # The client configuration was dumped, the secrets redacted.
    assert "sasl.password = [redacted]" in r.stderr, f"no configuration dump in the trace log:\n{r.stderr[-2000:]}"
    assert "ssl.key.password = [redacted]" in r.stderr

    renamed = unique("security-secret")
    rcfg = restore_config(storage, backup_id="secret", bootstrap=SASL_SSL_BS, topic_mapping={topic: renamed})
    rcfg["target"]["security"] = dict(security)
    rcfg["target"]["connect_timeout_secs"] = 20
    rpath = write_config(tmp_path, rcfg, "restore.yaml")
    outputs.append(("validate-restore", cli_ok(["--log-level", "debug", "validate-restore", "--config", rpath],
                                               env=env)))
    outputs.append(("restore", cli_ok(["--log-level", "debug", "restore", "--config", rpath], env=env)))
    assert_same_records(secure_topic["records"], dump(renamed, bootstrap=SECURE), what="secrets round trip")

    for args in (["describe", "--path", storage, "--backup-id", "secret"],
                 ["describe", "--path", storage, "--backup-id", "secret", "--format", "json"],
                 ["list", "--path", storage, "--format", "json"],
                 ["status", "--path", storage, "--backup-id", "secret", "--format", "json"],
                 ["validate", "--path", storage, "--backup-id", "secret", "--deep"]):
        outputs.append((" ".join(map(str, args[:1])), cli_ok(["--log-level", "debug", *args], env=env)))
    for sub in ([], ["backup"], ["restore"], ["describe"], ["validate-restore"]):
        outputs.append((f"{' '.join(sub)} --help", run_cli([*sub, "--help"], env=env)))

    for what, out in outputs:
        for secret in (sasl_pw, key_pw):
            assert secret not in out.stdout, f"{what}: stdout contains a secret"
            assert secret not in out.stderr, f"{what}: stderr contains a secret"
    stored = [p for p in storage.rglob("*") if p.is_file()]
    assert any("manifests" in p.parts for p in stored) and any("status" in p.parts for p in stored), stored
    for p in stored:
        data = p.read_bytes()
        for secret in (sasl_pw, key_pw):
            assert secret.encode() not in data, f"{p} contains a secret"


def test_config_errors_do_not_echo_secrets(tmp_path, secure_topic):
    """A mistyped key next to the password, or a bad value in the security
    block: the error names the key, never the password."""
    secret = "typo-secret-" + uuid.uuid4().hex[:8]
    storage = tmp_path / "store"
    for name, security, key in (
        ("typo", {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "carol",
                  "sasl_passwrd": secret}, "sasl_passwrd"),
        ("mechanism", {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-1", "sasl_username": "carol",
                       "sasl_password": secret}, "sasl_mechanism"),
    ):
        cfg = secure_backup_config(storage, secure_topic["topic"], name, SASL_SSL_BS, security)
        r = run_cli(["backup", "--config", write_config(tmp_path, cfg, f"{name}.yaml")])
        assert_error(r, EXIT_BAD_INPUT, key)
        assert secret not in r.stdout + r.stderr, f"{name}: the error shows the password:\n{r.stderr}"


# ------------------------------------------------------------ AWS MSK IAM

def msk_iam(protocol: str, **extra) -> dict:
    block = {"security_protocol": protocol, "sasl_mechanism": "AWS_MSK_IAM"}
    if protocol == "SASL_SSL":
        block["ssl_ca_location"] = CA
    block.update(extra)
    return block


def run_msk(args: list, env: dict, timeout: float = 120):
    """Runs the CLI with `env` and no other AWS credential chain variable."""
    return run_cli(args, env=env, unset=[v for v in AWS_CHAIN_VARS if v not in env], timeout=timeout)


def msk_env(secret: str = MSK_SECRET) -> dict:
    return {"AWS_ACCESS_KEY_ID": MSK_KEY_ID, "AWS_SECRET_ACCESS_KEY": secret, "AWS_EC2_METADATA_DISABLED": "true"}


def test_msk_iam_backup_and_restore_with_tokens_the_broker_verifies(tmp_path, secure_topic):
    """sasl_mechanism AWS_MSK_IAM: OAUTHBEARER with a SigV4-signed token, which the broker's
    validator (tests/peer/MskIamValidator.java, written from AWS's SigV4 documentation) checks
    against the test key. Backup through SASL_SSL with the key in the environment; restore into
    the secure cluster through SASL_PLAINTEXT with the key from a shared credentials file's
    profile and the region from AWS_REGION: the chain the S3 code uses."""
    storage = tmp_path / "store"
    topic = secure_topic["topic"]
    cfg = secure_backup_config(storage, topic, "msk", SASL_SSL_BS, msk_iam("SASL_SSL", aws_region=MSK_REGION),
                               connect_timeout_secs=20)
    r = run_msk(["backup", "--config", write_config(tmp_path, cfg), "--format", "json"], msk_env())
    assert r.rc == 0, f"expected exit 0 from {r.describe()}"
    assert r.json()["records"] == len(secure_topic["records"])
    manifest = json.loads(manifest_path(storage, "msk").read_text())
    groups = {g["group_id"]: {(o["topic"], o["partition"]): o["offset"] for o in g["offsets"]}
              for g in manifest["consumer_groups"]}
    assert groups.get(secure_topic["group"]) == {(topic, 0): 5, (topic, 1): 7}, manifest["consumer_groups"]
    assert MSK_SECRET not in r.stdout + r.stderr + manifest_path(storage, "msk").read_text()

    creds = tmp_path / "aws-credentials"
    creds.write_text(f"[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n"
                     f"[msk]\naws_access_key_id = {MSK_KEY_ID}\naws_secret_access_key = {MSK_SECRET}\n")
    renamed = unique("security-msk")
    rcfg = restore_config(storage, backup_id="msk", bootstrap=SASL_PLAINTEXT_BS, topic_mapping={topic: renamed})
    rcfg["target"]["security"] = msk_iam("SASL_PLAINTEXT")
    rcfg["target"]["connect_timeout_secs"] = 20
    r = run_msk(["restore", "--config", write_config(tmp_path, rcfg, "restore.yaml"), "--format", "json"],
                {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_PROFILE": "msk", "AWS_REGION": MSK_REGION,
                 "AWS_EC2_METADATA_DISABLED": "true"})
    assert r.rc == 0, f"expected exit 0 from {r.describe()}"
    assert_same_records(secure_topic["records"], dump(renamed, bootstrap=SECURE), what="restore through MSK IAM")


@pytest.mark.parametrize("why,env,region", [
    ("wrong secret", msk_env(secret="not-the-secret-" + uuid.uuid4().hex[:8]), MSK_REGION),
    ("unknown key", {**msk_env(), "AWS_ACCESS_KEY_ID": "AKIAKBTESTNOSUCHKEY0"}, MSK_REGION),
    ("other region", msk_env(), "us-east-1"),
])
def test_msk_iam_token_the_broker_refuses_is_an_auth_error(tmp_path, secure_topic, why, env, region):
    cfg = secure_backup_config(tmp_path / "store", secure_topic["topic"], "msk-refused", SASL_PLAINTEXT_BS,
                               msk_iam("SASL_PLAINTEXT", aws_region=region), connect_timeout_secs=20)
    t0 = time.monotonic()
    r = run_msk(["backup", "--config", write_config(tmp_path, cfg)], env, timeout=90)
    assert_error(r, EXIT_AUTH, SASL_PLAINTEXT_BS, "authentication failed", "AWS credentials", "aws_region")
    assert time.monotonic() - t0 < 15, f"{why}: the refusal waited for the connect timeout"
    assert env["AWS_SECRET_ACCESS_KEY"] not in r.stdout + r.stderr


@pytest.mark.parametrize("security,env,words", [
    ({"security_protocol": "PLAINTEXT", "sasl_mechanism": "AWS_MSK_IAM", "aws_region": "eu-west-1"}, {},
     ["sasl_mechanism", "SASL_SSL"]),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "AWS_MSK_IAM", "aws_region": "eu-west-1",
      "sasl_username": "u"}, {}, ["sasl_username", "AWS credentials"]),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "AWS_MSK_IAM"}, {}, ["aws_region", "AWS_REGION"]),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "AWS_MSK_IAM", "aws_region": "eu-west-1"},
     {"AWS_PROFILE": "no-such-profile"}, ["no-such-profile"]),
])
def test_msk_iam_settings_that_cannot_work_are_bad_input_or_auth(tmp_path, security, env, words):
    cfg = secure_backup_config(tmp_path / "store", "t", "msk-bad", "127.0.0.1:1", security)
    creds = tmp_path / "empty-credentials"
    creds.write_text("")
    r = run_msk(["backup", "--config", write_config(tmp_path, cfg)],
                {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_EC2_METADATA_DISABLED": "true", **env}, timeout=60)
    assert r.rc in (EXIT_BAD_INPUT, EXIT_AUTH), r.describe()
    for w in words:
        assert w in r.stderr, f"{w!r} not in: {r.stderr}"
