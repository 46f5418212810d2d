// Accounts and projects, for the command line and the first start.
import type { Kysely } from 'kysely';
import { generatePassword, hashPassword } from './auth/passwords.js';
import type { Database } from './db/types.js';
import { isUniqueViolation } from './errors.js';
import { insertProject, upsertMembership } from './modules/projects/projects.repository.js';
import { countUsers, insertUser } from './modules/users/users.repository.js';

export const DEFAULT_QUOTA = { vms: 10, cores: 32, ram_gb: 64, volumes: 10, volume_gb: 500 };

/**
 * On the first start against an empty database: a superuser `admin` with a random password and a
 * project `demo` that admin administers. Returns the password (to print once), or null.
 */
export async function bootstrapIfEmpty(db: Kysely<Database>): Promise<string | null> {
  if ((await countUsers(db)) > 0) return null;
  const password = generatePassword();
  const passwordHash = await hashPassword(password);
  try {
    return await db.transaction().execute(async (trx) => {
      if ((await countUsers(trx)) > 0) return null;
      const now = new Date().toISOString();
      const admin = await insertUser(trx, { username: 'admin', passwordHash, isSuperuser: true, createdAt: now });
      const demo = await insertProject(trx, { name: 'demo', description: 'A project to try the portal in.', quota: DEFAULT_QUOTA, createdAt: now });
      await upsertMembership(trx, demo.id, admin.id, 'admin');
      return password;
    });
  } catch (err) {
    // Instances started together on one empty PostgreSQL database: another one bootstrapped first.
    if (isUniqueViolation(err)) return null;
    throw err;
  }
}
