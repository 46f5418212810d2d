// Who is calling: a user, through a web session or an API key.
export type Scope =
  | 'vm:read' | 'vm:create' | 'vm:change_state' | 'vm:delete' | 'snapshot:create' | 'project:read'
  | 'volume:read' | 'volume:create' | 'volume:change_state' | 'volume:delete';

export const SCOPES: readonly Scope[] = [
  'vm:read', 'vm:create', 'vm:change_state', 'vm:delete', 'snapshot:create', 'project:read',
  'volume:read', 'volume:create', 'volume:change_state', 'volume:delete',
];

export interface PrincipalUser {
  id: number;
  username: string;
  isSuperuser: boolean;
}

export interface PrincipalKey {
  id: number;
  prefix: string;
  scopes: Scope[];
  ownObjectsOnly: boolean;
  projectId: number | null;
}

export interface Principal {
  user: PrincipalUser;
  via: 'session' | 'key';
  /** Set when the request came with an API key. */
  key: PrincipalKey | null;
  /** Set when the request came with a session cookie. */
  sessionId: string | null;
  csrfToken: string | null;
  /** The client's address, as the audit log records it. */
  ip: string;
}
