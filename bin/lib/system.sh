# Sourced by bin/test: the real parts the test suite drives (a PostgreSQL server), installed
# from Debian's packages when this machine lacks them.

airlock_have_postgres() {
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1
}

airlock_apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "airlock: need root (or sudo) to install: $*" >&2; return 1
    fi
  fi
  echo "airlock: installing system packages: $*" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

airlock_ensure_system() {
  local missing=()
  airlock_have_postgres || missing+=(postgresql postgresql-contrib)
  # Browser tests drive Debian's Chromium through Playwright; no browser is ever downloaded.
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  if [ "${#missing[@]}" -gt 0 ]; then
    airlock_apt_install "${missing[@]}"
  fi
  airlock_ensure_postgres_user
}

# The server refuses to run as root; tests and `airlock demo` start it as this unprivileged user.
airlock_ensure_postgres_user() {
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
}

# Sourced by bin/airlock for `demo`: a throwaway PostgreSQL server is one of its real parts.
# Where apt-get is missing, the demo itself says what to install.
airlock_ensure_demo_system() {
  if ! airlock_have_postgres && command -v apt-get >/dev/null 2>&1; then
    airlock_apt_install postgresql
  fi
  airlock_ensure_postgres_user
}

# Sourced by bin/bench: what the benchmarks compare against. The PostgreSQL wire proxy's
# benchmark measures PgBouncer (Debian's package) beside airlock; the tests never need it.
airlock_ensure_bench_system() {
  airlock_ensure_system
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || airlock_apt_install pgbouncer
}
