#!/usr/bin/env bash
# Print the path of a working `python X.Y` interpreter, or fail naming the version that is missing.
# Looks under pyenv's versions first (the interpreters on the project's machines), then on PATH. A pyenv shim
# that exists but has no such interpreter behind it does not count: the candidate must run and report X.Y.
set -euo pipefail
want="${1:?usage: find_python.sh X.Y}"
candidates=()
root="${PYENV_ROOT:-$HOME/.pyenv}"
for dir in "$root"/versions/"$want".*/bin; do
  [[ -x "$dir/python$want" ]] && candidates+=("$dir/python$want")
done
if found=$(command -v "python$want" 2>/dev/null); then candidates+=("$found"); fi
for python in "${candidates[@]}"; do
  if [[ "$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" == "$want" ]]; then
    echo "$python"
    exit 0
  fi
done
echo "error: no Python $want interpreter found (looked in $root/versions/$want.*/bin and for python$want on PATH);" \
  "make test runs the unit and integration tiers on Python $want: install it (e.g. pyenv install $want)" >&2
exit 1
