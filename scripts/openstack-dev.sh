#!/usr/bin/env bash
# A real OpenStack cloud on this machine, from Debian's own packages (release Zed), for developing
# and testing the portal's OpenStack provider: Keystone, Glance, Placement, Nova (with its fake
# hypervisor), Cinder (with its fake volume driver) and Neutron, as plain processes on 127.0.0.1.
#
#   scripts/openstack-dev.sh start    # install what is missing, configure, start, set up; prints the settings
#   scripts/openstack-dev.sh status   # which services run
#   scripts/openstack-dev.sh stop     # ends what `start` started, nothing else
#   scripts/openstack-dev.sh stop nova-compute; … start nova-compute   # one service (tests' faults)
#   scripts/openstack-dev.sh env      # prints the settings again (as `start` does at its end)
#   scripts/openstack-dev.sh clean    # delete the servers, volumes and snapshots the portal made
#   scripts/openstack-dev.sh purge    # stop, then remove the cloud's databases, vhost and files
#
# Then: `source /var/tmp/simplevm-openstack/openrc && npm start` runs the portal against it
# (docs/openstack.md). `start` is re-runnable: it starts only what is not running, keeps the
# databases, images and the application credential of an earlier start.
#
# Where things go: SIMPLEVM_OPENSTACK_DIR (default /var/tmp/simplevm-openstack) holds the
# configuration, logs (log/), process ids (run/), Glance's images and the openrc files. One
# PostgreSQL database per service (os_keystone, os_glance, …) on the machine's server
# (SIMPLEVM_OPENSTACK_PG, default postgres@127.0.0.1:5432) and a RabbitMQ vhost of its own
# (simplevm-openstack, as guest on 127.0.0.1:5672). Must run as root (it installs packages).
#
# The facts behind the choices (why Neutron is there, `Connection: close`, the snapshot and extend
# replacements in scripts/openstack-dev/, service tokens, …) are in docs/openstack.md.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
STATE="${SIMPLEVM_OPENSTACK_DIR:-/var/tmp/simplevm-openstack}"
PG="${SIMPLEVM_OPENSTACK_PG:-postgres@127.0.0.1:5432}"
RABBIT_VHOST=simplevm-openstack
# Debian's Python: the services' packages live in its dist-packages (python3 on the PATH may be another).
PY=/usr/bin/python3
# Passwords of the cloud's own service users and its admin: this cloud listens on 127.0.0.1 only.
PASS="${SIMPLEVM_OPENSTACK_PASSWORD:-simplevm-dev}"
KEYSTONE=http://127.0.0.1:5000
REGION=RegionOne
# The name of the one compute host (Nova's fake hypervisor).
COMPUTE_HOST=simplevm-compute

PACKAGES="keystone glance-api placement-api nova-api nova-conductor nova-scheduler python3-nova \
cinder-api cinder-scheduler python3-cinder neutron-common python3-psycopg2 uwsgi-plugin-python3 \
python3-openstackclient"

# The services, in the order they start (command_of and port_of say how each runs).
SERVICES=(keystone glance placement nova-api nova-conductor nova-scheduler neutron nova-compute cinder-api cinder-scheduler cinder-volume)

