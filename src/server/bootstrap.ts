// The first start against an empty database (spec §1): an account to log in with and a project to
// try the portal in, made by the same service functions as `simplevm user create` and
// `simplevm project create|add-member`.
import { generatePassword } from './auth/passwords.js';
import type { AppContext } from './context.js';
import { AppError, isUniqueViolation } from './errors.js';
import { addProjectMember, createProject } from './modules/projects/projects.service.js';
import { countUsers } from './modules/users/users.repository.js';
import { createUser } from './modules/users/users.service.js';

/**
 * On the first start against an empty database: a superuser `admin` with a random password and a
 * project `demo` that admin administers. Returns the password (to print once), or null.
 */
export async function bootstrapIfEmpty(ctx: Pick<AppContext, 'db'>): Promise<string | null> {
  const db = ctx.db.kysely;
  if ((await countUsers(db)) > 0) return null;
  const password = generatePassword();
  try {
    return await db.transaction().execute(async (trx) => {
      if ((await countUsers(trx)) > 0) return null;
      await createUser(trx, { username: 'admin', password, isSuperuser: true });
      const demo = await createProject(trx, { name: 'demo', description: 'A project to try the portal in.' });
      await addProjectMember(trx, { project: demo.id, username: 'admin', role: 'admin' });
      return password;
    });
  } catch (err) {
    // Instances started together on one empty PostgreSQL database: another one bootstrapped first.
    if (isUniqueViolation(err) || (err instanceof AppError && err.code === 'conflict')) return null;
    throw err;
  }
}
