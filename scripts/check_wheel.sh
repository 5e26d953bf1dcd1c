#!/usr/bin/env bash
# Builds the wheel, installs it with its extras into a new virtual environment outside the checkout, and
# checks that the three packages import from there, that openapi.yaml ships inside, and that both console
# scripts answer --help: "imported as a package" is tested, not assumed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/.venv/bin/python" -m build --wheel --outdir "$work/dist" "$here" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/dms_rocketmq-*.whl)
"$here/.venv/bin/python" -m build --sdist --outdir "$work/dist" "$here" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; exit 1; }
sdist_files=$(tar tzf "$work"/dist/dms_rocketmq-*.tar.gz)
for needed in LICENSE docs/wrapper.md README.md openapi.yaml; do
  grep -q "^dms_rocketmq-[^/]*/$needed\$" <<<"$sdist_files" || { echo "sdist: $needed is missing"; exit 1; }
done
echo "sdist: LICENSE, docs/, README.md and openapi.yaml ship"
python3 -m venv "$work/venv"
# The same versions as the development environment, so this step needs no new downloads.
"$here/.venv/bin/pip" freeze --exclude-editable | grep -v '^-e' >"$work/constraints.txt"
"$work/venv/bin/pip" install -q -c "$work/constraints.txt" "$wheel[emulator,cli,otel]" >"$work/pip.log" 2>&1 \
  || { cat "$work/pip.log"; exit 1; }
cd "$work"
"$work/venv/bin/python" - <<'PY'
import importlib.resources
import pathlib

import dms_rocketmq
import dms_rocketmq_api
import dms_rocketmq_emulator

for module in (dms_rocketmq, dms_rocketmq_api, dms_rocketmq_emulator):
    where = pathlib.Path(module.__file__).parent
    assert "site-packages" in str(where), f"{module.__name__} imported from {where}, not the installed wheel"
    assert (where / "py.typed").is_file(), f"{module.__name__} ships no py.typed"
spec = importlib.resources.files("dms_rocketmq_emulator").joinpath("openapi.yaml").read_text()
assert spec.startswith("openapi: 3.1.0"), "openapi.yaml is not shipped inside dms_rocketmq_emulator"
console = importlib.resources.files("dms_rocketmq_emulator").joinpath("console")
for name in ("index.html", "console.js", "console.css"):
    assert console.joinpath(name).is_file(), f"the console's {name} is not shipped inside dms_rocketmq_emulator"
# The documentation docstrings point to, and the license the metadata names, ship with the code.
docs = importlib.resources.files("dms_rocketmq").joinpath("docs")
assert docs.joinpath("wrapper.md").is_file(), "docs/ is not shipped as dms_rocketmq/docs"
import importlib.metadata
files = {str(path) for path in importlib.metadata.files("dms-rocketmq") or ()}
assert any(name.endswith(".dist-info/licenses/LICENSE") for name in files), "LICENSE is not in the wheel"
assert "Apache License" in importlib.metadata.distribution("dms-rocketmq").read_text("licenses/LICENSE")
print("wheel: the three packages import from site-packages; openapi.yaml, the console, docs/ and LICENSE ship")
(instrumentor,) = importlib.metadata.entry_points(group="opentelemetry_instrumentor", name="dms_rocketmq")
assert instrumentor.load().__name__ == "DmsRocketMQInstrumentor", instrumentor
print("wheel: the otel extra installs; opentelemetry-instrument finds DmsRocketMQInstrumentor")
PY
"$work/venv/bin/dms-rocketmq" --help >/dev/null
"$work/venv/bin/dms-rocketmq-emulator" --help >/dev/null
echo "wheel: dms-rocketmq and dms-rocketmq-emulator answer --help ($(basename "$wheel"))"
# A real send from the installed packages alone: the installed emulator and wrapper.
"$work/venv/bin/python" - <<'PY'
from dms_rocketmq import Client
from dms_rocketmq_emulator import start_emulator

# The project's one emulator launcher, from the installed package (it needs no pytest).
with start_emulator(memory=True, auth=True, topics=("orders",)) as emulator, Client(
    endpoint=emulator.url, project_id=emulator.project_id, instance_id=emulator.instance_id,
    ak=emulator.ak, sk=emulator.sk,
) as client:
    result = client.send("orders", "hello from the wheel")
assert (result.topic, result.queue_offset) == ("orders", 0), result
print(f"wheel: the installed wrapper sent to the installed emulator (msg_id {result.msg_id})")
PY
