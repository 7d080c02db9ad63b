#!/usr/bin/env bash
# Writes the man page of kafka-backup, generated from its --help: the
# program's own help, then each subcommand's (and each sub-subcommand's) in a
# COMMANDS section, so the page cannot drift from the binary.
#
# Usage: scripts/man-page.sh BINARY OUTPUT.1
set -euo pipefail
bin=$1
out=$2
command -v help2man >/dev/null || { echo "man-page.sh: help2man not found (apt-get install help2man; scripts/setup.sh does)" >&2; exit 1; }

# The subcommands --help lists: the words under "SUBCOMMANDS:".
subcommands() { "$bin" "$@" --help | awk 'toupper($0) ~ /^SUBCOMMANDS:/ { f = 1; next } f && /^  [a-z]/ { print $1 }'; }
# roff-safe: backslashes doubled, a line starting with . or ' escaped.
roff() { sed -e 's/\\/\\\\/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

include=$(mktemp)
trap 'rm -f "$include"' EXIT
{
  echo "[COMMANDS]"
  for cmd in $(subcommands); do
    echo ".SS $cmd"
    echo ".nf"
    "$bin" "$cmd" --help | roff
    echo ".fi"
    for sub in $(subcommands "$cmd"); do
      echo ".SS $cmd $sub"
      echo ".nf"
      "$bin" "$cmd" "$sub" --help | roff
      echo ".fi"
    done
  done
  echo "[EXIT STATUS]"
  echo "0 ok, 1 internal error, 2 bad input, 3 not found, 4 corrupt data, 5 unavailable (retry),"
  echo "6 authentication, 7 conflict, 8 local I/O error (docs/exit-codes.md)."
  echo "[SEE ALSO]"
  echo "The documentation in /usr/share/doc/kafka-backup/ (configuration: docs/config.md)."
} > "$include"
help2man --no-info --no-discard-stderr --section 1 \
  --name "back up Kafka topics to storage and restore them" \
  --version-string "$("$bin" --version)" --include "$include" --output "$out" "$bin"
