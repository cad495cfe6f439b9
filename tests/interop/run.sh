#!/usr/bin/env bash
# Interoperability tests: real third-party clients against a real server.
#   litmus (WebDAV: basic, copymove, props) on a user's file space;
#   the python caldav library (CalDAV scenario: tests/interop/caldav_scenario.py);
#   vdirsyncer (CardDAV two-way sync: tests/interop/vdirsyncer_scenario.sh).
# Installs what is missing: litmus from Debian (needs root), the Python
# clients (pinned versions) into a virtualenv under target/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

if ! command -v litmus >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "installing litmus from Debian"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends litmus >/dev/null \
            || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends litmus >/dev/null; }
    else
        echo "litmus is missing: install it with 'sudo apt-get install litmus'" >&2
        exit 1
    fi
fi

venv="$root/target/interop-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import caldav, vdirsyncer" 2>/dev/null; then
    echo "installing the Python clients into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check caldav==3.6.0 vdirsyncer==0.21.0
fi

cargo build --quiet
bin="${CARGO_TARGET_DIR:-$root/target}/debug/skjold"
work=$(mktemp -d /tmp/skjold-interop.XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

password="interop-$RANDOM$RANDOM"
echo "$password" | "$bin" --data-dir "$work/data" user add tester --password-stdin >/dev/null
RUST_LOG=warn "$bin" --data-dir "$work/data" serve --listen 127.0.0.1:0 > "$work/server.out" 2> "$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
    grep -q "listening on" "$work/server.out" 2>/dev/null && break
    sleep 0.1
done
base=$(sed -n 's/^Skjold is listening on \(.*\)\/$/\1/p' "$work/server.out")
[ -n "$base" ] || { echo "the server did not start:"; cat "$work/server.log"; exit 1; }
echo "server at $base (logs in $work)"

failed=0
LITMUS_LOGDIR="$work/litmus" tests/interop/litmus.sh "$base/dav/files/tester/" tester "$password" || failed=1
"$venv/bin/python" tests/interop/caldav_scenario.py "$base/" tester "$password" > "$work/caldav.log" 2>&1 || failed=1
grep -E "^(FAIL|caldav:)" "$work/caldav.log" || true
tests/interop/vdirsyncer_scenario.sh "$base/" tester "$password" "$venv/bin/vdirsyncer" > "$work/vdirsyncer.log" 2>&1 || failed=1
grep -E "^(FAIL|vdirsyncer:)" "$work/vdirsyncer.log" || true

[ "$failed" -eq 0 ] && echo "interop: all passed" || echo "interop: FAILED (logs in $work)"
exit "$failed"
