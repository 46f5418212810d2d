import { Type } from '@sinclair/typebox';

export const ResearchEnvironmentOut = Type.Object(
  {
    template: Type.String({ description: 'The name to create a VM with (`research_environment_backend.template`).' }),
    title: Type.String(),
    description: Type.String(),
    port: Type.Integer({ description: 'The port the environment listens on inside the VM; the portal forwards /resenv/{openstack_id}/ to it.' }),
    image_tag: Type.String({ description: 'Images with this tag come with the environment (their `resenv_template_name`).' }),
  },
  { $id: 'ResearchEnvironment', description: 'A research environment template: a web IDE or desktop that a VM can run, opened in the browser through the portal.' },
);
