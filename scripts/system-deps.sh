#!/usr/bin/env bash
# System packages the test suite uses: PostgreSQL (SQL source), OpenSSH server (SSH/SFTP
# sync), Chromium (browser tests). Installs the missing ones when it can (root or sudo with
# apt-get); otherwise it says what is missing and the tests that need them skip with a reason.
set -u
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
[ ${#need[@]} -eq 0 ] && { echo "system-deps: all present"; exit 0; }
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing ${need[*]} and no apt-get here; the tests that need them will skip"; exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "system-deps: missing ${need[*]}; not root and no password-less sudo; the tests that need them will skip"; exit 0
  fi
fi
echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || echo "system-deps: apt-get install failed; the tests that need ${need[*]} will skip"
