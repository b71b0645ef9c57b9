# Sourced by scripts/serve and scripts/test: make .venv with the project installed.
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
EXTRAS="${1:-}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
STAMP="$VENV/.installed-$(sha1sum "$ROOT/pyproject.toml" | cut -c1-12)${EXTRAS:+-$EXTRAS}"
if [ ! -f "$STAMP" ]; then
  # setuptools prints a deprecation banner while building the editable install that reads like an
  # error; its output is shown only when the install fails.
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      -e "$ROOT${EXTRAS:+[$EXTRAS]}" > "$VENV/install.log" 2>&1; then
    cat "$VENV/install.log" >&2
    exit 1
  fi
  touch "$STAMP"
fi
if [ "$EXTRAS" = "test" ]; then
  source "$ROOT/scripts/test-servers.sh"
  calcifer_ensure_test_servers
fi
