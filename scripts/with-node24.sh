#!/usr/bin/env bash
# Runs a command on Node.js 24, the current LTS, in this checkout: by default the whole suite
# (`npm test`); TEST_DATABASE_URL and the rest of the environment pass through.
#
#   scripts/with-node24.sh                          # the suite on SQLite
#   TEST_DATABASE_URL=postgres://… scripts/with-node24.sh
#   scripts/with-node24.sh npx vitest run test/keys.test.ts
#
# The project supports Node 20.19 and later (package.json `engines`); the machines have Node 20,
# so this is how the suite also runs on the LTS that users install today.
# - Node 24 comes from the npm registry (the only place besides Debian that our machines reach):
#   the package node-<platform>-<arch> is the official build with its C headers, and has no install
#   script. It goes to node_modules/.cache/node24 (NODE24_PREFIX), never into package.json: as a
#   dependency it would put Node 24 first on the PATH of every npm script.
#   (The `node` package wraps the same builds, but its 24 line stops at 24.9.0 and its install
#   script installs node-<platform>-<arch> anyway.)
# - better-sqlite3 is a native module built for one Node ABI, so it is compiled here against
#   Node 24's headers from that package (`--nodedir`: nothing is fetched from nodejs.org). The
#   Node 20 build is moved aside first and put back at the end, whatever happens, so the checkout
#   works on Node 20 afterwards; the Node 24 build is kept beside Node 24 for the next run.
# - Node's own warnings (deprecations of APIs our dependencies call) go to a file and are printed
#   at the end, so they show in the log without changing what tests see on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE24_VERSION="${NODE24_VERSION:-24.22.3}"
prefix="${NODE24_PREFIX:-$PWD/node_modules/.cache/node24}"
# Asked of the Node on the PATH, so that a Mac or an arm64 machine gets its own build.
package="node-$(node -p 'process.platform')-$(node -p 'process.arch')"
nodedir="$prefix/node_modules/$package"

if [ "$("$nodedir/bin/node" --version 2>/dev/null || true)" != "v$NODE24_VERSION" ]; then
  echo "== installing $package@$NODE24_VERSION into $prefix =="
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund \
    "$package@$NODE24_VERSION"
fi
export PATH="$nodedir/bin:$PATH"
node_version="$(node --version)"
[ "$node_version" = "v$NODE24_VERSION" ] || { echo "with-node24: node on the PATH is $node_version" >&2; exit 1; }

addon_dir="node_modules/better-sqlite3"
[ -d "$addon_dir/build" ] || { echo "with-node24: $addon_dir/build is missing: run npm ci first" >&2; exit 1; }
addon_version="$(node -p "require('./$addon_dir/package.json').version")"
node24_build="$prefix/better-sqlite3-$addon_version-node$NODE24_VERSION"
saved_build="$addon_dir/build.node20"

# The Node 20 build goes back in place on any exit, and the Node 24 one is kept for next time.
restore() {
  if [ -d "$saved_build" ]; then
    rm -rf "$node24_build.tmp"
    if [ -f "$addon_dir/build/Release/better_sqlite3.node" ] && [ ! -d "$node24_build" ]; then
      mv "$addon_dir/build" "$node24_build.tmp" && mv "$node24_build.tmp" "$node24_build"
    fi
    rm -rf "$addon_dir/build"
    mv "$saved_build" "$addon_dir/build"
  fi
}
trap restore EXIT
trap 'exit 130' INT TERM
[ ! -d "$saved_build" ] || { echo "with-node24: $saved_build exists (an earlier run was killed?): put it back as $addon_dir/build" >&2; exit 1; }
mv "$addon_dir/build" "$saved_build"

if [ -d "$node24_build" ]; then
  echo "== better-sqlite3 $addon_version: the Node $NODE24_VERSION build from an earlier run =="
  cp -a "$node24_build" "$addon_dir/build"
else
  echo "== building better-sqlite3 $addon_version for Node $NODE24_VERSION =="
  # Its own build script, not `npm rebuild`, whose install script first tries to download a
  # prebuilt binary; npm puts its node-gyp on the PATH and passes --nodedir on to it.
  # Its compiler warnings are the package's, not ours: they go to a log, shown if the build fails.
  started=$SECONDS
  build_log="$(mktemp)"
  if ! JOBS=max npm run build-release --prefix "$addon_dir" --nodedir="$nodedir" >"$build_log" 2>&1; then
    tail -40 "$build_log" >&2
    echo "with-node24: building better-sqlite3 for Node $NODE24_VERSION failed (log above)" >&2
    exit 1
  fi
  rm -f "$build_log"
  echo "   built in $((SECONDS - started)) s"
fi
# A build for the wrong ABI fails here, with one clear message, rather than in every test file.
node -e "new (require('./$addon_dir'))(':memory:').close()"

warnings="$(mktemp)"
export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--redirect-warnings=$warnings"
[ "$#" -gt 0 ] || set -- npm test
echo "== on Node $node_version: $* =="
status=0
"$@" || status=$?
if [ -s "$warnings" ]; then
  echo "== Node $node_version printed these warnings (they do not fail the run) =="
  # One line per warning and count, without the process ids that tell them apart.
  sed -E 's/^\(node:[0-9]+\) //' "$warnings" | grep -v '^(Use `node --trace' | sort | uniq -c | sort -rn | head -50
fi
rm -f "$warnings"
exit "$status"
