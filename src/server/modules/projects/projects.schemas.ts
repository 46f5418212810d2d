import { Type } from '@sinclair/typebox';

const Amounts = (description: string) =>
  Type.Object(
    { vms: Type.Integer(), cores: Type.Integer(), ram_gb: Type.Integer(), volumes: Type.Integer(), volume_gb: Type.Integer() },
    { description },
  );

const Role = Type.Union([Type.Literal('admin'), Type.Literal('member'), Type.Null()], {
  description: 'The caller\'s role in the project; null for a superuser who is not a member.',
});

export const ProjectSummary = Type.Object(
  { id: Type.Integer(), name: Type.String(), description: Type.String(), role: Role },
  { $id: 'ProjectSummary' },
);

export const ProjectOut = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    description: Type.String(),
    role: Role,
    quota: Amounts('The most the project may use.'),
    usage: Amounts('What the project uses now (VMs not DELETED, volumes that exist).'),
    members: Type.Array(Type.Object({ username: Type.String(), role: Type.Union([Type.Literal('admin'), Type.Literal('member')]) })),
  },
  { $id: 'Project' },
);

export const FlavorOut = Type.Object(
  { name: Type.String(), vcpus: Type.Integer(), ram_gb: Type.Integer(), disk_gb: Type.Integer() },
  { $id: 'Flavor' },
);

export const ImageOut = Type.Object(
  {
    name: Type.String(),
    tags: Type.Array(Type.String()),
    resenv_template_name: Type.Union([Type.String(), Type.Null()], {
      description: 'The research environment the image comes with: the template (GET /api/research-environments/) whose image_tag is among its tags; null for none.',
    }),
  },
  { $id: 'Image', description: 'A cloud image, or an active snapshot of the project (tagged "snapshot").' },
);
