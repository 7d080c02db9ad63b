"""The structure checks of scripts/lint.sh: scripts/check-deps.py holds each src/ component to
its README's "May depend on:" line, scripts/check-function-size.py each function to 80 lines
(and each fails on a tree that breaks it)."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

CHECK = ROOT / "scripts" / "check-deps.py"
SIZE_CHECK = ROOT / "scripts" / "check-function-size.py"


def check(root) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), str(root)], capture_output=True, text=True, timeout=60)


def test_this_tree_keeps_its_component_rules():
    r = check(ROOT)
    assert r.returncode == 0, r.stderr
    assert "components as their READMEs say" in r.stdout


def test_an_include_the_readme_does_not_allow_fails_naming_file_and_rule(tmp_path):
    for comp, rule in (("storage", "util"), ("util", "nothing of ours"), ("kafka", "util, format/record.h"),
                       ("format", "util only")):
        (tmp_path / "src" / comp).mkdir(parents=True)
        (tmp_path / "src" / comp / "README.md").write_text(f"# {comp}\nMay depend on: {rule}. More words: kafka.\n")
    (tmp_path / "src" / "storage" / "s3.cc").write_text('#include "util/x.h"\n#include "kafka_backup/status.h"\n')
    (tmp_path / "src" / "kafka" / "client.h").write_text('#include "format/record.h"\n')
    assert check(tmp_path).returncode == 0, check(tmp_path).stderr

    (tmp_path / "src" / "storage" / "s3.cc").write_text('#include "kafka/client.h"\n')
    (tmp_path / "src" / "kafka" / "client.h").write_text('#include "format/segment.h"\n')
    r = check(tmp_path)
    assert r.returncode == 1
    assert "src/storage/s3.cc: includes kafka/client.h, but src/storage/README.md allows only: util" in r.stderr
    assert "src/kafka/client.h: includes format/segment.h" in r.stderr, r.stderr

    (tmp_path / "src" / "metrics").mkdir()
    r = check(tmp_path)
    assert "src/metrics: no README.md" in r.stderr, r.stderr


def test_test_servers_listen_below_the_ephemeral_port_range():
    """A fixed port inside the kernel's ephemeral range (32768-60999) can be held by any outgoing
    connection's local end when a server starts; CI lost a run to it (SASL_SSL on 49096)."""
    import re

    low = int((open("/proc/sys/net/ipv4/ip_local_port_range").read().split() or ["32768"])[0])
    found = {}
    for script in sorted((ROOT / "scripts").glob("*.sh")):
        text = script.read_text()
        for m in re.finditer(r"127\.0\.0\.1:(\d{4,5})\b|PORT=\"?\$\{KB_\w+:-(\d+)\}|_PORT=(\d{4,5})\b"
                             r"|echo (\d{4,5}) ;;", text):
            port = int(next(g for g in m.groups() if g))
            found.setdefault(script.name, set()).add(port)
    assert "kafka-clusters.sh" in found and "s3-server.sh" in found, found
    high = {name: sorted(p for p in ports if p >= low) for name, ports in found.items()}
    assert not any(high.values()), f"ports at or above {low}: {high}"


def test_test_files_share_helpers_not_each_other():
    """What several test files need lives in tests/integration/helpers/ (or conftest.py): a test
    file importing another test file runs that file's module-level set-up and ties the two."""
    import ast

    offenders = []
    for path in sorted((ROOT / "tests" / "integration").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} imports {n}" for n in names
                          if n.split(".")[0].startswith("test_")]
    assert not offenders, "\n".join(offenders)
    assert (ROOT / "tests" / "integration" / "helpers" / "segments.py").is_file()


def size_check(root) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SIZE_CHECK), str(root)], capture_output=True, text=True, timeout=60)


def test_this_tree_has_no_function_over_80_lines_but_the_listed_ones():
    r = size_check(ROOT)
    assert r.returncode == 0, r.stderr
    assert "no function in src/ over 80 lines" in r.stdout


def test_a_function_over_80_lines_fails_and_a_listed_one_may_only_shrink(tmp_path):
    def function(name: str, body_lines: int, indent_signature: bool = False) -> str:
        signature = f"Status {name}(int a,\n          int b) {{\n" if indent_signature else f"Status {name}() {{\n"
        return signature + "".join(f"  Step{i}();\n" for i in range(body_lines)) + "}\n\n"

    (tmp_path / "src" / "x").mkdir(parents=True)
    (tmp_path / "scripts").mkdir()
    source = tmp_path / "src" / "x" / "x.cc"
    table = "const std::vector<int> kTable = {\n" + "    1,\n" * 100 + "};\n\n"
    source.write_text("namespace x {\n\n" + table + function("Short", 80) + function("Wrapped", 80, True) +
                      "}  // namespace x\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "-A"], check=True)
    r = size_check(tmp_path)
    assert r.returncode == 0, r.stderr

    source.write_text("namespace x {\n\n" + function("Long", 81, True) + "}  // namespace x\n")
    r = size_check(tmp_path)
    assert r.returncode == 1 and "src/x/x.cc:3: Long is 81 lines, over the limit of 80" in r.stderr, r.stderr

    (tmp_path / "scripts" / "function-size-allowlist.txt").write_text("# listed\nsrc/x/x.cc:Long 81\n")
    assert size_check(tmp_path).returncode == 0
    source.write_text("namespace x {\n\n" + function("Long", 90) + "}  // namespace x\n")
    r = size_check(tmp_path)
    assert r.returncode == 1 and "Long grew to 90 lines (listed at 81" in r.stderr, r.stderr
    source.write_text("namespace x {\n\n" + function("Long", 40) + "}  // namespace x\n")
    r = size_check(tmp_path)
    assert r.returncode == 1 and "now fits in 80 lines (40): remove it" in r.stderr, r.stderr
