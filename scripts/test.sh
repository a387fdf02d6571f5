#!/usr/bin/env bash
# The one command that runs every test on a fresh Debian 12 machine (README, .ci/run).
# It installs the real peers the tests talk to, installs the npm dependencies from
# package-lock.json, and runs the whole suite with Node's built-in test runner.
set -euo pipefail
cd "$(dirname "$0")/.."

# A merge conflict left in any file (scripts and docs are not type-checked) stops the run here.
if git grep -nE '^(<<<<<<<|>>>>>>>) ' -- . ':!node_modules' 2>/dev/null; then
  echo "unresolved merge conflict markers (above): fix them first" >&2
  exit 1
fi

# node_modules is never part of the tree (a committed symlink once replaced the real one).
if git ls-files --error-unmatch node_modules >/dev/null 2>&1; then
  echo "node_modules is tracked by git: git rm --cached node_modules" >&2
  exit 1
fi

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
# The files that exercise the SQL (repositories, services, the in-process API): run a
# second time on PostgreSQL (docs/postgresql.md). Kept to what covers the database layer,
# so the second pass adds minutes, not the whole suite again.
PG_FILES=(
  test/unit/storage.test.ts
  test/unit/services-core.test.ts
  test/unit/filter-services.test.ts
  test/unit/filter-policy-lists.test.ts
  test/unit/digest-job.test.ts
  test/unit/filter-bayes-sql.test.ts
  test/unit/message-rules.test.ts
  test/unit/modify-rules.test.ts
  test/unit/attachment-rules.test.ts
  test/unit/auth-keys.test.ts
  test/unit/quarantine-store.test.ts
  test/unit/spool-recovery.test.ts
  test/unit/trace-retention.test.ts
  test/unit/trace-command.test.ts
  test/unit/queue-lease.test.ts
  test/unit/tls-sni.test.ts
  test/unit/encryption-keys-repo.test.ts
  test/unit/rate-limits.test.ts
  test/integration/api-filter.test.ts
)
out=$(mktemp)
set +e
# A file that has not finished after 10 minutes fails instead of holding up the run.
node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-3}" --test-timeout=600000 --test-reporter=spec "${files[@]}" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e

echo "== PostgreSQL pass: ${#PG_FILES[@]} files on a throwaway PostgreSQL 15 cluster"
pgbin=/usr/lib/postgresql/15/bin
pgdir=$(mktemp -d /tmp/hermes-pg-ci-XXXXXX)
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$pgdir"; AS_PG=(runuser -u postgres --); else AS_PG=(); fi
"${AS_PG[@]}" "$pgbin/initdb" -D "$pgdir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync >/dev/null
pgport=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"${AS_PG[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -o "-p $pgport -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pgdir -c fsync=off -c synchronous_commit=off -c max_connections=300" start >/dev/null
stop_pg() { "${AS_PG[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap stop_pg EXIT
pgout=$(mktemp)
set +e
HERMES_TEST_DB=postgres HERMES_TEST_PG_URL="postgres://postgres@127.0.0.1:$pgport/postgres" \
  node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-3}" --test-timeout=600000 --test-reporter=spec "${PG_FILES[@]}" 2>&1 | tee "$pgout"
pgstatus=${PIPESTATUS[0]}
set -e
[ "$status" = 0 ] && status=$pgstatus

count() { local n; n=$(grep -E "^ℹ $1 [0-9]+" "$2" | awk '{print $3}' | tail -1); echo "${n:-0}"; }
passed=$(( $(count pass "$out") + $(count pass "$pgout") ))
# A cancelled test (a file that timed out) is a failure too.
failed=$(( $(count fail "$out") + $(count cancelled "$out") + $(count fail "$pgout") + $(count cancelled "$pgout") ))
rm -f "$out" "$pgout"
echo "${passed} passed, ${failed} failed (SQLite: ${#files[@]} files; PostgreSQL: ${#PG_FILES[@]} files)"
exit "$status"
