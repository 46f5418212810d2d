import { Type } from '@sinclair/typebox';

const Amounts = (description: string) =>
  Type.Object(
    { vms: Type.Integer(), cores: Type.Integer(), ram_gb: Type.Integer(), volumes: Type.Integer(), volume_gb: Type.Integer() },
    { description },
  );

const Role = Type.Union([Type.Literal('admin'), Type.Literal('member'), Type.Null()], {
  description: 'The caller\'s role in the project; null for a superuser who is not a member.',
});

const MemberRole = Type.Union([Type.Literal('admin'), Type.Literal('member')]);

export const ProjectMemberOut = Type.Object(
  { username: Type.String(), role: MemberRole },
  { $id: 'ProjectMember', description: 'A member of a project and their role in it.' },
);

export const ProjectMemberBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 150, description: 'The user to add, or whose role to set.' }),
    role: Type.Union([Type.Literal('admin'), Type.Literal('member')], { description: 'admin: manages the project\'s members and reaches all its objects; member: their own.' }),
  },
  { $id: 'ProjectMemberBody' },
);

export const ProjectMemberParams = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'The project\'s id.' }),
  username: Type.String({ minLength: 1, maxLength: 150, description: 'The member\'s username.' }),
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
    members: Type.Array(Type.Ref('ProjectMember')),
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
