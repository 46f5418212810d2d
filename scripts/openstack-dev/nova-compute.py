#!/usr/bin/python3
# nova-compute with Nova's fake hypervisor (compute_driver = fake.FakeDriver), for the development
# cloud of scripts/openstack-dev.sh. One change to the fake: its snapshot uploads nothing, so the
# image Nova made for it would stay `queued` for ever; here it uploads a few bytes and the snapshot
# becomes `active`, as on a real hypervisor. Nova loads compute drivers only from inside nova.virt,
# hence this replacement of one method before the service starts.
import io
import sys

from nova.cmd import compute  # first: it patches the standard library for eventlet

from nova.compute import task_states  # noqa: E402
from nova import exception  # noqa: E402
from nova.image import glance  # noqa: E402
from nova.virt import fake  # noqa: E402


def snapshot(self, context, instance, image_id, update_task_state):
    if instance.uuid not in self.instances:
        raise exception.InstanceNotRunning(instance_id=instance.uuid)
    update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
    update_task_state(task_state=task_states.IMAGE_UPLOADING,
                      expected_state=task_states.IMAGE_PENDING_UPLOAD)
    meta = {'disk_format': 'raw', 'container_format': 'bare'}
    glance.API().update(context, image_id, meta,
                        data=io.BytesIO(b'snapshot of ' + instance.uuid.encode()),
                        purge_props=False)


fake.FakeDriver.snapshot = snapshot

sys.exit(compute.main())
