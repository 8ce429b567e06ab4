#!/bin/sh
# Installs the Debian packages a make target needs, only those missing.
# Usage: ensure-deps.sh build|test|run|bench|soak|deb|rpm
set -eu
build="g++ make apache2-dev libjansson-dev libre2-dev libapr1-dev libaprutil1-dev libcurl4-openssl-dev libsystemd-dev"
slurm="slurmctld slurmd slurm-client munge"
run="apache2 apache2-utils curl python3 python3-msgpack python3-websockets"
test="clang-format libcmocka-dev python3-pytest python3-prometheus-client valgrind clang libclang-rt-14-dev $slurm"
bench="wrk $slurm"
deb="build-essential dpkg-dev debhelper"
rpm="rpm"
# Node and npm may come from elsewhere (NodeSource's nodejs conflicts with
# Debian's npm): only ask for Debian's when the commands are missing.
command -v node >/dev/null 2>&1 || run="$run nodejs"
command -v npm >/dev/null 2>&1 || run="$run npm"
case "${1:-build}" in
build) want="$build" ;;
run) want="$build $run" ;;
test) want="$build $run $test $deb $rpm" ;;
bench) want="$build $run $bench" ;;
soak) want="$build $run $slurm" ;;
deb) want="$build $deb" ;;
rpm) want="$build $rpm" ;;
*) echo "usage: $0 build|run|test|bench|soak|deb|rpm" >&2; exit 2 ;;
esac
# Chromium, for the browser test: where it cannot be installed, that test
# says so and is skipped; nothing else depends on it.
install_optional() {
    [ "$want_kind" = test ] || return 0
    dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed" && return 0
    echo "Installing Debian package: chromium (for the browser test)"
    if [ "$(id -u)" -eq 0 ]; then s=""; else s="sudo"; fi
    $s apt-get update -q >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive $s apt-get install -y -q --no-install-recommends chromium \
        >/dev/null 2>&1 || echo "chromium could not be installed: the browser test will be skipped"
}
want_kind="${1:-build}"
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    install_optional
    exit 0
fi
echo "Installing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Package lists may be missing on a fresh machine.
$sudo apt-get update -q >/dev/null || true
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
install_optional
