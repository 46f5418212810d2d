// The `simplevm` command (spec §1): serve, migrate, and the admin commands.
import { parseArgs } from 'node:util';
import { generatePassword, hashPassword } from '../server/auth/passwords.js';
import { DEFAULT_QUOTA, bootstrapIfEmpty } from '../server/bootstrap.js';
import { ConfigError, loadConfig } from '../server/config.js';
import { openDatabase } from '../server/db/index.js';
import { migrateToLatest } from '../server/db/migrate.js';
import { findProjectByIdOrName, insertProject, upsertMembership } from '../server/modules/projects/projects.repository.js';
import { findUserByName, insertUser, updateUserFlags } from '../server/modules/users/users.repository.js';
import { CLIENT_USAGE, isClientCommand, runClientCommand } from './client-commands.js';
import { firstLine } from './client-output.js';

class UsageError extends Error {}
class CommandError extends Error {}

const USAGE = `usage:
  simplevm serve
  simplevm migrate [--json]
  simplevm user create NAME [--superuser] [--password-stdin] [--json]
  simplevm user set NAME [--superuser | --no-superuser] [--active | --inactive] [--json]
  simplevm project create NAME [--vms N] [--cores N] [--ram-gb N] [--volumes N] [--volume-gb N] [--json]
  simplevm project add-member PROJECT USER [--admin] [--json]`;

const USERNAME = /^[A-Za-z0-9_.@+-]{1,150}$/;

