#!/usr/bin/env bash
# Installs the real peers the tests run against (Debian 12 packages), once.
# PostgreSQL 15 is for the second test pass and the multi-node tests (clusters started
# by the tests themselves in temporary directories; the packaged cluster is not used).
# Postfix is installed for its smtp-sink/smtp-source tools and as the benchmark peer;
# its own daemon is never started by the package here (no systemd), and tests run
# private instances on loopback ports.
set -euo pipefail
need=()
# Debian packages the tests use; dpkg says which are missing (python3 on PATH may be
# another interpreter, so the Python modules are checked as packages).
for pkg in postfix postgresql swaks pebble python3-dkim python3-nacl python3-yaml python3-authres openssl clamav clamav-daemon spamassassin spamd rspamd chromium fonts-dejavu-core gnupg gpg-agent qpdf poppler-utils; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing test peers: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update
  # postfix asks its configuration questions through debconf; answer "No configuration".
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO apt-get install -y --no-install-recommends "${need[@]}"
fi
