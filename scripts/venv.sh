# Sourced by scripts/demo and scripts/test: makes .venv (this checkout's own virtual
# environment) and installs this package into it with the extras given in $1 ("" or "[test]").
# Debian 12's python3 refuses pip installs outside a venv (PEP 668) and ships without venv;
# python3-venv is installed with apt when missing.

apt_install() {
    local sudo="" log
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if ! command -v apt-get >/dev/null; then
        echo "$0: needs ${*} and there is no apt-get here; install them, then run this again" >&2
        exit 1
    fi
    echo "Installing Debian packages: $*"
    log=$(mktemp)
    if ! { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "$@"; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "$0: installing $* failed (output above)" >&2
        exit 1
    fi
    rm -f "$log"
}

make_venv() {
    local extras="$1" python
    python=$(command -v python3 || true)
    if [ -z "$python" ]; then
        apt_install python3 python3-venv
        python=$(command -v python3)
    fi
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
        echo "$0: $python is Python $("$python" -c 'import platform; print(platform.python_version())'); 3.9 or newer is needed" >&2
        exit 1
    fi
    # A venv from another Python (or a moved checkout) no longer runs: make it anew.
    if [ -d .venv ] && ! .venv/bin/python -c 'import sys' 2>/dev/null; then
        rm -rf .venv
    fi
    if [ ! -x .venv/bin/python ]; then
        # Debian splits venv and ensurepip out of python3; both are needed for a venv with pip.
        "$python" -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
        "$python" -m venv .venv
    fi
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras"
    export PATH="$PWD/.venv/bin:$PATH"
    export VIRTUAL_ENV="$PWD/.venv"
}
