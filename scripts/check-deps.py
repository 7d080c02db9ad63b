#!/usr/bin/env python3
"""Checks that each component of src/ includes only what its README's "May depend on:" line
allows (run by scripts/lint.sh).

A component is a folder of src/ with a README.md. Its line names the components (or single
headers, `format/record.h`) it may include; "everything above" allows all, "nothing of ours"
none. The public headers (include/kafka_backup/*.h) are the library's surface and may be
included by any component. Exit 1 lists each include that breaks its component's rule, and a
component without the line.

Usage: scripts/check-deps.py [ROOT]   (default: this checkout)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([^"]+)"', re.M)


def allowed_of(readme: Path, components: set[str]) -> tuple[set[str], bool] | None:
    """(the components and headers the README allows, whether it allows everything)."""
    for line in readme.read_text().splitlines():
        if line.startswith("May depend on:"):
            text = line[len("May depend on:"):]
            if "everything above" in text:
                return set(), True
            first = re.split(r"[.;](\s|$)", text, maxsplit=1)[0]  # the list ends at the first sentence
            names = {w for w in re.findall(r"[a-z_]+(?:/[a-z_]+\.h)?", first) if w.split("/")[0] in components}
            return names, False
    return None


def main() -> int:
    components = {d.name for d in SRC.iterdir() if d.is_dir()}
    problems = []
    for comp in sorted(components):
        readme = SRC / comp / "README.md"
        if not readme.exists():
            problems.append(f"src/{comp}: no README.md (what it owns, and a 'May depend on:' line)")
            continue
        rule = allowed_of(readme, components)
        if rule is None:
            problems.append(f"src/{comp}/README.md: no 'May depend on:' line")
            continue
        allowed, everything = rule
        for f in sorted((SRC / comp).glob("*")):
            if f.suffix not in (".cc", ".h"):
                continue
            for m in INCLUDE.finditer(f.read_text()):
                dep, header = m.group(1), f"{m.group(1)}/{m.group(2)}"
                if dep == comp or dep == "kafka_backup" or dep not in components or everything:
                    continue
                if dep not in allowed and header not in allowed:
                    problems.append(f"{f.relative_to(ROOT)}: includes {header}, but src/{comp}/README.md "
                                    f"allows only: {', '.join(sorted(allowed)) or 'nothing of ours'}")
    for p in problems:
        print(f"[lint] {p}", file=sys.stderr)
    if problems:
        print(f"[lint] component dependencies: {len(problems)} problems (fix the include, or the README's "
              "'May depend on:' line if the design changed)", file=sys.stderr)
        return 1
    print(f"[lint] component dependencies: {len(components)} components as their READMEs say")
    return 0


if __name__ == "__main__":
    sys.exit(main())
