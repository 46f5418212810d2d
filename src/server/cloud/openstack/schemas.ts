// The parts of OpenStack's answers the portal reads, as TypeBox schemas checked at run time: an
// answer of another shape is an OpenStackResponseError naming the request and the field, never a
// crash further on. Extra fields are allowed (every release adds some). Shapes follow the API
// reference samples: Keystone v3, Nova at microversion 2.89, Glance v2, Cinder v3 at 3.42.
import { type Static, type TSchema, Type } from '@sinclair/typebox';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Link = Type.Object({ href: Type.String(), rel: Type.String() });

// Keystone: POST /v3/auth/tokens → 201, the token itself in X-Subject-Token.
export const CatalogEntry = Type.Object({
  type: Type.String(),
  name: Type.Optional(Type.String()),
  endpoints: Type.Array(
    Type.Object({
      interface: Type.String(),
      region: Type.Optional(Nullable(Type.String())),
      region_id: Type.Optional(Nullable(Type.String())),
      url: Type.String(),
    }),
  ),
});
export type CatalogEntry = Static<typeof CatalogEntry>;

export const TokenBody = Type.Object({
  token: Type.Object({
    expires_at: Type.String(),
    issued_at: Type.String(),
    methods: Type.Array(Type.String()),
    catalog: Type.Array(CatalogEntry),
    project: Type.Object({ id: Type.String(), name: Type.Optional(Type.String()) }),
  }),
});

// Nova.
export const NovaServer = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: Type.String(),
  'OS-EXT-STS:task_state': Type.Optional(Nullable(Type.String())),
  metadata: Type.Record(Type.String(), Type.String()),
  addresses: Type.Record(
    Type.String(),
    Type.Array(Type.Object({ addr: Type.String(), version: Type.Integer(), 'OS-EXT-IPS:type': Type.Optional(Type.String()) })),
  ),
  fault: Type.Optional(Type.Object({ message: Type.String(), code: Type.Optional(Type.Integer()) })),
});
export type NovaServer = Static<typeof NovaServer>;

export const NovaServerBody = Type.Object({ server: NovaServer });
export const NovaServerList = Type.Object({ servers: Type.Array(NovaServer), servers_links: Type.Optional(Type.Array(Link)) });
export const NovaServerCreated = Type.Object({ server: Type.Object({ id: Type.String() }) });

export const NovaFlavor = Type.Object({
  id: Type.String(),
  name: Type.String(),
  vcpus: Type.Integer(),
  /** MiB */
  ram: Type.Integer(),
  /** GiB */
  disk: Type.Integer(),
  'OS-FLV-DISABLED:disabled': Type.Optional(Type.Boolean()),
});
export type NovaFlavor = Static<typeof NovaFlavor>;
export const NovaFlavorList = Type.Object({ flavors: Type.Array(NovaFlavor), flavors_links: Type.Optional(Type.Array(Link)) });

/** createImage at 2.45 and later answers the new image's id in the body. */
export const NovaImageCreated = Type.Object({ image_id: Type.String() });

/** POST os-volume_attachments answers 200 with the attachment (up to 2.100). */
export const NovaVolumeAttachment = Type.Object({
  volumeAttachment: Type.Object({ volumeId: Type.String(), serverId: Type.String(), device: Nullable(Type.String()) }),
});

// Glance v2: image properties (ours: simplevm_id, simplevm_project_id) are top-level fields.
export const GlanceImage = Type.Object({
  id: Type.String(),
  name: Nullable(Type.String()),
  status: Type.String(),
  tags: Type.Array(Type.String()),
  created_at: Type.String(),
  simplevm_id: Type.Optional(Type.String()),
  simplevm_project_id: Type.Optional(Type.String()),
  // SimpleVM's images name their login user so.
  default_user: Type.Optional(Type.String()),
});
export type GlanceImage = Static<typeof GlanceImage>;
export const GlanceImageList = Type.Object({ images: Type.Array(GlanceImage), next: Type.Optional(Type.String()) });

// Cinder v3.
export const CinderVolume = Type.Object({
  id: Type.String(),
  status: Type.String(),
  size: Type.Integer(),
  name: Nullable(Type.String()),
  // Strings in practice; older samples show a boolean, so any value is accepted and strings compared.
  metadata: Type.Record(Type.String(), Type.Unknown()),
  attachments: Type.Array(Type.Object({ server_id: Type.String(), device: Type.Optional(Nullable(Type.String())) })),
});
export type CinderVolume = Static<typeof CinderVolume>;
export const CinderVolumeBody = Type.Object({ volume: CinderVolume });
export const CinderVolumeList = Type.Object({ volumes: Type.Array(CinderVolume), volumes_links: Type.Optional(Type.Array(Link)) });

// Neutron v2.0.
export const NeutronNetworkList = Type.Object({
  networks: Type.Array(Type.Object({ id: Type.String(), name: Type.String() })),
});
