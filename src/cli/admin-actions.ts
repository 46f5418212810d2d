// What the admin commands do (admin-commands.ts declares them): open the database and call the
// server's service functions for each act, the ones the first start (bootstrap.ts) and the API use,
// so an account or a project is made one way whoever asks. Loaded only when an admin command runs.
import { generatePassword } from '../server/auth/passwords.js';
import { bootstrapIfEmpty } from '../server/bootstrap.js';
import { ConfigError, loadConfig } from '../server/config.js';
import { type Db, openDatabase } from '../server/db/index.js';
import { migrateToLatest } from '../server/db/migrate.js';
import { keyChangesSettled } from '../server/db/transaction.js';
import { AppError } from '../server/errors.js';
import { addProjectMember, createProject } from '../server/modules/projects/projects.service.js';
import { setUserPassword } from '../server/modules/sessions/sessions.service.js';
import { createUser, setUserFlags } from '../server/modules/users/users.service.js';
import type { Quota } from '../shared/contract.js';
import { firstLine } from './client-output.js';
import { type Call, CliError, type Io, usage } from './program.js';

/** EX_CONFIG (sysexits.h): the environment is wrong, not the command line. */
const CONFIG_EXIT = 78;

function out(call: Call, obj: Record<string, unknown>, text: string): void {
  call.io.stdout.write(call.opts.json === true ? `${JSON.stringify(obj)}\n` : `${text}\n`);
}

/** The service's refusals and the configuration's, as the command line reports them. */
function reported(err: unknown): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof ConfigError) return new CliError(CONFIG_EXIT, err.message);
  if (err instanceof AppError) return new CliError(err.code === 'invalid' ? 2 : 1, err.message);
  return new CliError(1, err instanceof Error ? err.message : String(err));
}

/** `settle`: the command changes users or memberships; it ends once every serving instance has heard so (keyChangesSettled). */
async function withDb<T>(io: Io, fn: (db: Db) => Promise<T>, opts: { migrate?: boolean; settle?: boolean } = {}): Promise<T> {
  try {
    const config = loadConfig(io.env);
    const db = openDatabase(config.databaseUrl, { pool: 2 });
    try {
      if (opts.migrate !== false) await migrateToLatest(db.kysely);
      const result = await fn(db);
      if (opts.settle) await keyChangesSettled(db);
      return result;
    } finally {
      await db.destroy();
    }
  } catch (err) {
    throw reported(err);
  }
}

async function passwordFromStdin(io: Io): Promise<string> {
  const password = await firstLine(io.stdin);
  if (password.length === 0) throw new CliError(1, 'the password on stdin is empty');
  return password;
}

export async function serve(call: Call): Promise<void> {
  try {
    const config = loadConfig(call.io.env);
    // Loaded here: the other admin commands need no HTTP server, and start faster without it.
    const { createPortal } = await import('../server/portal.js');
    const portal = await createPortal(config);
    const log = portal.app.log;
    const password = await bootstrapIfEmpty(portal.ctx);
    if (password) {
      // Printed once, so that a newcomer can log in; change it or make your own superuser.
      log.info(`First start: created superuser "admin" with password ${password} and project "demo".`);
    }
    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: finishing requests in flight and releasing transition leases');
      try {
        await portal.close();
        process.exit(0);
      } catch (err) {
        log.error({ err }, 'unclean shutdown');
        process.exit(1);
      }
    };
    process.on('SIGTERM', () => void shutdown('SIGTERM'));
    process.on('SIGINT', () => void shutdown('SIGINT'));
    await portal.app.listen({ host: config.host, port: config.port });
    portal.startWorker();
    // The command lasts as long as the server: main.ts ends the process when a command returns, and
    // only shutdown (above) ends this one, once the portal has closed.
    await new Promise<never>(() => {});
  } catch (err) {
    // The command fails and main.ts ends the process, whatever the portal had opened.
    throw reported(err);
  }
}

export async function migrate(call: Call): Promise<void> {
  const applied = await withDb(call.io, (db) => migrateToLatest(db.kysely), { migrate: false });
  out(call, { migrated: applied }, applied.length ? `applied: ${applied.join(', ')}` : 'the database is up to date');
}

export async function userCreate(call: Call): Promise<void> {
  const [username] = call.args;
  const fromStdin = call.opts.passwordStdin === true;
  const password = fromStdin ? await passwordFromStdin(call.io) : generatePassword();
  const user = await withDb(call.io, (db) => createUser(db.kysely, { username, password, isSuperuser: call.opts.superuser === true }));
  const result: Record<string, unknown> = { username: user.username, is_superuser: user.is_superuser === 1 };
  if (!fromStdin) result.password = password;
  out(call, result, `created user ${user.username}${user.is_superuser ? ' (superuser)' : ''}${fromStdin ? '' : `; password: ${password}`}`);
}

export async function userSet(call: Call): Promise<void> {
  const [username] = call.args;
  const { superuser, active, passwordStdin } = call.opts;
  const password = passwordStdin === true ? await passwordFromStdin(call.io) : null;
  const flags = { isSuperuser: typeof superuser === 'boolean' ? superuser : undefined, isActive: active === true ? true : call.opts.inactive === true ? false : undefined };
  // One transaction: a new password and new flags hold together or not at all.
  const user = await withDb(call.io, (db) => db.kysely.transaction().execute(async (trx) => {
    if (password !== null) await setUserPassword(trx, username, password);
    return setUserFlags(trx, username, flags);
  }), { settle: true });
  out(
    call,
    { username: user.username, is_superuser: user.is_superuser === 1, is_active: user.is_active === 1 },
    `${user.username}: superuser ${user.is_superuser ? 'yes' : 'no'}, active ${user.is_active ? 'yes' : 'no'}${password !== null ? '; new password set, their sessions ended' : ''}`,
  );
}

/** The quota options: the resource, the option as commander names it, and as the user types it. */
const QUOTA_OPTIONS = [
  ['vms', 'vms', '--vms'], ['cores', 'cores', '--cores'], ['ram_gb', 'ramGb', '--ram-gb'], ['volumes', 'volumes', '--volumes'], ['volume_gb', 'volumeGb', '--volume-gb'],
] as const;

export async function projectCreate(call: Call): Promise<void> {
  const [name] = call.args;
  // Only the quota given; the service fills in the defaults.
  const quota: Partial<Quota> = {};
  for (const [resource, option, flag] of QUOTA_OPTIONS) {
    const value = call.opts[option];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !/^\d{1,9}$/.test(value)) throw usage(`${flag} takes a whole number, got "${String(value)}"`);
    quota[resource] = Number(value);
  }
  const project = await withDb(call.io, (db) => createProject(db.kysely, { name, quota }));
  out(call, { id: project.id, name: project.name }, `created project ${project.name} (id ${project.id})`);
}

export async function projectAddMember(call: Call): Promise<void> {
  const [project, username] = call.args;
  const role = call.opts.admin === true ? 'admin' : 'member';
  // Audited as done at the command line (project.member_add, no actor, detail via: "cli").
  const r = await withDb(call.io, (db) => addProjectMember(db.kysely, { project, username, role }, { via: 'cli' }), { settle: true });
  out(call, r, `${r.username} is ${r.role} of ${r.project}`);
}
