#!/bin/sh
# Installs the Debian packages a make target needs, only those missing.
# Usage: ensure-deps.sh build|test|run|bench
set -eu
build="g++ make apache2-dev libjansson-dev libapr1-dev libaprutil1-dev libcurl4-openssl-dev"
run="apache2 apache2-utils curl python3 python3-msgpack python3-websockets"
test="libcmocka-dev python3-pytest python3-prometheus-client valgrind clang libclang-rt-14-dev"
bench="wrk"
case "${1:-build}" in
build) want="$build" ;;
run) want="$build $run" ;;
test) want="$build $run $test" ;;
bench) want="$build $run $bench" ;;
*) echo "usage: $0 build|run|test|bench" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "Installing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Package lists may be missing on a fresh machine.
$sudo apt-get update -q >/dev/null || true
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
