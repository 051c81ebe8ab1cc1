# Sourced by bin/pegload and bin/test: make sure ./.venv exists and holds pegload
# (editable) with the requested extras. Re-installs only when pyproject.toml changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${1:-}"  # comma-separated, as pip takes them: "test,dev"
PY="${PYTHON:-python3}"
stamp="$VENV/.pegload-installed${EXTRAS:+-${EXTRAS//,/-}}"  # .pegload-installed-test-dev
if [ ! -x "$VENV/bin/python" ]; then
    echo "pegload: creating virtualenv in $VENV" >&2
    "$PY" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    echo "pegload: installing pegload${EXTRAS:+[$EXTRAS]} and its dependencies (first run only)" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT${EXTRAS:+[$EXTRAS]}" >&2
    touch "$stamp"
fi