log() { printf '%s openstack-dev: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Installing

install_packages() {
  local missing=""
  for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  [ "$(id -u)" = 0 ] || die "needs root to install:$missing"
  log "installing:$missing"
  # No service may start at install time, and the packages must not set up databases or endpoints
  # themselves (debconf questions answered "no"); this script does both its own way.
  local made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  {
    for s in cinder glance neutron nova placement; do
      for q in configure_db configure_ksat configure_rabbit configure_api-endpoint configure_nova \
               configure_neutron configure_placement; do
        echo "$s $s/$q boolean false"
      done
    done
    echo "keystone keystone/configure_db boolean false"
    echo "novaapi novaapi/configure_db boolean false"
    for p in keystone glance-api glance-common placement-api placement-common nova-api nova-common \
             cinder-common cinder-api neutron-common; do
      echo "$p $p/dbconfig-install boolean false"
    done
  } | debconf-set-selections
  local status=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >"$STATE/log/install.log" 2>&1 || {
    apt-get update -qq >>"$STATE/log/install.log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >>"$STATE/log/install.log" 2>&1
  } || status=$?
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  [ "$status" = 0 ] || { tail -20 "$STATE/log/install.log" >&2; die "apt-get install failed (log: $STATE/log/install.log)"; }
}

# ---------------------------------------------------------------------------------------------
# Configuration: one file per service under $STATE/etc, written anew at every start.

db_url() { echo "postgresql+psycopg2://$PG/os_$1"; }

authtoken() { # the [keystone_authtoken] of a service whose user is $1 [, seconds a checked token is trusted]
  cat <<EOF
[keystone_authtoken]
www_authenticate_uri = $KEYSTONE
auth_url = $KEYSTONE
auth_type = password
user_domain_name = Default
project_domain_name = Default
project_name = service
username = $1
password = $PASS
service_token_roles_required = true
token_cache_time = ${2:-300}
EOF
}

service_auth() { # an auth section [$1] for service user $2
  cat <<EOF
[$1]
auth_url = $KEYSTONE
auth_type = password
user_domain_name = Default
project_domain_name = Default
project_name = service
username = $2
password = $PASS
region_name = $REGION
EOF
}

write_config() {
  local rabbit="rabbit://guest:guest@127.0.0.1:5672/$RABBIT_VHOST"
  mkdir -p "$STATE"/{etc/nova,etc/placement,etc/nova-compute,log,run,lock,keystone/fernet-keys,keystone/credential-keys,glance/images,glance/staging,glance/tasks,nova,cinder,neutron}

  cat >"$STATE/etc/keystone.conf" <<EOF
[DEFAULT]
use_stderr = true
[database]
connection = $(db_url keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $STATE/keystone/fernet-keys
[credential]
key_repository = $STATE/keystone/credential-keys
[cache]
enabled = false
[identity]
# The fewest bcrypt rounds Keystone allows: every password check (each service's token) is faster.
password_hash_rounds = 4
EOF

  cat >"$STATE/etc/glance-api.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9292
workers = 0
use_stderr = true
enabled_backends = file:file
[database]
connection = $(db_url glance)
$(authtoken glance)
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = $STATE/glance/images/
[os_glance_staging_store]
filesystem_store_datadir = $STATE/glance/staging/
[os_glance_tasks_store]
filesystem_store_datadir = $STATE/glance/tasks/
[oslo_concurrency]
lock_path = $STATE/lock
EOF

  cat >"$STATE/etc/placement/placement.conf" <<EOF
[DEFAULT]
use_stderr = true
[placement_database]
connection = $(db_url placement)
[api]
auth_strategy = keystone
$(authtoken placement)
EOF

  # Nova's API, conductor and scheduler; nova-compute gets the same without database sections.
  local nova_common
  nova_common="$(cat <<EOF
[DEFAULT]
transport_url = $rabbit
my_ip = 127.0.0.1
state_path = $STATE/nova
use_stderr = true
[api]
auth_strategy = keystone
$(authtoken nova 5)
$(service_auth service_user nova)
send_service_user_token = true
$(service_auth placement nova)
$(service_auth neutron nova)
[cinder]
os_region_name = $REGION
auth_url = $KEYSTONE
auth_type = password
user_domain_name = Default
project_domain_name = Default
project_name = service
username = nova
password = $PASS
[glance]
region_name = $REGION
[oslo_concurrency]
lock_path = $STATE/lock
[oslo_messaging_notifications]
driver = noop
[vnc]
enabled = false
[wsgi]
api_paste_config = $STATE/etc/nova/api-paste.ini
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 2
EOF
)"
  {
    echo "$nova_common"
    echo "[api_database]"; echo "connection = $(db_url nova_api)"
    echo "[database]"; echo "connection = $(db_url nova)"
  } >"$STATE/etc/nova/nova.conf"
  cp /etc/nova/api-paste.ini "$STATE/etc/nova/api-paste.ini"
  {
    echo "$nova_common" | sed "s/^\[DEFAULT\]$/[DEFAULT]\ncompute_driver = fake.FakeDriver\nhost = $COMPUTE_HOST/"
  } >"$STATE/etc/nova-compute/nova.conf"

  cat >"$STATE/etc/neutron.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9696
core_plugin = ml2
service_plugins = router
transport_url = $rabbit
auth_strategy = keystone
state_path = $STATE/neutron
api_paste_config = /etc/neutron/api-paste.ini
api_workers = 1
rpc_workers = 1
rpc_state_report_workers = 0
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
use_stderr = true
[database]
connection = $(db_url neutron)
$(authtoken neutron)
$(service_auth nova neutron)
[oslo_concurrency]
lock_path = $STATE/lock
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers = test
extension_drivers = port_security
[ml2_type_vxlan]
vni_ranges = 1:1000
[ml2_type_flat]
flat_networks = *
EOF

  cat >"$STATE/etc/cinder.conf" <<EOF
[DEFAULT]
transport_url = $rabbit
auth_strategy = keystone
my_ip = 127.0.0.1
state_path = $STATE/cinder
api_paste_config = /etc/cinder/api-paste.ini
enabled_backends = fake
default_volume_type = __DEFAULT__
use_stderr = true
[database]
connection = $(db_url cinder)
$(authtoken cinder)
$(service_auth service_user cinder)
send_service_user_token = true
$(service_auth nova cinder)
[oslo_concurrency]
lock_path = $STATE/lock
[fake]
volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver
volume_backend_name = fake
EOF
}

# ---------------------------------------------------------------------------------------------
# Databases, message queue, schema

prepare_backends() {
  pg_isready -h 127.0.0.1 -p 5432 -q || die "PostgreSQL is not reachable at 127.0.0.1:5432"
  local existing
  existing="$(psql "postgresql://$PG/postgres" -Atc "select datname from pg_database where datname like 'os\\_%'")"
  for db in keystone glance placement nova nova_api nova_cell0 cinder neutron; do
    grep -qx "os_$db" <<<"$existing" || psql "postgresql://$PG/postgres" -qc "create database os_$db" >/dev/null
  done
  command -v rabbitmqctl >/dev/null || die "rabbitmqctl not found (RabbitMQ must run at 127.0.0.1:5672)"
  rabbitmqctl -q list_vhosts 2>/dev/null | grep -qx "$RABBIT_VHOST" || rabbitmqctl -q add_vhost "$RABBIT_VHOST" >/dev/null
  rabbitmqctl -q set_permissions -p "$RABBIT_VHOST" guest '.*' '.*' '.*' >/dev/null
}

logged() { # command… → run it with its output in schemas.log; on failure show the end and stop
  "$@" >>"$STATE/log/schemas.log" 2>&1 || { tail -20 "$STATE/log/schemas.log" >&2; die "$* failed (log: $STATE/log/schemas.log)"; }
}

sync_schemas() {
  [ -f "$STATE/run/schemas-done" ] && return 0
  log "creating the services' schemas (first start only; log: $STATE/log/schemas.log)"
  local k="$STATE/etc/keystone.conf" n="$STATE/etc/nova/nova.conf"
  logged keystone-manage --config-file "$k" db_sync
  logged keystone-manage --config-file "$k" fernet_setup --keystone-user root --keystone-group root
  logged keystone-manage --config-file "$k" credential_setup --keystone-user root --keystone-group root
  logged keystone-manage --config-file "$k" bootstrap --bootstrap-password "$PASS" \
    --bootstrap-admin-url "$KEYSTONE/v3/" --bootstrap-internal-url "$KEYSTONE/v3/" \
    --bootstrap-public-url "$KEYSTONE/v3/" --bootstrap-region-id "$REGION"
  logged glance-manage --config-file "$STATE/etc/glance-api.conf" db_sync
  logged placement-manage --config-file "$STATE/etc/placement/placement.conf" db sync
  logged nova-manage --config-file "$n" api_db sync
  logged nova-manage --config-file "$n" cell_v2 map_cell0 --database_connection "$(db_url nova_cell0)"
  nova-manage --config-file "$n" cell_v2 list_cells 2>/dev/null | grep -q " cell1 " ||
    logged nova-manage --config-file "$n" cell_v2 create_cell --name cell1
  logged nova-manage --config-file "$n" db sync
  logged cinder-manage --config-file "$STATE/etc/cinder.conf" db sync
  logged neutron-db-manage --config-file "$STATE/etc/neutron.conf" upgrade heads
  touch "$STATE/run/schemas-done"
}

# ---------------------------------------------------------------------------------------------
# Processes: each in a session of its own, so that `stop` ends it with everything it forked.

uwsgi_app() { # port wsgi-file [uwsgi options…]
  local port="$1" file="$2"
  shift 2
  # uWSGI's --http-socket closes every connection without saying so: clients that keep connections
  # alive would see resets. `Connection: close` tells them (Debian's own uWSGI files do the same).
  CMD=(uwsgi --plugin python3 --http-socket "127.0.0.1:$port" --wsgi-file "$file" --master
    --processes 2 --threads 1 --enable-threads --lazy-apps --die-on-term --no-orphans
    --buffer-size 65535 --add-header "Connection: close" "$@")
}

command_of() { # name → CMD, the service's command line
  case "$1" in
    keystone) uwsgi_app 5000 /usr/bin/keystone-wsgi-public --env "OS_KEYSTONE_CONFIG_FILES=$STATE/etc/keystone.conf" ;;
    glance) CMD=(glance-api --config-file "$STATE/etc/glance-api.conf") ;;
    placement) uwsgi_app 8778 /usr/bin/placement-api --env "OS_PLACEMENT_CONFIG_DIR=$STATE/etc/placement" ;;
    nova-api) uwsgi_app 8774 /usr/bin/nova-api-wsgi --env "OS_NOVA_CONFIG_DIR=$STATE/etc/nova" ;;
    nova-conductor) CMD=(nova-conductor --config-file "$STATE/etc/nova/nova.conf") ;;
    nova-scheduler) CMD=(nova-scheduler --config-file "$STATE/etc/nova/nova.conf") ;;
    nova-compute) CMD=("$PY" "$HERE/openstack-dev/nova-compute.py" --config-file "$STATE/etc/nova-compute/nova.conf") ;;
    neutron) CMD=("$PY" "$HERE/openstack-dev/neutron-server.py" --config-file "$STATE/etc/neutron.conf") ;;
    cinder-api) uwsgi_app 8776 /usr/bin/cinder-wsgi --pyargv "--config-file $STATE/etc/cinder.conf" ;;
    cinder-scheduler) CMD=(cinder-scheduler --config-file "$STATE/etc/cinder.conf") ;;
    cinder-volume) CMD=("$PY" "$HERE/openstack-dev/cinder-volume.py" --config-file "$STATE/etc/cinder.conf") ;;
  esac
}

