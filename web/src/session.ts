// What every page may read: who is logged in. The projects they can reach are projectsQuery.
import { createContext, useContext } from 'react';
import type { Me, ProjectSummary } from './api';

export interface Session {
  me: Me;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a logged-in page');
  return s;
}

export function projectName(projects: ProjectSummary[] | undefined, id: number): string {
  return projects?.find((p) => p.id === id)?.name ?? `#${id}`;
}
