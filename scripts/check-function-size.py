#!/usr/bin/env python3
"""Checks that no function in src/ grows past 80 lines (run by scripts/lint.sh).

A function is a definition at namespace scope as clang-format lays it out: a statement that
starts in column 0, contains '(' and ends its first line group with '{', up to the next '}' in
column 0; its size is the lines between the braces (what clang-tidy's readability-function-size
counts as LineThreshold, comments and blank lines included). Functions longer than the limit
when the rule came are listed in scripts/function-size-allowlist.txt with their length then;
each may shrink but not grow, and leaves the list once it fits (the check says so). Exit 1 lists
every function that breaks the rule.

Usage: scripts/check-function-size.py [ROOT]   (default: this checkout)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

LIMIT = 80
ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
ALLOWLIST = ROOT / "scripts" / "function-size-allowlist.txt"
NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_:~]*(?:operator\s*\S+)?)\s*\(")
NOT_FUNCTIONS = ("namespace", "struct", "class", "enum", "union", "extern", "#", "//", "}", "using", "typedef")


def functions(path: Path) -> list[tuple[str, int, int]]:
    """(name, first line, body lines) of each namespace-scope function definition."""
    out = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line or line[0].isspace() or line.startswith(NOT_FUNCTIONS):
            i += 1
            continue
        # The statement's lines up to the one that opens a body or ends it.
        j = i
        while j < len(lines) and not lines[j].rstrip().endswith(("{", ";", "}")):
            j += 1
        if j >= len(lines):
            break
        head = " ".join(lines[i:j + 1])
        if not lines[j].rstrip().endswith("{"):
            i = j + 1
            continue
        end = j + 1
        while end < len(lines) and not (lines[end].startswith("}") and not lines[end].startswith("} //")):
            end += 1
        before_brace = head[:head.rfind("{")]
        is_function = "(" in before_brace and not re.search(r"=\s*$", before_brace.split("(")[0])
        if is_function:
            m = NAME.search(before_brace)
            out.append((m.group(1) if m else "?", i + 1, end - j - 1))
        i = end + 1
    return out


def main() -> int:
    allowed: dict[str, int] = {}
    for raw in ALLOWLIST.read_text().splitlines() if ALLOWLIST.is_file() else []:
        raw = raw.split("#", 1)[0].strip()
        if raw:
            key, n = raw.rsplit(None, 1)
            allowed[key] = int(n)
    files = subprocess.run(["git", "ls-files", "src/*.cc", "src/*.h"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    problems, seen = [], set()
    for f in files:
        for name, line, size in functions(ROOT / f):
            key = f"{f}:{name}"
            seen.add(key)
            if key in allowed:
                if size > allowed[key]:
                    problems.append(f"{f}:{line}: {name} grew to {size} lines (listed at {allowed[key]}; the limit "
                                    f"is {LIMIT}): split it into named steps")
                elif size <= LIMIT:
                    problems.append(f"{f}:{line}: {name} now fits in {LIMIT} lines ({size}): remove it from "
                                    f"{ALLOWLIST.relative_to(ROOT)}")
            elif size > LIMIT:
                problems.append(f"{f}:{line}: {name} is {size} lines, over the limit of {LIMIT}: split it into named "
                                "steps (functions whose names say what they do)")
    for key in sorted(set(allowed) - seen):
        problems.append(f"{ALLOWLIST.relative_to(ROOT)}: {key} is no longer a function: remove the line")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"[lint] function size: no function in src/ over {LIMIT} lines but the {len(allowed)} listed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
