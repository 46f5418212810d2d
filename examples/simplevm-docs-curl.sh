#!/bin/sh
# SimpleVM's API key examples as SimpleVM's own user documentation shows them
# (deNBI/simplevm-user-docs, wiki/simple_vm/user_api_keys.md), in the order a script runs them:
# list what the key reaches, start a VM, stop and resume it, make a volume, attach, detach and
# extend it, delete it. Each `curl -X …` line is the documentation's line with its placeholders as
# shell variables (its generic "any other volume action" line aside); test/simplevm-docs.test.ts runs every one of them, unchanged, against a real
# portal, and this whole script too.
#
# The documentation's research-environment VM create (a JSON file with `research_environment_backend`)
# is replayed by test/simplevm-docs.test.ts on its own.
#
# Run it with an API key bound to PROJECT_ID that has every scope (in the web app: the project's
# page, tab API Keys):
#
#   HOST=portal.example.org KEY=svm_… PROJECT_ID=1 sh examples/simplevm-docs-curl.sh
#
# A portal on this machine speaks plain http:
#
#   SCHEME=http HOST=127.0.0.1:8000 KEY=svm_… PROJECT_ID=1 sh examples/simplevm-docs-curl.sh
#
# It leaves the VM running (the documentation has no VM delete); the volume it makes is deleted.
set -eu

: "${HOST:?set HOST to the portal, e.g. portal.example.org or 127.0.0.1:8000}"
: "${KEY:?set KEY to your API key (svm_…)}"
: "${PROJECT_ID:?set PROJECT_ID to the project your key is bound to}"
SCHEME=${SCHEME:-https}
IMAGE_NAME=${IMAGE_NAME:-Ubuntu-22.04}
FLAVOR_NAME=${FLAVOR_NAME:-de.NBI tiny}
VM_NAME=${VM_NAME:-docs-example}
VOLUME_NAME=${VOLUME_NAME:-docs-example-data}
# A VM takes a minute or two to boot on a real cloud: every 2 s, for up to 10 minutes.
POLL_SECONDS=${POLL_SECONDS:-2}
POLL_TRIES=${POLL_TRIES:-300}

# The first "NAME":"value" string field of a JSON answer: enough for an id, without jq.
field() {
  printf '%s\n' "$1" | grep -o "\"$2\":\"[^\"]*\"" | head -n 1 | cut -d '"' -f 4
}

# Polls GET $1 with curl until its answer holds every JSON fragment given after it.
wait_for() {
  url=$1
  shift
  tries=0
  while :; do
    answer=$(curl -sS "$url" -H "X-API-KEY: $KEY")
    missing=no
    for fragment in "$@"; do
      case $answer in *"$fragment"*) ;; *) missing=yes ;; esac
    done
    [ "$missing" = no ] && return 0
    tries=$((tries + 1))
    if [ "$tries" -ge "$POLL_TRIES" ]; then
      echo "Gave up waiting for $* at $url; the last answer was: $answer" >&2
      exit 1
    fi
    sleep "$POLL_SECONDS"
  done
}

echo '# The projects the key reaches: one, the project it is bound to'
curl -X GET "$SCHEME://$HOST/portal/api/projects/by-api-key/" -H "X-API-KEY: $KEY"
echo
echo '# Flavors, images and snapshots of the project'
curl -X GET "$SCHEME://$HOST/portal/api/projects/$PROJECT_ID/flavors/" -H "X-API-KEY: $KEY"
echo
curl -X GET "$SCHEME://$HOST/portal/api/projects/$PROJECT_ID/images/" -H "X-API-KEY: $KEY"
echo
echo '# The VMs the key reaches'
curl -X GET "$SCHEME://$HOST/portal/api/vms/by-api-key/" -H "X-API-KEY: $KEY"
echo
curl -X GET "$SCHEME://$HOST/portal/api/projects/$PROJECT_ID/snapshots/images/" -H "X-API-KEY: $KEY"
echo
echo '# The volumes the key reaches'
curl -X GET "$SCHEME://$HOST/portal/api/volumes/by-api-key/" -H "X-API-KEY: $KEY"
echo

echo '# A new VM; then wait until it runs'
VM=$(curl -X POST "$SCHEME://$HOST/portal/api/vms/" -d "project_id=$PROJECT_ID" -d "image_name=$IMAGE_NAME" -d "flavor_name=$FLAVOR_NAME" -d "vm_name=$VM_NAME" -H "X-API-KEY: $KEY")
echo "$VM"
VM_ID=$(field "$VM" openstack_id)
[ -n "$VM_ID" ] || { echo 'No VM was made.' >&2; exit 1; }
wait_for "$SCHEME://$HOST/portal/api/vms/$VM_ID/" '"status":"ACTIVE"' '"task_state":null'

echo '# Stop it, then resume it'
curl -X POST "$SCHEME://$HOST/portal/api/vms/$VM_ID/action/" -d "os_action=stop" -H "X-API-KEY: $KEY"
echo
wait_for "$SCHEME://$HOST/portal/api/vms/$VM_ID/" '"status":"SHUTOFF"' '"task_state":null'
curl -X POST "$SCHEME://$HOST/portal/api/vms/$VM_ID/action/" -d "os_action=resume" -H "X-API-KEY: $KEY"
echo
wait_for "$SCHEME://$HOST/portal/api/vms/$VM_ID/" '"status":"ACTIVE"' '"task_state":null'

echo '# A 1 GB volume; then wait until it is available'
VOLUME=$(curl -X POST "$SCHEME://$HOST/portal/api/volumes/" -H "X-API-KEY: $KEY" -d "project_id=$PROJECT_ID" -d "storage=1" -d "name=$VOLUME_NAME")
echo "$VOLUME"
VOLUME_ID=$(field "$VOLUME" openstack_id)
[ -n "$VOLUME_ID" ] || { echo 'No volume was made.' >&2; exit 1; }
wait_for "$SCHEME://$HOST/portal/api/volumes/$VOLUME_ID/" '"status":"available"'

echo '# Attach it to the VM, detach it, extend it to 2 GB'
curl -X POST "$SCHEME://$HOST/portal/api/volumes/$VOLUME_ID/action/" -H "X-API-KEY: $KEY" -d "os_action=attach" -d "vm_uuid=$VM_ID"
echo
wait_for "$SCHEME://$HOST/portal/api/volumes/$VOLUME_ID/" '"status":"in-use"'
curl -X POST "$SCHEME://$HOST/portal/api/volumes/$VOLUME_ID/action/" -H "X-API-KEY: $KEY" -d "os_action=detach"
echo
wait_for "$SCHEME://$HOST/portal/api/volumes/$VOLUME_ID/" '"status":"available"'
curl -X POST "$SCHEME://$HOST/portal/api/volumes/$VOLUME_ID/action/" -H "X-API-KEY: $KEY" -d "os_action=extend" -d "size=2"
echo
wait_for "$SCHEME://$HOST/portal/api/volumes/$VOLUME_ID/" '"status":"available"' '"storage":2'

echo '# Delete the volume; once it is gone, GET answers 404'
curl -X DELETE "$SCHEME://$HOST/portal/api/volumes/$VOLUME_ID/" -H "X-API-KEY: $KEY"
echo
wait_for "$SCHEME://$HOST/portal/api/volumes/$VOLUME_ID/" '"code":"not_found"'
echo "# Done: VM $VM_ID runs on; volume $VOLUME_ID is deleted."
