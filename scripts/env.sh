# Sourced by the other scripts: a Python venv in .venv with the pinned test tools
# (moto server, cfn-lint), installed on first use and again when requirements-dev.txt changes.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
if [ ! -x "$venv/bin/moto_server" ] || ! cmp -s "$root/requirements-dev.txt" "$venv/.requirements"; then
  echo "installing test tools into .venv (moto server, cfn-lint)..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/requirements-dev.txt"
  cp "$root/requirements-dev.txt" "$venv/.requirements"
fi
export PATH="$venv/bin:$PATH"
export MOTO_SERVER="$venv/bin/moto_server"
