"""The Debian package (scripts/package.sh, CPack): built from this tree, installed with
`dpkg -i` on this machine, `kafka-backup --version` run from /usr/bin, its man page
generated from --help, and its bash and zsh completion working in those shells.

Installing needs root (CI runs as root); the package is removed again at the end.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, binary

BASH_COMPLETION = Path("/usr/share/bash-completion/completions/kafka-backup")
ZSH_COMPLETION = Path("/usr/share/zsh/vendor-completions/_kafka-backup")
MAN_PAGE = Path("/usr/share/man/man1/kafka-backup.1.gz")


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=600, **kw)
    assert r.returncode == 0, f"{args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def deb() -> Path:
    out = run("bash", str(ROOT / "scripts" / "package.sh"), cwd=ROOT).stdout.strip().splitlines()[-1]
    return Path(out) if Path(out).is_absolute() else ROOT / out


@pytest.fixture(scope="module")
def installed(deb):
    assert os.geteuid() == 0, "dpkg -i needs root: run this test as root (CI does)"
    assert shutil.which("dpkg"), "dpkg not found: this test needs Debian"
    run("dpkg", "-i", str(deb))
    try:
        yield deb
    finally:
        run("dpkg", "-r", "kafka-backup")
    assert not Path("/usr/bin/kafka-backup").exists(), "dpkg -r left the binary behind"


def test_the_package_holds_the_binary_man_page_completion_and_its_library_dependencies(deb):
    contents = run("dpkg-deb", "-c", str(deb)).stdout
    for path in ("./usr/bin/kafka-backup", "./usr/share/man/man1/kafka-backup.1.gz",
                 "./usr/share/bash-completion/completions/kafka-backup",
                 "./usr/share/zsh/vendor-completions/_kafka-backup", "./usr/share/doc/kafka-backup/README.md",
                 "./usr/share/doc/kafka-backup/docs/config.md"):
        assert path in contents, f"{path} not in the package:\n{contents}"
    fields = {f: run("dpkg-deb", "-f", str(deb), f).stdout.strip() for f in ("Package", "Version", "Depends")}
    version = run(str(binary()), "--version").stdout.strip()
    assert fields["Package"] == "kafka-backup" and fields["Version"] == version, fields
    # From dpkg-shlibdeps: the shared libraries the binary links, librdkafka being static.
    for lib in ("libcurl4", "libssl3", "libyaml-cpp", "libzstd1", "liblz4-1"):
        assert lib in fields["Depends"], fields["Depends"]
    assert "rdkafka" not in fields["Depends"], fields["Depends"]


def test_dpkg_install_runs_from_usr_bin_with_man_page(installed):
    assert shutil.which("kafka-backup", path="/usr/bin") == "/usr/bin/kafka-backup"
    assert run("/usr/bin/kafka-backup", "--version").stdout.strip() == \
        run(str(binary()), "--version").stdout.strip()
    page = gzip.decompress(MAN_PAGE.read_bytes()).decode()
    assert page.startswith(".\\\" DO NOT MODIFY THIS FILE!") and ".TH KAFKA-BACKUP \"1\"" in page, page[:300]
    # Every subcommand's own --help is in it, the nested ones too.
    for section in ("backup", "restore", "validate", "offset-reset", "config check", "completion"):
        assert f".SS {section}\n" in page, section
    assert "--time-window-end" in page and "EXIT STATUS" in page
    if shutil.which("man"):
        text = run("man", "-l", str(MAN_PAGE), env={**os.environ, "MANPAGER": "cat", "COLUMNS": "100"}).stdout
        assert "back up Kafka topics to storage and restore them" in text


def bash_complete(*words: str) -> list[str]:
    """What bash completion offers for the last of `words` (may be "")."""
    line = " ".join(f"'{w}'" for w in words)
    script = (f"source {BASH_COMPLETION}; COMP_WORDS=(kafka-backup {line}); COMP_CWORD={len(words)}; "
              "_kafka_backup; printf '%s\\n' \"${COMPREPLY[@]}\"")
    return run("bash", "-c", script).stdout.split()


def zsh_complete(*words: str) -> list[str]:
    """The same through the zsh completion function, with compadd and _files
    standing in for the completion system's builtins (they print what they
    would offer)."""
    line = " ".join(f"'{w}'" for w in words)
    script = ("compadd() { [[ $1 == -- ]] && shift; print -l -- \"$@\" }; _files() { print -- FILES }; "
              f"words=(kafka-backup {line}); CURRENT={len(words) + 1}; source {ZSH_COMPLETION}")
    return run("zsh", "-f", "-c", script).stdout.split()


@pytest.mark.parametrize("complete", [bash_complete, zsh_complete], ids=["bash", "zsh"])
def test_shell_completion_offers_subcommands_flags_and_files(installed, complete, tmp_path):
    assert shutil.which("bash") and shutil.which("zsh"), "bash and zsh are needed (scripts/setup.sh installs zsh)"
    top = complete("")
    assert {"backup", "restore", "list", "describe", "validate", "status", "config", "--help", "--log-level"} \
        <= set(top), top
    if complete is bash_complete:  # bash filters by the prefix itself; zsh's compadd does it in the shell
        assert complete("res") == ["restore"]
        assert "--config" in complete("backup", "--con")
    backup_flags = complete("backup", "")
    assert {"--config", "--continuous", "--log-level"} <= set(backup_flags), backup_flags
    assert "restore" not in backup_flags
    # Nested: config check, and a flag value skipped when finding the command.
    assert "--config" in complete("config", "check", "")
    assert "check" in complete("config", "")
    assert "--config" in complete("--log-level", "debug", "backup", "")
    # After a flag that takes a value: file names.
    if complete is bash_complete:
        (tmp_path / "prod.yaml").write_text("x")
        offered = run("bash", "-c", f"cd {tmp_path}; source {BASH_COMPLETION}; COMP_WORDS=(kafka-backup backup "
                                    "--config pro); COMP_CWORD=3; _kafka_backup; echo \"${COMPREPLY[@]}\"").stdout
        assert offered.split() == ["prod.yaml"], offered
    else:
        assert complete("backup", "--config", "") == ["FILES"]