port_of() {
  case "$1" in
    keystone) echo 5000 ;; glance) echo 9292 ;; placement) echo 8778 ;; nova-api) echo 8774 ;;
    neutron) echo 9696 ;; cinder-api) echo 8776 ;; *) echo 0 ;;
  esac
}

known() { # name → 0 when it is one of SERVICES, else stop with a usage line
  local s
  for s in "${SERVICES[@]}"; do [ "$s" = "$1" ] && return 0; done
  die "no service $1 (services: ${SERVICES[*]})"
}

running() { # name → 0 when the process `start` recorded for it is alive
  local pidfile="$STATE/run/$1.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null &&
    ! grep -q '^State:.*zombie' "/proc/$(cat "$pidfile")/status" 2>/dev/null
}

start_service() {
  local name="$1"
  running "$name" && return 0
  command_of "$name"
  # setsid: a session of its own, whose id is the process id recorded here.
  setsid "${CMD[@]}" >>"$STATE/log/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/run/$name.pid"
}

wait_port() { # name port seconds
  local end=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; do
    running "$1" || { tail -30 "$STATE/log/$1.log" >&2; die "$1 ended at start (log: $STATE/log/$1.log)"; }
    [ $SECONDS -lt $end ] || die "$1 did not open port $2 within $3 s (log: $STATE/log/$1.log)"
    sleep 0.5
  done
}

