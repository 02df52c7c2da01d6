# shellcheck shell=bash
# The repository's one Python environment: source this file, then call `ensure_python_env`.
#
#   . scripts/lib/python-env.sh && ensure_python_env
#
# Creates <repo>/.venv (git-ignored) if needed, installs requirements/python.txt and then the
# repository's own packages (pyproject.toml, editable) into it only when the lock, pyproject.toml
# (or the interpreter) changed since the last successful install (a hash stamp is kept in
# .venv/.lock-stamp), and exports VENV_PY (the venv's python) and PATH (venv bin first).
# Up to date, it is a fast no-op. On a fresh Debian 12 it installs python3-venv with apt if missing
# (through sudo when not root). Choose another interpreter with PYTHON=/path/to/python3.11.
# Returns non-zero (never exits the caller's shell) on failure.

_PYENV_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

_pyenv_log() { printf 'python-env: %s\n' "$*" >&2; }

_pyenv_pick_python() {
    if [ -n "${PYTHON:-}" ]; then
        command -v "$PYTHON" && return 0
        _pyenv_log "PYTHON=$PYTHON not found"
        return 1
    fi
    local cand
    for cand in python3.11 python3; do
        if command -v "$cand" >/dev/null 2>&1; then
            command -v "$cand"
            return 0
        fi
    done
    _pyenv_log "no python3 found (Debian: apt-get install python3 python3-venv)"
    return 1
}

# Debian splits ensurepip (needed by `python -m venv`) into python3-venv / python3.X-venv.
_pyenv_ensure_venv_module() {
    local py="$1"
    "$py" -c 'import venv, ensurepip' >/dev/null 2>&1 && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        _pyenv_log "$py lacks the venv/ensurepip modules and apt-get is not available"
        return 1
    fi
    local ver sudo=""
    ver="$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    _pyenv_log "installing python3-venv with apt (python $ver)"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "python${ver}-venv" python3-venv \
        >/dev/null 2>&1 \
        || { $sudo apt-get update -q >/dev/null 2>&1 \
             && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                    "python${ver}-venv" python3-venv >/dev/null; } \
        || { _pyenv_log "apt-get install python3-venv failed"; return 1; }
    "$py" -c 'import venv, ensurepip' >/dev/null 2>&1
}

_pyenv_hash() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1; else cksum; fi
}

_pyenv_sync() {
    local root="$1" venv="$1/.venv" lock="$1/requirements/python.txt" py want have
    [ -f "$lock" ] || { _pyenv_log "missing $lock"; return 1; }

    # Fast path: venv exists, its python runs, and the stamp matches the lock.
    if [ -x "$venv/bin/python" ] && [ -f "$venv/.lock-stamp" ]; then
        want="$({ cat "$lock" "$root/pyproject.toml" 2>/dev/null; "$venv/bin/python" -VV 2>/dev/null; } | _pyenv_hash)"
        have="$(cat "$venv/.lock-stamp")"
        if [ "$want" = "$have" ]; then
            _pyenv_log "up to date ($venv)"
            return 0
        fi
    fi

    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
        py="$(_pyenv_pick_python)" || return 1
        _pyenv_ensure_venv_module "$py" || return 1
        _pyenv_log "creating $venv with $("$py" -V 2>&1)"
        rm -rf "$venv/bin" "$venv/lib" "$venv/include" "$venv/pyvenv.cfg" "$venv/.lock-stamp"
        "$py" -m venv "$venv" || { _pyenv_log "python -m venv failed"; return 1; }
    fi
    case "$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" in
        3.11) ;;
        *) _pyenv_log "warning: the lock was made on Python 3.11; this venv runs $("$venv/bin/python" -V 2>&1)" ;;
    esac

    _pyenv_log "installing requirements/python.txt into .venv (lock changed; takes a minute or two)"
    rm -f "$venv/.lock-stamp"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$lock" \
        || { _pyenv_log "pip install -r requirements/python.txt failed"; return 1; }
    # The repository's own packages (localcluster, pipeline, webapp), editable: the lock already
    # holds every dependency, so nothing else is resolved here.
    if [ -f "$root/pyproject.toml" ]; then
        _pyenv_log "installing the repository's packages (pyproject.toml) into .venv, editable"
        "$venv/bin/python" -m pip install --disable-pip-version-check -q --no-deps -e "$root" \
            || { _pyenv_log "pip install -e . failed"; return 1; }
    fi
    { cat "$lock" "$root/pyproject.toml" 2>/dev/null; "$venv/bin/python" -VV; } | _pyenv_hash >"$venv/.lock-stamp"
    _pyenv_log "ready ($venv)"
}

ensure_python_env() {
    local root="${1:-$_PYENV_REPO_ROOT}" rc
    mkdir -p "$root/.venv" || return 1
    # Serialise concurrent callers (several scripts may source this at once).
    if command -v flock >/dev/null 2>&1; then
        (
            exec 9>"$root/.venv/.sync.lock"
            flock 9
            _pyenv_sync "$root"
        )
        rc=$?
    else
        _pyenv_sync "$root"
        rc=$?
    fi
    [ "$rc" -eq 0 ] || return "$rc"
    VENV_PY="$root/.venv/bin/python"
    case ":$PATH:" in
        *":$root/.venv/bin:"*) ;;
        *) PATH="$root/.venv/bin:$PATH" ;;
    esac
    export VENV_PY PATH
}
