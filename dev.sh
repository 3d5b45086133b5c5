#!/usr/bin/env bash
# The two commands of the README, on a fresh Debian machine:
#   ./dev.sh run   installs what is missing, starts a private ejabberd and the bot, and prints
#                  how to log in with any Jabber client (Ctrl-C stops both);
#   ./dev.sh test  installs what is missing and runs the whole test suite against a real ejabberd.
#   ./dev.sh botschaft …  runs an admin command against the bot `./dev.sh run` started.
# Extra arguments go to `botschaft dev`, to pytest or to `botschaft`.
set -euo pipefail
cd "$(dirname "$0")"

usage() { echo "usage: ./dev.sh run|test|botschaft [arguments for botschaft dev / pytest / botschaft]" >&2; exit 2; }
[ $# -ge 1 ] || usage
mode=$1; shift
case $mode in run|test|botschaft) ;; *) usage ;; esac

# ejabberd runs as its own system user and apt-get needs root.
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "Run this as root (ejabberd and apt-get need it)." >&2; exit 1; }
    exec sudo --preserve-env=BOTSCHAFT_DEVSERVER_DIR,BOTSCHAFT_TEST_STATE_BASE "$0" "$mode" "$@"
fi

# Debian packages: ejabberd (the real server) with its SQLite and PostgreSQL drivers, Python
# with venv, openssl for the dev certificate, npm for the web chat's Converse.js; for the tests
# also Chromium and its WebDriver (the browser tests drive Debian's own browser; nothing is
# downloaded at run time) and nginx (a test runs deploy/'s reverse-proxy example in it, on
# loopback ports).
missing=()
dpkg -s ejabberd >/dev/null 2>&1 || missing+=(ejabberd)
dpkg -s erlang-p1-sqlite3 >/dev/null 2>&1 || missing+=(erlang-p1-sqlite3)
dpkg -s erlang-p1-pgsql >/dev/null 2>&1 || missing+=(erlang-p1-pgsql)
dpkg -s erlang-p1-oauth2 >/dev/null 2>&1 || missing+=(erlang-p1-oauth2)
command -v openssl >/dev/null || missing+=(openssl)
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ "$mode" != botschaft ]; then
    command -v npm >/dev/null || missing+=(npm)
fi
if [ "$mode" = test ]; then
    dpkg -s chromium >/dev/null 2>&1 || missing+=(chromium)
    dpkg -s chromium-driver >/dev/null 2>&1 || missing+=(chromium-driver)
    dpkg -s nginx >/dev/null 2>&1 || missing+=(nginx)
    dpkg -s prometheus >/dev/null 2>&1 || missing+=(prometheus)  # promtool and Prometheus check deploy/prometheus/
    dpkg -s sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)  # the backup tests run its CLI
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${missing[@]}"
    if [[ " ${missing[*]} " == *" ejabberd "* ]] && command -v systemctl >/dev/null; then
        # Botschaft runs its own private instance; the package's system-wide service would
        # listen on every interface with Debian's defaults, so it is switched off again.
        systemctl disable --now ejabberd >/dev/null 2>&1 || true
        echo "Note: the system-wide ejabberd service is disabled (systemctl enable --now ejabberd)."
    fi
    if [[ " ${missing[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null; then
        # The tests start their own nginx; the package's service would serve Debian's default
        # site on port 80 of every interface, so it is switched off again.
        systemctl disable --now nginx >/dev/null 2>&1 || true
        echo "Note: the system-wide nginx service is disabled (systemctl enable --now nginx)."
    fi
    if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null; then
        # The tests start their own Prometheus; the package's (and its node exporter's) would
        # listen on every interface, so they are switched off again.
        systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
        echo "Note: the system-wide prometheus service is disabled (systemctl enable --now prometheus)."
    fi
fi

# Debian's own python3 where it is new enough: every user can run it, so the bot can run as
# an unprivileged user (a Python installed under /root could not be read by it).
python=python3
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python=/usr/bin/python3
fi
$python -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "Botschaft needs Python 3.11 or newer; this python3 is $($python -V)." >&2; exit 1; }

# The virtualenv with Botschaft and its test tools; reinstalled when setup.py or the Python
# it is made from changes.
home=$(dirname "$(readlink -f "$(command -v $python)")")
if [ -e .venv/pyvenv.cfg ] && ! grep -qx "home = $home" .venv/pyvenv.cfg; then
    echo "Rebuilding .venv with $python …"
    rm -rf .venv
fi
stamp=.venv/.installed-$(sha256sum setup.py | cut -c1-16)
if [ ! -e "$stamp" ]; then
    echo "Installing Botschaft into .venv …"
    [ -x .venv/bin/python ] || $python -m venv .venv
    if ! { .venv/bin/pip install --upgrade pip \
           && .venv/bin/pip install --editable '.[test,postgres,whatsapp]'; } > .venv/install.log 2>&1; then
        tail -n 30 .venv/install.log >&2
        echo "Installing the Python packages failed; the whole log is in .venv/install.log." >&2
        exit 1
    fi
    rm -f .venv/.installed-* && touch "$stamp"
fi

# Converse.js for the web chat, at the version deploy/conversejs/package-lock.json pins; the dev
# server copies its dist/ for ejabberd to serve. Reinstalled when the lock file changes.
if [ "$mode" != botschaft ]; then
    conversejs=deploy/conversejs
    stamp=$conversejs/node_modules/.installed-$(sha256sum $conversejs/package-lock.json | cut -c1-16)
    if [ ! -e "$stamp" ]; then
        echo "Installing Converse.js into $conversejs/node_modules …"
        if ! (cd $conversejs && npm ci --ignore-scripts --no-audit --no-fund) \
                > $conversejs/npm-install.log 2>&1; then
            tail -n 30 $conversejs/npm-install.log >&2
            echo "Installing Converse.js with npm failed; the whole log is in $conversejs/npm-install.log." >&2
            exit 1
        fi
        touch "$stamp"
    fi
fi

case $mode in
    run)  exec .venv/bin/botschaft dev "$@" ;;
    test) exec .venv/bin/pytest "$@" ;;
    botschaft)
        # Admin commands for the bot `./dev.sh run` started: its settings, unless given.
        bot_dir=${BOTSCHAFT_DEVSERVER_DIR:-/var/lib/botschaft/devserver}-bot
        if [ -z "${BOTSCHAFT_CONFIG:-}" ] && [ -e "$bot_dir/botschaft.toml" ]; then
            export BOTSCHAFT_CONFIG=$bot_dir/botschaft.toml
        fi
        status=0
        .venv/bin/botschaft "$@" || status=$?
        # Files the command made there (a database journal) stay the bot user's own.
        if [ -d "$bot_dir" ] && id botschaft >/dev/null 2>&1; then chown -R botschaft: "$bot_dir"; fi
        exit $status ;;
esac