stop_all() { # [service…] (all when none is named)
  local pids=() name pid
  local names=("${@:-${SERVICES[@]}}")
  for name in "${names[@]}"; do
    known "$name"
    [ -f "$STATE/run/$name.pid" ] || continue
    pid="$(cat "$STATE/run/$name.pid")"
    # The whole session (uWSGI's workers, oslo.service's children), and only if it is ours.
    kill -TERM -- "-$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$STATE/run/$name.pid"
  done
  # A few seconds to end on their own (nova-compute's graceful shutdown would wait a minute), then killed.
  local end=$((SECONDS + 8))
  for pid in "${pids[@]}"; do
    while kill -0 -- "-$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  log "stopped ${#pids[@]} service(s)"
}

status_all() {
  local all=0 name port
  for name in "${SERVICES[@]}"; do
    port="$(port_of "$name")"
    if running "$name"; then
      printf '%-17s running (pid %s%s)\n' "$name" "$(cat "$STATE/run/$name.pid")" "$([ "$port" != 0 ] && echo ", 127.0.0.1:$port")"
    else
      printf '%-17s stopped\n' "$name"
      all=3
    fi
  done
  return $all
}

purge_all() {
  stop_all
  local db
  for db in keystone glance placement nova nova_api nova_cell0 cinder neutron; do
    psql "postgresql://$PG/postgres" -qc "drop database if exists os_$db with (force)" >/dev/null
  done
  rabbitmqctl -q delete_vhost "$RABBIT_VHOST" >/dev/null 2>&1 || true
  rm -rf "$STATE"
  log "removed the cloud's databases, vhost and $STATE (the packages stay)"
}

print_env() {
  [ -f "$STATE/openrc" ] || die "no $STATE/openrc yet: run start first"
  cat "$STATE/openrc"
}

setup_cloud() { # identity|resources
  OS_PASSWORD="$PASS" SIMPLEVM_OPENSTACK_DIR="$STATE" "$PY" "$HERE/openstack-dev/setup-cloud.py" "$1"
}

start_some() { # service… (already set up by an earlier start): start those not running
  local name port
  for name in "$@"; do known "$name"; done
  [ -f "$STATE/run/schemas-done" ] || die "the cloud was never started: run $0 start first"
  write_config
  for name in "$@"; do start_service "$name"; done
  for name in "$@"; do
    port="$(port_of "$name")"
    [ "$port" = 0 ] || wait_port "$name" "$port" 120
  done
  log "started: $*"
}

start_all() {
  mkdir -p "$STATE/log" "$STATE/run"
  install_packages
  write_config
  prepare_backends
  sync_schemas
  local name port
  start_service keystone
  wait_port keystone 5000 90
  # The service users and the catalog first: the other services log in with them as they start.
  setup_cloud identity
  for name in "${SERVICES[@]}"; do start_service "$name"; done
  for name in "${SERVICES[@]}"; do
    port="$(port_of "$name")"
    [ "$port" = 0 ] || wait_port "$name" "$port" 120
  done
  log "services up; setting up the cloud"
  setup_cloud resources
  nova-manage --config-file "$STATE/etc/nova/nova.conf" cell_v2 discover_hosts >>"$STATE/log/schemas.log" 2>&1
  log "ready; settings in $STATE/openrc (admin: $STATE/openrc-admin)"
  print_env
}

case "${1:-}" in
  start) shift; if [ $# -gt 0 ]; then start_some "$@"; else start_all; fi ;;
  stop) shift; stop_all "$@" ;;
  status) status_all ;;
  env) print_env ;;
  purge) purge_all ;;
  clean) [ -f "$STATE/openrc" ] || die "the cloud was never set up: run $0 start first"; setup_cloud clean ;;
  *) echo "usage: $0 start [service…] | stop [service…] | status | env | clean | purge" >&2; exit 2 ;;
esac
