# Sourced by scripts/bootstrap.sh for the test suite: make sure a PostgreSQL (>= 15) and a
# Redis or Valkey (>= 7) server binary exist on this machine (tests/servers/ starts them on
# loopback), and Debian's headless Chromium with its chromedriver (the console's browser test). Present: a few stat calls, no output. Missing: install the Debian packages with apt
# (as root, once per machine), or stop with what to install.
calcifer_postgres_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  command -v postgres > /dev/null 2>&1 && dirname "$(command -v postgres)"
}

calcifer_redis_bin() {
  command -v redis-server || command -v valkey-server
}

calcifer_servers_missing() {
  local missing=()
  [ -n "$(calcifer_postgres_bin)" ] || missing+=(postgresql)
  [ -n "$(calcifer_redis_bin)" ] || missing+=(redis-server)
  [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || missing+=(chromium chromium-driver)
  echo "${missing[@]}"
}

calcifer_apt_install() {
  # A container without an init policy would start the packages' own services (PostgreSQL's
  # "main" cluster on 5432, Redis on 6379); the tests start their own, so forbid that while
  # installing, exactly as Debian's Docker images do.
  local policy=/usr/sbin/policy-rc.d created=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && created=1
  fi
  local log status=0
  log="$(mktemp)"
  {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "$@" ||
      { apt-get update -q && apt-get install -y -q --no-install-recommends "$@"; }
  } > "$log" 2>&1 || status=$?
  [ -n "$created" ] && rm -f "$policy"
  [ "$status" -eq 0 ] || cat "$log" >&2
  rm -f "$log"
  return "$status"
}

calcifer_ensure_test_servers() {
  local missing
  missing="$(calcifer_servers_missing)"
  [ -z "$missing" ] && return 0
  # shellcheck disable=SC2086  # word splitting wanted: one package per word
  if [ "$(id -u)" -eq 0 ] && command -v apt-get > /dev/null 2>&1; then
    echo "== installing test servers (once per machine): apt-get install $missing"
    local started=$SECONDS
    if calcifer_apt_install $missing && [ -z "$(calcifer_servers_missing)" ]; then
      echo "== installed $missing in $((SECONDS - started)) s"
      return 0
    fi
  fi
  cat >&2 <<MSG
The test suite needs a PostgreSQL (>= 15) and a Redis or Valkey (>= 7) server binary, and
Chromium with chromedriver for the console's browser test; missing: $missing.
Install them once, e.g. on Debian:  sudo apt-get install postgresql redis-server chromium chromium-driver
(or run scripts/test as root on Debian, which installs them itself). No service needs to run:
the tests start their own servers on 127.0.0.1 with throw-away data directories.
MSG
  return 1
}
