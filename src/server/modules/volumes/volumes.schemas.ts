import { Type } from '@sinclair/typebox';
import { Name, Page, PageQuery } from '../shared.schemas.js';

export const VolumeOut = Type.Object(
  {
    openstack_id: Type.String(),
    name: Type.String(),
    project_id: Type.Integer(),
    owner: Type.String({ description: 'Username of the volume\'s creator.' }),
    storage: Type.Integer({ description: 'Size in GB.' }),
    status: Type.String({ description: 'creating, available, attaching, in-use, detaching, extending, deleting, error.' }),
    attached_to: Type.Union([Type.String(), Type.Null()], { description: 'openstack_id of the VM it is attached to.' }),
    device: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { $id: 'Volume' },
);

export const VolumePage = Page(Type.Ref('Volume'), 'VolumePage');

export const VolumeListQuery = Type.Object({
  ...PageQuery,
  project_id: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })),
  status: Type.Optional(Type.String({ maxLength: 32 })),
});

export const MAX_VOLUME_GB = 100_000;

export const VolumeCreateBody = Type.Object(
  {
    project_id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
    name: Name(255, 'The volume\'s name.'),
    storage: Type.Integer({ minimum: 1, maximum: MAX_VOLUME_GB, description: 'Size in GB.' }),
  },
  { $id: 'VolumeCreateBody' },
);

export const VolumeActionBody = Type.Object(
  {
    os_action: Type.Union([Type.Literal('attach'), Type.Literal('detach'), Type.Literal('extend')]),
    vm_openstack_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'With attach: the VM, in the same project.' })),
    vm_uuid: Type.Optional(Type.String({
      minLength: 1, maxLength: 64, description: 'SimpleVM\'s name for vm_openstack_id (spec §8); giving both with different values is 400 invalid.',
    })),
    size: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_VOLUME_GB, description: 'With extend: the new size in GB, larger than now.' })),
  },
  { $id: 'VolumeActionBody' },
);
