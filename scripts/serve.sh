#!/usr/bin/env sh
# Serves the demo on the runtime that runs the package script: Bun under
# `bun run serve`, Deno under `npm run serve` and everything else. The
# runtimes installed under tools/ (by `npm install`) come first on PATH.
set -eu
cd "$(dirname "$0")/.."
PATH="$PWD/tools/node_modules/.bin:$PATH"
export PATH
case "${npm_config_user_agent:-}" in
  bun/*)
    bun scripts/bundle.ts
    exec bun examples/demo/bun.ts
    ;;
  *)
    exec deno task serve
    ;;
esac
