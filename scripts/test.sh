#!/usr/bin/env bash
# The one command that runs every test on a fresh Debian 12 machine (README, .ci/run).
# It installs the real peers the tests talk to, installs the npm dependencies from
# package-lock.json, and runs the whole suite with Node's built-in test runner.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-peers.sh

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
fi

echo "== typecheck"
npx tsc --noEmit
# The integration tests run the built gateway, as an install does.
echo "== build"
npm run build --silent

mapfile -t files < <(find test -name '*.test.ts' | sort)
echo "== running ${#files[@]} test files"
export UV_THREADPOOL_SIZE=16
# Files run in parallel (three at a time: most wait on peers, not CPU); each test file starts
# its own gateway, DNS server and peers on free loopback ports, so they never collide.
out=$(mktemp)
set +e
# A file that has not finished after 10 minutes fails instead of holding up the run.
node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-3}" --test-timeout=600000 --test-reporter=spec "${files[@]}" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -E '^ℹ pass [0-9]+' "$out" | awk '{print $3}' | tail -1)
failed=$(grep -E '^ℹ fail [0-9]+' "$out" | awk '{print $3}' | tail -1)
# A cancelled test (a file that timed out) is a failure too.
cancelled=$(grep -E '^ℹ cancelled [0-9]+' "$out" | awk '{print $3}' | tail -1)
failed=$(( ${failed:-0} + ${cancelled:-0} ))
rm -f "$out"
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
