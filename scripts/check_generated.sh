#!/usr/bin/env bash
# Fails when generated/dms_rocketmq_api differs from what openapi.yaml generates now.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
"$here/scripts/generate.sh" "$fresh"
if ! diff -r -x __pycache__ "$fresh/dms_rocketmq_api" "$here/generated/dms_rocketmq_api"; then
  echo "generated/ has drifted from openapi.yaml: run 'make generate' and commit the result." >&2
  exit 1
fi
echo "generated/dms_rocketmq_api matches openapi.yaml"
