# Sourced by bin/test (and by bin/airlock for `demo`, bin/bench): the real parts the test suite
# drives (a PostgreSQL server, Chromium), installed from Debian's packages when this machine
# lacks them — after saying what, why, and that it needs root. Nothing is installed when they
# are present.

airlock_have_postgres() {
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1
}

# airlock_apt_install WHY PACKAGE…: install Debian packages system-wide, saying first what, why,
# and that it needs root (sudo asks for a password when not root).
airlock_apt_install() {
  local why="$1" sudo=""
  shift
  echo "airlock: about to install system-wide with apt-get (needs root): $*" >&2
  echo "airlock:   why: $why" >&2
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo="sudo"
      echo "airlock:   running apt-get through sudo" >&2
    else
      echo "airlock: cannot: not root and no sudo. Install them yourself (apt-get install $*)," >&2
      echo "airlock: then run this again." >&2
      return 1
    fi
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

airlock_ensure_system() {
  local missing=() why=()
  if ! airlock_have_postgres; then
    missing+=(postgresql postgresql-contrib)
    why+=("PostgreSQL: the tests start real servers (as an unprivileged user) for the SQL front, the wire proxy and backups")
  fi
  # Browser tests drive Debian's Chromium through Playwright; no browser is ever downloaded.
  if [ ! -x /usr/bin/chromium ]; then
    missing+=(chromium)
    why+=("Chromium: the approval console's tests drive a real browser (Playwright uses this one; it downloads none)")
  fi
  # The hook client and the wire proxy's relay are small C programs built at install; their
  # tests build them (without a compiler airlock falls back to Python, slower).
  if ! command -v cc >/dev/null 2>&1; then
    missing+=(gcc libc6-dev)
    why+=("a C compiler: the tests build airlock's native hook client and PostgreSQL relay")
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    local reasons
    reasons="$(printf '%s; ' "${why[@]}")"
    airlock_apt_install "${reasons%; }" "${missing[@]}"
  fi
  airlock_ensure_postgres_user
}

# PostgreSQL refuses to run as root; the tests and `airlock demo`, running as root here, start it
# as this unprivileged user.
airlock_ensure_postgres_user() {
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "airlock: creating the system user postgres (no password): PostgreSQL refuses to run as root," >&2
    echo "airlock:   and the tests (or the demo), running as root here, start it as this user" >&2
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
}

# Sourced by bin/airlock for `demo`: a throwaway PostgreSQL server is one of its real parts.
# Where apt-get is missing, the demo itself says what to install.
airlock_ensure_demo_system() {
  if ! airlock_have_postgres && command -v apt-get >/dev/null 2>&1; then
    airlock_apt_install "PostgreSQL: the demo replays the incident against a throwaway server of its own" \
      postgresql
  fi
  airlock_ensure_postgres_user
}

# Sourced by bin/bench: what the benchmarks compare against. The PostgreSQL wire proxy's
# benchmark measures PgBouncer (Debian's package) beside airlock; the tests never need it.
airlock_ensure_bench_system() {
  airlock_ensure_system
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] ||
    airlock_apt_install "PgBouncer: the wire proxy's benchmark compares airlock with it" pgbouncer
}
