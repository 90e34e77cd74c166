#!/usr/bin/env bash
# Runs the unit tests on Node 24 (the current LTS) as well as on the system node. Node 24 comes
# from the npm registry as the platform package `node-<os>-<arch>` (what the `node` package's
# install script fetches; installing it directly needs no install script). It goes into
# .cache/node24 (gitignored) and never touches the system node or PATH. Exits non-zero if the
# install or any unit test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

major=24
cache=.cache/node$major

os=$(node -p "process.platform === 'win32' ? 'win' : process.platform")
arch=$(node -p 'process.arch')
prefix=node
if [ "$os" = darwin ] && [ "$arch" = arm64 ]; then prefix=node-bin; fi
pkg="$prefix-$os-$arch"
bin="$cache/node_modules/$pkg/bin/node"

if ! [ -x "$bin" ] || [ "$("$bin" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" != "$major" ]; then
  rm -rf "$cache"
  mkdir -p "$cache"
  echo '{ "private": true }' >"$cache/package.json"
  npm install --prefix "$cache" --no-save --no-audit --no-fund --no-package-lock --ignore-scripts "$pkg@$major"
fi

version=$("$bin" --version)
case "$version" in
  "v$major".*) ;;
  *) echo "expected Node $major from $bin, got $version" >&2; exit 1 ;;
esac
echo "node $version ($bin)"

# The same unit project as `npm test`, run by Node 24 itself (not via npx, which would use the system node).
"$bin" node_modules/vitest/vitest.mjs run --project unit
