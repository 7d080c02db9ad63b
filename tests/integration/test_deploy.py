"""Deployment: the Dockerfile and the Kubernetes manifests in deploy/ (docs/deploy.md).

No container engine and no cluster are needed, and none is used:
- the manifests pass yamllint (strict) and the Kubernetes JSON schemas (kubernetes-validate,
  which carries them), run with no network (`unshare --net`);
- the backup configuration in the ConfigMap is loaded by our binary, with the Secret's
  variables, and the CronJob's command line is run as written up to the point where it needs
  the production cluster, serving /health and /metrics where the probe and the scrape
  annotations say;
- the Dockerfile passes hadolint, has a build and a non-root runtime stage, its build steps
  are run as written (scripts/setup.sh --build-only for real; scripts/build.sh release with
  cmake and ninja recorded, not run), and its runtime packages hold every shared library
  the binary needs.
The checkers live in .cache/deploy/venv (scripts/setup.sh, step i).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import EXIT_BAD_INPUT, EXIT_UNAVAILABLE, ROOT, assert_error, binary, run_cli

DEPLOY = ROOT / "deploy"
MANIFESTS = DEPLOY / "kubernetes"
YAMLLINT_CONFIG = DEPLOY / ".yamllint.yaml"
DOCKERFILE = ROOT / "Dockerfile"
VENV_BIN = ROOT / ".cache" / "deploy" / "venv" / "bin"
SECRET_NAME = "kafka-backup-credentials"
# The oldest Kubernetes whose CronJob has every field used (timeZone: GA in 1.27) still
# maintained upstream around 2026, and the newest that kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]


# ---------------------------------------------------------------- helpers

def tool(name: str) -> str:
    """A checker from .cache/deploy/venv; fails (never skips) when it is not installed."""
    p = VENV_BIN / name
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"{p} not found: run `bash scripts/setup.sh` (step i installs the deploy/ checkers)",
                    pytrace=False)
    return str(p)


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("timeout", 300)
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def offline(cmd: list) -> list:
    """cmd in a network namespace of its own: no network at all."""
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) not found: needed to prove the schema check needs no network"
    probe = run([unshare, "--net", "true"])
    assert probe.returncode == 0, f"`unshare --net` does not work here (needs root): {probe.stderr}"
    return [unshare, "--net", *cmd]


def yaml_documents(path: Path) -> list:
    """Every document of a YAML file, parsed by PyYAML in the checkers' venv."""
    code = ("import json, sys, yaml\n"
            "docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]\n"
            "print(json.dumps(docs))")
    p = run([tool("python"), "-c", code, path])
    assert p.returncode == 0, f"{path} does not parse as YAML:\n{p.stderr}"
    return json.loads(p.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def manifests() -> dict:
    """kind -> the one resource of that kind in deploy/kubernetes."""
    files = sorted(MANIFESTS.glob("*.yaml"))
    assert files, f"no manifests in {MANIFESTS}"
    by_kind = {}
    for f in files:
        for doc in yaml_documents(f):
            assert doc["kind"] not in by_kind, f"two {doc['kind']} resources ({f})"
            by_kind[doc["kind"]] = doc
    assert set(by_kind) == {"ConfigMap", "CronJob", "Secret", "ServiceAccount"}, sorted(by_kind)
    return by_kind


def pod_spec(manifests: dict) -> dict:
    return manifests["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def container(manifests: dict) -> dict:
    containers = pod_spec(manifests)["containers"]
    assert len(containers) == 1, containers
    return containers[0]


def flag_value(args: list, flag: str) -> str:
    assert args.count(flag) == 1, f"{flag} not exactly once in {args}"
    return args[args.index(flag) + 1]


def backup_config_text(manifests: dict) -> str:
    return manifests["ConfigMap"]["data"]["backup.yaml"]


def secret_env(manifests: dict) -> dict:
    return dict(manifests["Secret"]["stringData"])


# ---------------------------------------------------------------- Dockerfile

def dockerfile_stages() -> list[dict]:
    """[{from, name, instructions: [(KEYWORD, args)]}] with continuation lines joined and
    comments dropped."""
    lines, joined = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        if not joined and raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            joined += raw.rstrip()[:-1] + " "
            continue
        joined += raw
        if joined.strip():
            lines.append(" ".join(joined.split()))
        joined = ""
    assert not joined, "Dockerfile ends in a continuation line"
    stages: list[dict] = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            m = re.fullmatch(r"(\S+)(?: AS (\S+))?", args, re.IGNORECASE)
            assert m, f"unexpected FROM: {line}"
            stages.append({"from": m.group(1), "name": m.group(2), "instructions": []})
        else:
            assert stages, f"instruction before FROM: {line}"
            stages[-1]["instructions"].append((keyword, args))
    return stages


def instructions(stage: dict, keyword: str) -> list[str]:
    return [a for k, a in stage["instructions"] if k == keyword]


def runtime_packages(stage: dict) -> set[str]:
    (run_line,) = [r for r in instructions(stage, "RUN") if "apt-get install" in r]
    words = run_line.split("apt-get install", 1)[1].split("&&", 1)[0].split()
    return {w for w in words if not w.startswith("-")}


def dpkg_owner(lib_path: str) -> str:
    """The Debian package that holds a library, trying the path as ldd gives it, as resolved,
    and with /usr toggled (merged /usr: dpkg may know either)."""
    real = os.path.realpath(lib_path)
    candidates = [lib_path, real]
    for p in (lib_path, real):
        candidates.append(p[4:] if p.startswith("/usr/") else "/usr" + p)
    for c in candidates:
        r = run(["dpkg", "-S", c])
        if r.returncode == 0:
            return r.stdout.split(":", 1)[0].strip()
    pytest.fail(f"dpkg -S knows none of {candidates}")


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: a path is excluded when it or one of its parent folders
    matches a pattern ('*' within one path element, '**' any number; a later '!' re-includes)."""

    def match(pat: list[str], parts: list[str]) -> bool:
        if not pat:
            return not parts
        if pat[0] == "**":
            return any(match(pat[1:], parts[i:]) for i in range(len(parts) + 1))
        return bool(parts) and fnmatch.fnmatchcase(parts[0], pat[0]) and match(pat[1:], parts[1:])

    parts = path.split("/")
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pat = raw[1:] if negate else raw
        pat_parts = [p for p in pat.strip("/").split("/") if p not in ("", ".")]
        if any(match(pat_parts, parts[:n]) for n in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, ROOT / "operator" / "Dockerfile"], ids=["kafka-backup", "operator"])
def test_dockerfile_passes_hadolint(dockerfile):
    r = run([tool("hadolint"), "--no-color", "--failure-threshold", "warning", dockerfile])
    assert r.returncode == 0, f"hadolint {dockerfile}:\n{r.stdout}{r.stderr}"
    # The linter is live: a Dockerfile with a known mistake (a relative WORKDIR) fails it.
    bad = run([tool("hadolint"), "--no-color", "-"], input="FROM debian:12\nWORKDIR src\n")
    assert bad.returncode != 0 and "DL3000" in bad.stdout, bad.stdout + bad.stderr


def test_dockerfile_builds_on_debian_12_and_runs_as_a_non_root_user(manifests):
    stages = dockerfile_stages()
    assert len(stages) == 2, [s["from"] for s in stages]
    build, runtime = stages
    assert build["from"] == "debian:12" and build["name"], build["from"]
    assert runtime["from"] == "debian:12-slim", runtime["from"]
    copies_from_build = [c for c in instructions(runtime, "COPY") if c.startswith(f"--from={build['name']} ")]
    assert copies_from_build == ["--from=build /kafka-backup /usr/local/bin/kafka-backup"], copies_from_build

    users = instructions(runtime, "USER")
    assert users, "the runtime stage sets no USER (it would run as root)"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, f"USER {users[-1]}: must be a numeric non-root uid"
    assert not gid or (gid.isdigit() and int(gid) != 0), f"USER {users[-1]}: group must be numeric non-root"
    assert any(f"--uid {uid}" in r for r in instructions(runtime, "RUN")), f"no user with uid {uid} is created"
    security = pod_spec(manifests)["securityContext"]
    assert security["runAsUser"] == int(uid), "the CronJob's runAsUser differs from the image's USER"
    if gid:
        assert security["runAsGroup"] == int(gid), "the CronJob's runAsGroup differs from the image's USER"

    assert instructions(runtime, "ENTRYPOINT") == ['["/usr/local/bin/kafka-backup"]']
    port = flag_value(container(manifests)["args"], "--metrics-port")
    assert instructions(runtime, "EXPOSE") == [port], "EXPOSE differs from the CronJob's --metrics-port"


def test_dockerfile_build_steps_are_the_project_scripts_and_run_as_written(tmp_path):
    """Every `bash scripts/...` step of the build stage is a tracked script that CI runs too
    (scripts/test.sh), and runs as written: setup.sh --build-only for real, build.sh with
    cmake and ninja replaced by recorders (another build may be running on this machine)."""
    build = dockerfile_stages()[0]
    runs = instructions(build, "RUN")
    script_steps = [r for r in runs if r.startswith("bash scripts/")]
    assert script_steps == ["bash scripts/setup.sh --build-only", "bash scripts/build.sh release"], runs
    assert instructions(build, "WORKDIR") == ["/src"]
    assert "scripts/ scripts/" in instructions(build, "COPY") and ". ." in instructions(build, "COPY")

    tracked = set(run(["git", "ls-files", "scripts"], cwd=ROOT).stdout.split())
    ci_script = (ROOT / "scripts" / "test.sh").read_text()
    for step in script_steps:
        script = step.split()[1]
        assert script in tracked, f"{script} is not tracked by git"
        assert f"bash {script}" in ci_script, f"CI (scripts/test.sh) does not run {script}"

    # Unknown arguments are refused, so an accepted step is a meaningful one.
    bad = run(["bash", "scripts/setup.sh", "--build-only", "--no-such-flag"], cwd=ROOT)
    assert bad.returncode == 2 and "--no-such-flag" in bad.stderr, bad.stderr
    helped = run(["bash", "scripts/setup.sh", "--build-only", "--help"], cwd=ROOT)
    assert helped.returncode == 0 and "--build-only" in helped.stdout, helped.stdout + helped.stderr

    stubs = tmp_path / "stubs"
    stubs.mkdir()
    log = tmp_path / "calls.log"
    for name in ("cmake", "ninja"):
        stub = stubs / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    env = dict(os.environ, PATH=f"{stubs}:{os.environ['PATH']}")
    for step in script_steps:
        r = run(step.split(), cwd=ROOT, env=env, timeout=1800)
        assert r.returncode == 0, f"`{step}` exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
        if "setup.sh" in step:
            assert r.stdout.splitlines()[-1].endswith("(--build-only: nothing else installed)"), r.stdout
            # librdkafka (built from source) is a build dependency; nothing else under .cache is.
            others = [line for line in r.stdout.splitlines() if ".cache" in line and ".cache/librdkafka" not in line]
            assert not others, f"--build-only went past the build dependencies:\n{r.stdout}"
            assert "librdkafka" in r.stdout, r.stdout
    calls = log.read_text().splitlines()
    ninja = [c for c in calls if c.startswith("ninja ")]
    assert len(ninja) == 1 and f"-C {ROOT / 'build'} " in ninja[0] + " ", calls

    # What the strip step takes is what that build produces.
    (strip_step,) = [r for r in runs if r.startswith("strip ")]
    assert strip_step.split()[-1] == "build/kafka-backup", strip_step
    assert re.search(r"add_executable\(kafka-backup\b", (ROOT / "CMakeLists.txt").read_text())


def test_runtime_stage_installs_every_shared_library_the_binary_needs():
    runtime = dockerfile_stages()[1]
    listed = runtime_packages(runtime)
    ldd = run(["ldd", binary()])
    assert ldd.returncode == 0, ldd.stderr
    needed_by_readelf = run(["readelf", "-d", binary()])
    assert needed_by_readelf.returncode == 0, needed_by_readelf.stderr
    direct = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", needed_by_readelf.stdout))
    assert direct, needed_by_readelf.stdout
    paths = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd.stdout, re.MULTILINE))
    in_base_image = {"libc6", "libgcc-s1"}   # essential in debian:12-slim
    owners = {}
    direct = {lib for lib in direct if not lib.startswith("ld-linux")}  # the loader: libc6's
    for lib in sorted(direct):
        assert lib in paths, f"ldd does not resolve {lib}:\n{ldd.stdout}"
        owners[lib] = dpkg_owner(paths[lib])
    missing = {lib: pkg for lib, pkg in owners.items() if pkg not in listed | in_base_image}
    assert not missing, f"libraries whose packages the runtime stage does not install: {missing}"
    # Not libraries: CA certificates (TLS); kinit and Cyrus SASL's GSSAPI plugin, which
    # sasl_mechanism GSSAPI runs and loads (src/kafka/kerberos.h).
    not_libraries = {"ca-certificates", "krb5-user", "libsasl2-modules-gssapi-mit"}
    assert not_libraries <= listed, f"the runtime stage lacks {sorted(not_libraries - listed)}"
    unused = listed - set(owners.values()) - not_libraries
    assert not unused, f"runtime packages that provide none of the binary's libraries: {sorted(unused)}"


def test_dockerignore_keeps_caches_and_builds_out_but_not_the_sources():
    patterns = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines()
                if l.strip() and not l.startswith("#")]
    for path in (".cache/kafka/libs/x.jar", "build/kafka-backup", "build-asan/build.ninja", ".git/HEAD"):
        assert dockerignored(path, patterns), f"{path} would be sent to the image build"
    tracked = run(["git", "ls-files"], cwd=ROOT).stdout.split()
    assert "CMakeLists.txt" in tracked and "scripts/build.sh" in tracked
    kept_out = [p for p in tracked if dockerignored(p, patterns)]
    assert not kept_out, f".dockerignore drops tracked files the build may need: {kept_out[:20]}"


# ---------------------------------------------------------------- manifests

def test_deploy_yaml_passes_yamllint_strict(tmp_path, manifests):
    yamllint = tool("yamllint")
    r = run([yamllint, "--strict", "--format", "parsable", "-c", YAMLLINT_CONFIG, DEPLOY])
    assert r.returncode == 0, f"yamllint:\n{r.stdout}{r.stderr}"
    # The configuration embedded in the ConfigMap, too (a block scalar is one string to yamllint).
    embedded = tmp_path / "backup.yaml"
    embedded.write_text("---\n" + backup_config_text(manifests))
    r = run([yamllint, "--strict", "--format", "parsable", "-c", YAMLLINT_CONFIG, embedded])
    assert r.returncode == 0, f"yamllint on the ConfigMap's backup.yaml:\n{r.stdout}{r.stderr}"
    # The linter is live and strict: a warning-level problem fails it.
    bad = tmp_path / "bad.yaml"
    bad.write_text("---\nkey: value   \n")
    r = run([yamllint, "--strict", "-c", YAMLLINT_CONFIG, bad])
    assert r.returncode != 0 and "trailing-spaces" in r.stdout, r.stdout


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_match_the_kubernetes_schemas_offline(tmp_path, version):
    files = sorted(MANIFESTS.glob("*.yaml"))
    kv = tool("kubernetes-validate")
    r = run(offline([kv, "--strict", "-k", version, *files]))
    assert r.returncode == 0, f"kubernetes-validate {version}:\n{r.stdout}{r.stderr}"
    passed = re.findall(r"^INFO (\S+) passed for resource", r.stdout, re.MULTILINE)
    assert sorted(passed) == sorted(str(f) for f in files), r.stdout
    # The schemas are strict: an unknown field in the CronJob fails.
    text = (MANIFESTS / "cronjob.yaml").read_text()
    bad = tmp_path / "cronjob.yaml"
    assert text.count("\n  concurrencyPolicy: Forbid\n") == 1
    bad.write_text(text.replace("\n  concurrencyPolicy: Forbid\n",
                                "\n  concurrencyPolicy: Forbid\n  concurencyPolicy: Allow\n"))
    r = run(offline([kv, "--strict", "-k", version, bad]))
    assert r.returncode != 0 and "concurencyPolicy" in r.stdout, r.stdout + r.stderr


def test_cronjob_runs_the_seeds_hourly_backup_with_a_locked_down_pod(manifests):
    for kind, doc in manifests.items():
        assert "namespace" not in doc["metadata"], f"{kind} names a namespace (kubectl -n chooses it)"
    spec = manifests["CronJob"]["spec"]
    assert spec["schedule"] == "0 * * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = pod_spec(manifests)
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == manifests["ServiceAccount"]["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    c = container(manifests)
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][kind]), c["resources"]

    args = c["args"]
    assert args[args.index("--metrics-port") + 2:][:1] == ["backup"], f"--metrics-port must precede the subcommand: {args}"
    config_path = Path(flag_value(args, "--config"))
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    config_volume = [n for n, v in volumes.items() if "configMap" in v]
    assert len(config_volume) == 1
    assert volumes[config_volume[0]]["configMap"]["name"] == manifests["ConfigMap"]["metadata"]["name"]
    assert mounts[config_volume[0]]["mountPath"] == str(config_path.parent)
    assert config_path.name in manifests["ConfigMap"]["data"]


def test_metrics_port_is_annotated_for_scraping_and_probed(manifests):
    port = flag_value(container(manifests)["args"], "--metrics-port")
    annotations = manifests["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == port
    assert annotations["prometheus.io/path"] == "/metrics"
    c = container(manifests)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"metrics": int(port)}
    probe = c["livenessProbe"]["httpGet"]
    assert probe["path"] == "/health" and probe["port"] in ("metrics", int(port))


def test_secret_holds_placeholders_for_every_variable_the_config_needs(manifests):
    secret = manifests["Secret"]
    assert secret["metadata"]["name"] == SECRET_NAME and secret["type"] == "Opaque"
    values = secret_env(manifests)
    assert set(values) == {"KAFKA_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, sorted(values)
    for key, value in values.items():
        assert "REPLACE-ME" in value, f"{key} in the checked-in Secret must be a placeholder"
    assert "data" not in secret, "base64 `data` hides whether a real credential was checked in"

    env = container(manifests)["env"]
    names = [e["name"] for e in env]
    assert "TIMESTAMP" not in names, "an exported TIMESTAMP would replace the built-in run time"
    from_secret = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "secretKeyRef" in e.get("valueFrom", {})}
    for name, ref in from_secret.items():
        assert ref["name"] == SECRET_NAME and ref["key"] in values, (name, ref)
    assert {ref["key"] for ref in from_secret.values()} == set(values), "Secret keys not handed to the container"

    config = backup_config_text(manifests)
    needed = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", config)) - {"TIMESTAMP"}
    assert needed == {"KAFKA_PASSWORD"}, needed
    assert needed <= set(names), f"variables of backup.yaml not in the container's env: {needed - set(names)}"
    assert re.search(r'^backup_id: "production-\$\{TIMESTAMP\}"$', config, re.MULTILINE), config
    assert "AWS_" not in config and "secret" not in config.lower(), "credentials belong in the Secret"


def test_configmap_backup_config_loads(tmp_path, manifests):
    """`list --config` loads and checks the whole file (every section, the ${VAR}s) and
    needs neither Kafka nor S3 (--path points it at an empty directory)."""
    cfg = tmp_path / "backup.yaml"
    cfg.write_text(backup_config_text(manifests))
    store = tmp_path / "store"
    store.mkdir()
    r = run_cli(["list", "--config", cfg, "--path", store], env=secret_env(manifests), timeout=60)
    assert r.rc == 0 and "no backups" in r.stdout, r.describe()
    # The Secret's variable is what makes it load.
    r = run_cli(["list", "--config", cfg, "--path", store], unset=["KAFKA_PASSWORD"], timeout=60)
    assert_error(r, EXIT_BAD_INPUT, "KAFKA_PASSWORD")
    # And the check is real: a wrong value in the storage section is refused.
    bad = tmp_path / "bad.yaml"
    bad.write_text(backup_config_text(manifests).replace("backend: s3", "backend: s4"))
    r = run_cli(["list", "--config", bad, "--path", store], env=secret_env(manifests), timeout=60)
    assert r.rc == EXIT_BAD_INPUT, r.describe()


def test_cronjob_command_gets_past_its_config_to_the_cluster_and_serves_metrics(tmp_path, manifests):
    """The container's arguments as written, with the config file at a local path, the metrics
    port free on loopback, storage in a local directory (S3 is not reachable from here) and a
    5 s connection timeout (the ConfigMap's is 60 s): the run fails only because the
    production brokers do not answer (exit 5), and serves /health and /metrics meanwhile."""
    text = backup_config_text(manifests)
    assert text.count("connect_timeout_secs: 60") == 1, "the test shortens connect_timeout_secs: 60"
    cfg = tmp_path / "backup.yaml"
    cfg.write_text(text.replace("connect_timeout_secs: 60", "connect_timeout_secs: 5"))
    args = list(container(manifests)["args"])
    port = free_port()
    i = args.index("--metrics-port")
    args[i + 1] = str(port)
    args[i + 2:i + 2] = ["--metrics-bind", "127.0.0.1"]
    args[args.index("--config") + 1] = str(cfg)
    args += ["--path", str(tmp_path / "store")]

    env = dict(os.environ, **secret_env(manifests))
    proc = subprocess.Popen([str(binary()), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    health = metrics = None
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline and proc.poll() is None and health is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    health = (resp.status, resp.read().decode())
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
                    metrics = (resp.status, resp.read().decode())
            except OSError:
                time.sleep(0.1)
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    described = f"kafka-backup {' '.join(args)}: exit {proc.returncode}\n{stdout}\n{stderr}"
    assert health is not None and health[0] == 200 and "kafka_backup_up 1" in health[1], (health, described)
    assert metrics is not None and metrics[0] == 200 and "# TYPE kafka_backup_" in metrics[1], (metrics, described)
    assert proc.returncode == EXIT_UNAVAILABLE, described
    errors = [l for l in stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and "kafka-prod-1:9092" in errors[0] and "cluster metadata" in errors[0], described
