#!/bin/sh
# Builds the demo page into build/web/ (index.html, demo.js, demo.css) from
# web/src/, with the npm packages pinned in web/package-lock.json.
# Usage: sh web/build.sh [OUTDIR]      (default: <repo>/build/web)
# Needs node (>= 18) and npm; installs web/node_modules with `npm ci`
# (skipped when node_modules already matches the lock file).
set -eu
web=$(cd "$(dirname "$0")" && pwd)
out=${1:-$(dirname "$web")/build/web}
cd "$web"
# npm ci wipes and reinstalls node_modules: only when the lock file changed.
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
mkdir -p "$out"
./node_modules/.bin/esbuild src/demo.js --bundle --format=iife --target=es2020 \
    --minify --sourcemap --legal-comments=linked --log-level=warning \
    --outfile="$out/demo.js"
cp src/index.html src/demo.css "$out/"
echo "web/build.sh: demo page built in $out"