function out(json: boolean, obj: Record<string, unknown>, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(obj)}\n` : `${text}\n`);
}

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`--${name} takes a whole number, got "${value}"`);
  return Number(value);
}

async function withDb<T>(fn: (db: ReturnType<typeof openDatabase>) => Promise<T>, opts: { migrate?: boolean } = {}): Promise<T> {
  const config = loadConfig();
  const db = openDatabase(config.databaseUrl, { pool: 2 });
  try {
    if (opts.migrate !== false) await migrateToLatest(db.kysely);
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

async function serve(): Promise<void> {
  const config = loadConfig();
  // Loaded here, not at the top: the admin commands need no HTTP server, and start faster without it.
  const { createPortal } = await import('../server/portal.js');
  const portal = await createPortal(config);
  const log = portal.app.log;
  const password = await bootstrapIfEmpty(portal.ctx.db.kysely);
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
}

async function main(argv: string[]): Promise<void> {
  // whoami, login, vm …, volume …: the client commands, which talk to a portal over HTTP.
  if (isClientCommand(argv)) {
    process.exitCode = await runClientCommand(argv);
    return;
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      superuser: { type: 'boolean' },
      'no-superuser': { type: 'boolean' },
      active: { type: 'boolean' },
      inactive: { type: 'boolean' },
      'password-stdin': { type: 'boolean', default: false },
      admin: { type: 'boolean', default: false },
      vms: { type: 'string' },
      cores: { type: 'string' },
      'ram-gb': { type: 'string' },
      volumes: { type: 'string' },
      'volume-gb': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const json = values.json === true;
  const [command, sub, ...rest] = positionals;
  if (values.help || !command) throw new UsageError('');

  if (command === 'serve') return serve();
  if (command === 'migrate') {
    const applied = await withDb((db) => migrateToLatest(db.kysely), { migrate: false });
    return out(json, { migrated: applied }, applied.length ? `applied: ${applied.join(', ')}` : 'the database is up to date');
  }

  if (command === 'user' && sub === 'create') {
    const [name] = rest;
    if (!name || rest.length !== 1) throw new UsageError('user create takes one NAME');
    if (!USERNAME.test(name)) throw new UsageError('NAME may have letters, digits and _ . @ + - (at most 150)');
    const fromStdin = values['password-stdin'] === true;
    const password = fromStdin ? await firstLine(process.stdin) : generatePassword();
    if (password.length === 0) throw new CommandError('the password on stdin is empty');
    const passwordHash = await hashPassword(password);
    const user = await withDb(async (db) => {
      if (await findUserByName(db.kysely, name)) throw new CommandError(`user "${name}" exists already`);
      return insertUser(db.kysely, { username: name, passwordHash, isSuperuser: values.superuser === true, createdAt: new Date().toISOString() });
    });
    const result: Record<string, unknown> = { username: user.username, is_superuser: user.is_superuser === 1 };
    if (!fromStdin) result.password = password;
    return out(json, result, `created user ${user.username}${user.is_superuser ? ' (superuser)' : ''}${fromStdin ? '' : `; password: ${password}`}`);
  }

  if (command === 'user' && sub === 'set') {
    const [name] = rest;
    if (!name || rest.length !== 1) throw new UsageError('user set takes one NAME');
    if (values.superuser && values['no-superuser']) throw new UsageError('give --superuser or --no-superuser, not both');
    if (values.active && values.inactive) throw new UsageError('give --active or --inactive, not both');
    const flags: { is_superuser?: 0 | 1; is_active?: 0 | 1 } = {};
    if (values.superuser) flags.is_superuser = 1;
    if (values['no-superuser']) flags.is_superuser = 0;
    if (values.active) flags.is_active = 1;
    if (values.inactive) flags.is_active = 0;
    const user = await withDb(async (db) => {
      if (!(await findUserByName(db.kysely, name))) throw new CommandError(`no user "${name}"`);
      return updateUserFlags(db.kysely, name, flags);
    });
    if (!user) throw new CommandError(`no user "${name}"`);
    return out(
      json,
      { username: user.username, is_superuser: user.is_superuser === 1, is_active: user.is_active === 1 },
      `${user.username}: superuser ${user.is_superuser ? 'yes' : 'no'}, active ${user.is_active ? 'yes' : 'no'}`,
    );
  }

  if (command === 'project' && sub === 'create') {
    const [name] = rest;
    if (!name || rest.length !== 1) throw new UsageError('project create takes one NAME');
    if (name.length > 150 || /[\u0000-\u001f\u007f]/.test(name)) throw new UsageError('NAME must be 1–150 printable characters');
    const quota = {
      vms: count(values.vms, 'vms', DEFAULT_QUOTA.vms),
      cores: count(values.cores, 'cores', DEFAULT_QUOTA.cores),
      ram_gb: count(values['ram-gb'], 'ram-gb', DEFAULT_QUOTA.ram_gb),
      volumes: count(values.volumes, 'volumes', DEFAULT_QUOTA.volumes),
      volume_gb: count(values['volume-gb'], 'volume-gb', DEFAULT_QUOTA.volume_gb),
    };
    const project = await withDb(async (db) => {
      if (await findProjectByIdOrName(db.kysely, name).then((p) => p?.name === name)) throw new CommandError(`project "${name}" exists already`);
      return insertProject(db.kysely, { name, quota, createdAt: new Date().toISOString() });
    });
    return out(json, { id: project.id, name: project.name }, `created project ${project.name} (id ${project.id})`);
  }

  if (command === 'project' && sub === 'add-member') {
    const [projectRef, username] = rest;
    if (!projectRef || !username || rest.length !== 2) throw new UsageError('project add-member takes PROJECT and USER');
    const role = values.admin ? 'admin' : 'member';
    const r = await withDb(async (db) => {
      const project = await findProjectByIdOrName(db.kysely, projectRef);
      if (!project) throw new CommandError(`no project "${projectRef}"`);
      const user = await findUserByName(db.kysely, username);
      if (!user) throw new CommandError(`no user "${username}"`);
      await upsertMembership(db.kysely, project.id, user.id, role);
      return { project_id: project.id, project: project.name, username: user.username, role };
    });
    return out(json, r, `${r.username} is ${r.role} of ${r.project}`);
  }

  throw new UsageError(`unknown command: ${[command, sub].filter(Boolean).join(' ')}`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // Help asked for goes to stdout; a usage error is one line on stderr (spec §1), pointing at the help.
  if (err instanceof UsageError && !err.message && process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(`${USAGE}\n\n${CLIENT_USAGE}\n`);
    process.exit(0);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`simplevm: ${err.message || 'a command is needed'}; see "simplevm --help"\n`);
    process.exit(2);
  }
  if (err instanceof ConfigError || err instanceof CommandError) {
    process.stderr.write(`simplevm: ${err.message}\n`);
    process.exit(err instanceof ConfigError ? 78 : 1);
  }
  const e = err as { code?: string; message?: string };
  if (e?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e?.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || e?.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    process.stderr.write(`simplevm: ${(e.message ?? '').split('\n')[0]}; see "simplevm --help"\n`);
    process.exit(2);
  }
  process.stderr.write(`simplevm: ${(e?.message ?? String(err)).split('\n')[0]}\n`);
  process.exit(1);
});
