#!/usr/bin/env bash
# Installs the peers mailprobe is compared with (Postfix's smtp-sink and
# smtp-source, Dovecot's POP3, pytest and aiosmtpd) the way .ci/run installs
# the interop tests' tools, builds mailprobe, and runs bench/peers.py.
# Arguments go to peers.py (--rounds N, --messages N, --sessions N,
# --only smtp|pop3|seed). Every server listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v smtp-sink >/dev/null || ! command -v smtp-source >/dev/null \
    || [ ! -x /usr/sbin/dovecot ] || ! command -v openssl >/dev/null; then
    apt-get update
    # Installing Postfix and Dovecot must not ask questions or keep them running.
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y postfix dovecot-pop3d openssl
fi
if ! python3 -c "import aiosmtpd, pytest" 2>/dev/null; then
    python3 -m pip install --quiet "aiosmtpd==1.4.6" "pytest==8.4.2"
fi
# The system's own Postfix and Dovecot would only stand in the way.
if command -v service >/dev/null; then
    service postfix stop >/dev/null 2>&1 || true
    service dovecot stop >/dev/null 2>&1 || true
fi

cargo build --release --quiet
# The least an SMTP server can do, beside smtp-sink and the mock.
rustc -O --edition 2021 bench/smtp_floor.rs -o target/release/smtp-floor
echo "machine: $(nproc) cores, $(uname -sr)"
echo "mailprobe bench (the scenario library):"
./target/release/mailprobe bench --rounds 5
python3 bench/peers.py "$@"
