#!/usr/bin/env bash
# `npm run test:openstack`: the VM, volume and snapshot behaviour suite (test/openstack-behaviour.test.ts)
# and the tests only a real cloud can answer (test/openstack-real.test.ts) against the real
# OpenStack services of scripts/openstack-dev.sh, on SQLite and then on PostgreSQL.
#
#   scripts/openstack-dev.sh start && npm run test:openstack
#
# SIMPLEVM_TEST_OPENRC names the cloud's openrc (default: the one scripts/openstack-dev.sh writes);
# TEST_DATABASE_URL the PostgreSQL server of the second run (default postgres@127.0.0.1:5432).
# What the portal made in the cloud's project is deleted before and after (scripts/openstack-dev.sh
# clean). The two files run one after the other: some tests stop Keystone or nova-compute for a while.
set -euo pipefail
cd "$(dirname "$0")/.."

export SIMPLEVM_TEST_OPENRC="${SIMPLEVM_TEST_OPENRC:-${SIMPLEVM_OPENSTACK_DIR:-/var/tmp/simplevm-openstack}/openrc}"
if [ ! -f "$SIMPLEVM_TEST_OPENRC" ] || ! bash scripts/openstack-dev.sh status >/dev/null; then
  echo "test:openstack: the development cloud is not running; start it with scripts/openstack-dev.sh start" >&2
  bash scripts/openstack-dev.sh status >&2 || true
  exit 1
fi
pg="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
files=(test/openstack-behaviour.test.ts test/openstack-real.test.ts)

bash scripts/openstack-dev.sh clean
status=0
echo "== the behaviour suite and the real-cloud tests against real OpenStack (SQLite) =="
TEST_DATABASE_URL='' npx vitest run --no-file-parallelism "${files[@]}" || status=1
echo "== the behaviour suite and the real-cloud tests against real OpenStack (PostgreSQL) =="
TEST_DATABASE_URL="$pg" npx vitest run --no-file-parallelism "${files[@]}" || status=1
bash scripts/openstack-dev.sh clean || true
exit $status
