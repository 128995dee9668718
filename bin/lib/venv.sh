# Sourced by bin/airlock and bin/test: make sure .venv exists and matches pyproject.toml.
# Re-installs only when pyproject.toml changed since the last install (a stamp holds its hash).

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

airlock_ensure_venv() {
  local venv="$airlock_root/.venv" stamp want
  stamp="$venv/.airlock-installed"
  want="$(sha256sum "$airlock_root/pyproject.toml" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  local python
  python="$(airlock_python)"
  echo "airlock: installing into $venv (first run, or pyproject.toml changed)…" >&2
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$airlock_root[dev]" >&2
  echo "$want" > "$stamp"
}
