#!/usr/bin/env bash
# Comparison plugin for bench/run.py: LiteLLM's proxy in a throw-away virtual environment.
#   litellm.sh prepare WORKDIR UPSTREAM_PORT PORT   -> installs, writes config, prints URL/HEALTH/HEADER
#   litellm.sh run     WORKDIR UPSTREAM_PORT PORT   -> runs the proxy in the foreground
# No database; the local cost map (no network); logging at ERROR; a generated master key.
set -euo pipefail
ACTION="$1"; WORKDIR="$2"; UPSTREAM_PORT="$3"; PORT="$4"
VERSION="${LITELLM_VERSION:-1.106.2}"
VENV="${LITELLM_VENV:-$HOME/.cache/calcifer-bench/litellm-$VERSION}"
KEY_FILE="$WORKDIR/litellm-master-key"

if [ "$ACTION" = "prepare" ]; then
  if [ ! -x "$VENV/bin/litellm" ]; then
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "litellm[proxy]==$VERSION" >&2
  fi
  [ -f "$KEY_FILE" ] || echo "sk-bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$KEY_FILE"
  cat > "$WORKDIR/litellm.yaml" <<YAML
model_list:
  - model_name: bench-model
    litellm_params:
      model: openai/bench-model
      api_base: http://127.0.0.1:$UPSTREAM_PORT/v1
      api_key: bench
litellm_settings:
  drop_params: true
  set_verbose: false
YAML
  echo "URL=http://127.0.0.1:$PORT/v1"
  echo "HEALTH=http://127.0.0.1:$PORT/health/liveliness"
  echo "HEADER=Authorization: Bearer $(cat "$KEY_FILE")"
  exit 0
fi

export LITELLM_MASTER_KEY="$(cat "$KEY_FILE")"
export LITELLM_LOCAL_MODEL_COST_MAP=True
export LITELLM_LOG=ERROR
exec "$VENV/bin/litellm" --config "$WORKDIR/litellm.yaml" --host 127.0.0.1 --port "$PORT" --num_workers 1
