// Who is calling: a user, through a web session or an API key.
import type { Scope } from '../../shared/contract.js';

export type { Scope };

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
