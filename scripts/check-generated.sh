#!/usr/bin/env bash
# Fails if client/src/generated does not match what `buf generate` makes from proto/.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npx buf lint
sed "s#out: client/src/generated#out: $tmp/gen#" buf.gen.yaml > "$tmp/buf.gen.yaml"
npx buf generate --template "$tmp/buf.gen.yaml"
if ! diff -r -q "$tmp/gen" client/src/generated > "$tmp/diff.txt"; then
  echo "error: client/src/generated is out of date with proto/ — run 'make proto' and commit the result:" >&2
  cat "$tmp/diff.txt" >&2
  exit 1
fi
echo "generated code matches the protos"
