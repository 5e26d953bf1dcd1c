#!/usr/bin/env bash
# Writes the low-level client generated from openapi.yaml into the folder given (default: generated/).
# The generator writes a whole project; only its package is kept. Its post-hooks (ruff) run inside that
# project, under the generator's own ruff settings, so the output does not depend on where it is written.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-"$here/generated"}
venv_bin="$here/.venv/bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  PATH="$venv_bin:$PATH" "$venv_bin/openapi-python-client" generate \
    --path "$here/openapi.yaml" --config "$here/openapi-python-client.yaml" --meta setup >/dev/null
)
mkdir -p "$dest"
rm -rf "$dest/dms_rocketmq_api"
cp -r "$work/dms-rocketmq-api/dms_rocketmq_api" "$dest/dms_rocketmq_api"
