# Sourced by the other scripts: a Python venv in .venv with the pinned tools (moto server,
# cfn-lint, aws-sam-cli, cargo-lambda, ziglang), installed on first use and again when
# requirements-dev.txt changes, and the npm Step Functions interpreter.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
if [ ! -x "$venv/bin/moto_server" ] || ! cmp -s "$root/requirements-dev.txt" "$venv/.requirements"; then
  echo "installing test tools into .venv (moto server, cfn-lint, aws-sam-cli, cargo-lambda, ziglang)..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/requirements-dev.txt"
  cp "$root/requirements-dev.txt" "$venv/.requirements"
fi
export PATH="$venv/bin:$PATH"
# The Step Functions interpreter the local pipeline runs the state machine on (npm), installed
# on first use and again when its lockfile changes.
sfn="$root/crates/local/stepfunctions"
if [ ! -f "$sfn/node_modules/.installed-lock" ] || ! cmp -s "$sfn/package-lock.json" "$sfn/node_modules/.installed-lock"; then
  echo "installing the Step Functions interpreter into $sfn/node_modules (npm aws-local-stepfunctions)..." >&2
  (cd "$sfn" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$sfn/package-lock.json" "$sfn/node_modules/.installed-lock"
fi
export MOTO_SERVER="$venv/bin/moto_server"
