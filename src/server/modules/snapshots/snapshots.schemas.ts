import { Type } from '@sinclair/typebox';
import { VM_NAME_PATTERN } from '../../../shared/contract.js';

export const SnapshotOut = Type.Object(
  {
    openstack_id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    project_id: Type.Integer(),
    owner: Type.String(),
    vm_openstack_id: Type.String({ description: 'The VM it was taken of.' }),
    status: Type.String({ description: 'queued, then active (usable as image_name in its project), or error (also when a delete failed; delete it again).' }),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { $id: 'Snapshot' },
);

export const SnapshotCreateBody = Type.Object(
  {
    snapshot_instance: Type.String({ minLength: 1, maxLength: 64, description: 'openstack_id of the VM (ACTIVE or SHUTOFF).' }),
    snapshot_name: Type.String({ pattern: VM_NAME_PATTERN, description: 'Unique among the project\'s images and snapshots; same characters as VM names.' }),
    description: Type.Optional(Type.String({ maxLength: 1000, pattern: '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$', default: '' })),
  },
  { $id: 'SnapshotCreateBody' },
);
