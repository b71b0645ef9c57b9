#!/usr/bin/env bash
# Install the pinned coding-agent clients (Claude Code, Codex CLI) into a cache directory for the
# opt-in end-to-end tests (tests/clients/) and print the two binaries' paths, one `name=path` a line.
# Idempotent: a second run with the same versions downloads nothing.
#
#   scripts/install-clients.sh            # into ${XDG_CACHE_HOME:-$HOME/.cache}/calcifer-clients
#   CALCIFER_CLIENTS_DIR=/opt/x scripts/install-clients.sh
#
# About 0.8 GB is downloaded from the npm registry the first time (two native binaries).
set -euo pipefail

CLAUDE_CODE_VERSION="${CLAUDE_CODE_VERSION:-2.1.332}"
CODEX_VERSION="${CODEX_VERSION:-0.171.0}"
DIR="${CALCIFER_CLIENTS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/calcifer-clients}"

say() { echo "install-clients: $*" >&2; }

ensure_npm() {
    command -v node >/dev/null && command -v npm >/dev/null && return
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "node/npm missing: installing Debian's nodejs and npm"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
    else
        say "node and npm are needed (e.g. 'apt-get install nodejs npm' as root)"
        exit 1
    fi
}

# The npm package that holds Claude Code's native binary for this machine. Claude Code wants
# node >= 22 only for its postinstall step, which copies this binary over a placeholder; running the
# binary directly works with any node (or none), so the install skips scripts.
claude_platform_package() {
    local arch libc=""
    case "$(uname -m)" in
        x86_64 | amd64) arch=x64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) say "unsupported machine $(uname -m)"; exit 1 ;;
    esac
    if ldd --version 2>&1 | grep -qi musl; then libc=-musl; fi
    echo "@anthropic-ai/claude-code-linux-${arch}${libc}"
}

installed_version() {  # the version in node_modules/$1/package.json, or nothing
    local manifest="$DIR/node_modules/$1/package.json"
    [ -f "$manifest" ] && sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$manifest" | head -n1
}

CLAUDE_BIN="$DIR/node_modules/$(claude_platform_package)/claude"
CODEX_BIN="$DIR/node_modules/.bin/codex"

up_to_date() {
    [ "$(installed_version @anthropic-ai/claude-code)" = "$CLAUDE_CODE_VERSION" ] &&
        [ "$(installed_version @openai/codex)" = "$CODEX_VERSION" ] &&
        [ -x "$CLAUDE_BIN" ] && [ -x "$CODEX_BIN" ]
}

if ! up_to_date; then
    ensure_npm
    mkdir -p "$DIR"
    [ -f "$DIR/package.json" ] || echo '{"name": "calcifer-clients", "private": true}' >"$DIR/package.json"
    say "installing @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION and @openai/codex@$CODEX_VERSION into $DIR"
    # --ignore-scripts: see claude_platform_package; --engine-strict=false: node < 22 only warns.
    npm install --prefix "$DIR" --save-exact --no-audit --no-fund --no-update-notifier \
        --ignore-scripts --engine-strict=false --loglevel=error \
        "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" "@openai/codex@$CODEX_VERSION" >&2
    up_to_date || { say "the install finished but a binary is missing: $CLAUDE_BIN $CODEX_BIN"; exit 1; }
fi

echo "claude=$CLAUDE_BIN"
echo "codex=$CODEX_BIN"
