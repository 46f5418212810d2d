// The caller's reach as a `where` expression (STYLE §3): applied inside the query, never by
// filtering rows afterwards, so an object out of reach is simply not found.
import { type ExpressionBuilder, type Expression, type SqlBool, sql } from 'kysely';
import { type Reach, reachesAllProjects } from '../auth/policy.js';
import type { Database } from './types.js';

type OwnedTable = 'vms' | 'volumes' | 'snapshots';

export function objectReach<T extends OwnedTable>(table: T, reach: Reach) {
  return (eb: ExpressionBuilder<Database, T>): Expression<SqlBool> => {
    const e = eb as unknown as ExpressionBuilder<Database, OwnedTable>;
    const conds: Expression<SqlBool>[] = [];
    const projectCol = sql.ref(`${table}.project_id`);
    const ownerCol = sql.ref(`${table}.owner_id`);
    if (reach.projectId !== null) conds.push(sql<SqlBool>`${projectCol} = ${reach.projectId}`);
    if (reach.ownOnly) conds.push(sql<SqlBool>`${ownerCol} = ${reach.userId}`);
    if (!reach.superuser && reach.ownOnly) {
      // Own objects in a project the caller is still a member of: the owner index leads, and each
      // row found is checked against the caller's memberships.
      conds.push(
        e.exists(
          e
            .selectFrom('memberships as m')
            .select('m.user_id')
            .where('m.user_id', '=', reach.userId)
            .where(sql<SqlBool>`m.project_id = ${projectCol}`),
        ),
      );
    } else if (!reach.superuser) {
      // In a project the caller is a member of, and either theirs or in a project they administer.
      // Written with IN over the caller's (few) memberships, so that the project index leads; a
      // condition per row on all objects would read every object of every project.
      const memberOf = e.selectFrom('memberships as m').select('m.project_id').where('m.user_id', '=', reach.userId);
      const adminOf = e.selectFrom('memberships as ma').select('ma.project_id').where('ma.user_id', '=', reach.userId).where('ma.role', '=', 'admin');
      conds.push(sql<SqlBool>`${projectCol} in (${memberOf})`);
      conds.push(sql<SqlBool>`(${ownerCol} = ${reach.userId} or ${projectCol} in (${adminOf}))`);
    }
    return conds.length === 0 ? sql<SqlBool>`1 = 1` : e.and(conds);
  };
}

export function projectReach(reach: Reach, projectIdCol = 'projects.id') {
  return (eb: ExpressionBuilder<Database, 'projects'>): Expression<SqlBool> => {
    const col = sql.ref(projectIdCol);
    const conds: Expression<SqlBool>[] = [];
    if (reach.projectId !== null) conds.push(sql<SqlBool>`${col} = ${reach.projectId}`);
    if (!reachesAllProjects(reach)) {
      conds.push(
        eb.exists(
          eb.selectFrom('memberships as pm').select('pm.user_id').where('pm.user_id', '=', reach.userId).where(sql<SqlBool>`pm.project_id = ${col}`),
        ),
      );
    }
    return conds.length === 0 ? sql<SqlBool>`1 = 1` : eb.and(conds);
  };
}

/** Which conditions a reach puts in a query, as part of a prepared query's shape (db/prepared.ts). */
export interface ReachShape {
  readonly superuser: boolean;
  readonly ownOnly: boolean;
  /** A key bound to one project. */
  readonly bound: boolean;
}

export const reachShape = (r: Reach): ReachShape => ({ superuser: r.superuser, ownOnly: r.ownOnly, bound: r.projectId !== null });

/** The reach of a shape with its values (placeholders while a prepared query is built). */
export function reachWith(shape: ReachShape, userId: number, projectId: number): Reach {
  return { userId, superuser: shape.superuser, ownOnly: shape.ownOnly, projectId: shape.bound ? projectId : null };
}
