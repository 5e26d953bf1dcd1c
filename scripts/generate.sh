#!/usr/bin/env bash
# Writes the low-level client generated from openapi.yaml into the folder given (default: generated/), and
# beside it spec_rules.py, the spec's rules as plain Python values (scripts/generate_rules.py).
# The generator writes a whole project; only its package is kept. Its post-hooks (ruff) run inside that
# project, under the generator's own ruff settings, so the output does not depend on where it is written.
# The tools come from ./.venv when it exists, else from PATH (a copy of the project without its own venv).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-"$here/generated"}
if [ -x "$here/.venv/bin/openapi-python-client" ]; then
  PATH="$here/.venv/bin:$PATH"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  openapi-python-client generate \
    --path "$here/openapi.yaml" --config "$here/openapi-python-client.yaml" --meta setup >/dev/null
)
package="$work/dms-rocketmq-api/dms_rocketmq_api"
python "$here/scripts/generate_rules.py" "$here/openapi.yaml" >"$package/spec_rules.py"
# --isolated: the same formatting wherever the project lives, whatever ruff settings surround it.
ruff format --isolated --quiet --line-length 120 "$package/spec_rules.py"
mkdir -p "$dest"
rm -rf "$dest/dms_rocketmq_api"
cp -r "$package" "$dest/dms_rocketmq_api"
