# Sourced by bin/airlock and bin/test: make sure .venv exists and holds what is asked for.
#
#   airlock_ensure_venv [EXTRA…]   install airlock (editable) with these pyproject.toml extras
#
# bin/airlock asks for none (runtime dependencies only) plus $AIRLOCK_EXTRAS (e.g. "aws");
# bin/test asks for "dev" and "aws". A stamp records the hash of pyproject.toml and the extras
# installed, so nothing is installed again until pyproject.toml changes or a new extra is asked
# for (an install with more extras also serves a later run that asks for fewer).

airlock_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

airlock_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "airlock needs Python 3.11 or newer (python3 --version says: $(python3 --version 2>&1))" >&2
  return 1
}

# The extras to install: the arguments and $AIRLOCK_EXTRAS (comma or space separated), sorted,
# without repeats, one per line.
airlock_wanted_extras() {
  printf '%s\n' "$@" $(printf %s "${AIRLOCK_EXTRAS:-}" | tr , " ") | sed '/^$/d' | sort -u
}

# Show pip's progress one short line per step (the full output goes to a log, shown on failure).
airlock_pip_progress() {
  local line count=0
  while IFS= read -r line; do
    case "$line" in
      Collecting*)
        count=$((count + 1))
        printf 'airlock:   [%d] %s\n' "$count" "${line#Collecting }" >&2 ;;
      "Building wheel"*|"Installing collected packages"*)
        printf 'airlock:   %s\n' "${line%%:*}…" >&2 ;;
      "Successfully installed"*)
        set -- $line
        printf 'airlock:   installed %d packages\n' "$(($# - 2))" >&2 ;;
    esac
  done
}

airlock_ensure_venv() {
  local venv="$airlock_root/.venv" stamp want extras have spec log started
  stamp="$venv/.airlock-installed"
  extras="$(airlock_wanted_extras "$@")"
  want="$(sha256sum "$airlock_root/pyproject.toml" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(head -n1 "$stamp")" = "$want" ]; then
    have="$(tail -n +2 "$stamp")"
    # Every wanted extra already installed: nothing to do.
    if [ -z "$(comm -23 <(printf '%s\n' "$extras" | sed '/^$/d') \
                        <(printf '%s\n' "$have" | sed '/^$/d'))" ]; then
      return 0
    fi
    extras="$(printf '%s\n%s\n' "$extras" "$have" | sed '/^$/d' | sort -u)"
  fi
  local python
  python="$(airlock_python)"
  spec="$airlock_root"
  [ -z "$extras" ] || spec="$airlock_root[$(printf '%s' "$extras" | paste -sd, -)]"
  started=$SECONDS
  echo "airlock: installing airlock${extras:+ with extras: $(printf '%s' "$extras" | paste -sd' ' -)} into $venv" >&2
  echo "airlock: (first run, or pyproject.toml changed; later runs start at once)" >&2
  # pip ≥ 22.3 outside the venv can install into it (--python): the venv then needs no pip of its
  # own, which saves copying one into it (seconds on a busy machine).
  local pip=("$venv/bin/python" -m pip)
  if [ ! -x "$venv/bin/python" ]; then
    if "$python" -c 'import pip, sys; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))' \
        2>/dev/null; then
      "$python" -m venv --without-pip "$venv"
    else
      "$python" -m venv "$venv"
    fi
  fi
  "$venv/bin/python" -c 'import pip' 2>/dev/null || pip=("$python" -m pip --python "$venv/bin/python")
  log="$venv/install.log"
  local - status=0
  set -o pipefail
  "${pip[@]}" install --disable-pip-version-check --progress-bar off --no-compile -e "$spec" \
    2>&1 | tee "$log" | airlock_pip_progress || status=$?
  if [ "$status" -ne 0 ]; then
    echo "airlock: the install failed (full output: $log); pip said:" >&2
    grep -v '^WARNING: Location' "$log" | tail -n 20 >&2
    return 1
  fi
  printf '%s\n%s\n' "$want" "$extras" | sed '/^$/d' > "$stamp"
  echo "airlock: installed in $((SECONDS - started)) s" >&2
}
