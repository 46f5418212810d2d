#!/bin/sh
# SimpleVM's API tutorial (the SimpleVM/apiWorkshop repository's README), as one script: list the
# projects, flavors and images, fetch the tutorial's data.sh, start a VM with a research environment
# that runs data.sh at first boot, save its uuid, wait until `vm_state` is `active` and `task_state`
# is empty, and print the environment's link from `modes`, with jq as the tutorial uses it.
# test/simplevm-workshop.test.ts runs it against a real portal (with a local stand-in for data.sh).
#
#   HOST=portal.example.org KEY=svm_… sh examples/simplevm-api-workshop.sh
#   SCHEME=http HOST=127.0.0.1:8000 KEY=svm_… sh examples/simplevm-api-workshop.sh
#
# PROJECT_ID: the project (default: the first the key reaches); RESENV: vscode, guacamole or
# theiaide (default vscode); FLAVOR_NAME (default de.NBI tiny). Needs curl, jq and wget.
set -eu

: "${HOST:?set HOST to the portal, e.g. portal.example.org or 127.0.0.1:8000}"
: "${KEY:?set KEY to your API key (svm_…)}"
SCHEME=${SCHEME:-https}
RESENV=${RESENV:-vscode}
FLAVOR_NAME=${FLAVOR_NAME:-de.NBI tiny}
VM_NAME=${VM_NAME:-script-vmfile}
DATA_SH_URL=${DATA_SH_URL:-https://raw.githubusercontent.com/SimpleVM/apiWorkshop/refs/heads/main/data.sh}
API="$SCHEME://$HOST/portal/api"

echo '# Your projects'
curl -X GET "$API/projects/" -H "X-API-KEY: $KEY" | jq | less
PROJECT_ID=${PROJECT_ID:-$(curl -s "$API/projects/" -H "X-API-KEY: $KEY" | jq -r '.[0].id')}

echo '# Its flavors'
curl -X GET "$API/projects/$PROJECT_ID/flavors/" -H "X-API-KEY: $KEY" | jq | less

echo '# Its images; one tagged for the research environment'
curl -X GET "$API/projects/$PROJECT_ID/images/" -H "X-API-KEY: $KEY" | jq | less
IMAGE_NAME=$(curl -s "$API/projects/$PROJECT_ID/images/" -H "X-API-KEY: $KEY" | jq -r --arg t "$RESENV" '[.[] | select(.tags | index($t))][0].name')
[ "$IMAGE_NAME" != null ] || { echo "No image is tagged $RESENV." >&2; exit 1; }

echo '# The script the VM runs at first boot'
wget -q -O data.sh "$DATA_SH_URL"

echo '# Start the VM'
VM=$(curl -v -X POST "$API/vms/" \
  -d "project_id=$PROJECT_ID" \
  -d "image_name=$IMAGE_NAME" \
  -d "flavor_name=$FLAVOR_NAME" \
  -d "vm_name=$VM_NAME" \
  -d 'research_environment_backend.create_only=true' \
  -d "research_environment_backend.template=$RESENV" \
  -d 'research_environment_backend.user_path=mypath' \
  --data-urlencode "additional_script@data.sh" \
  -H "X-API-KEY: $KEY")
echo "$VM" | jq
UUID=$(echo "$VM" | jq -r .uuid)

echo '# Wait until it runs'
while :; do
  STATE=$(curl -s "$API/vms/$UUID/" -H "X-API-KEY: $KEY" | jq -r '.vm_state + " " + (.task_state // "")')
  [ "$STATE" = "active " ] && break
  case "$STATE" in error*|deleted*) echo "The VM is $STATE." >&2; exit 1 ;; esac
  sleep 2
done

echo '# Open the research environment at'
curl -s "$API/vms/$UUID/" -H "X-API-KEY: $KEY" | jq ".modes[] | select(.name == \"$RESENV\") | .copy_field"
