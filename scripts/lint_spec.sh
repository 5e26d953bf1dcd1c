#!/usr/bin/env bash
# The spec must pass three independent linters with zero errors and zero warnings.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
.venv/bin/openapi-spec-validator openapi.yaml
# --fail-severity=hint: any finding at all, warnings and hints included, fails.
node_modules/.bin/spectral lint openapi.yaml --ruleset .spectral.yaml --fail-severity=hint
# recommended-strict is Redocly's recommended ruleset with every warning raised to an error.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true node_modules/.bin/redocly lint openapi.yaml --config redocly.yaml --format=summary 2>&1 | grep -v -E '^\s*(║|╔|╚)' 
