// The admin commands of `simplevm` (spec §1) as a section of the program (program.ts): their
// words, arguments, options and help. What they do is in admin-actions.ts, which opens the
// database and calls the server's service functions; it is imported only when one of them runs,
// so that the client commands never load the server's code.
import { DEFAULT_QUOTA } from '../shared/contract.js';
import type { Call, CommandSpec, OptionTable, Section } from './program.js';

const OPTIONS: OptionTable = {
  json: { flags: '--json', description: 'print exactly one JSON object instead of a sentence' },
  superuser: { flags: '--superuser', description: 'a superuser: sees and acts on everything' },
  'no-superuser': { flags: '--no-superuser', description: 'no longer a superuser' },
  active: { flags: '--active', description: 'may log in and use their keys again' },
  inactive: { flags: '--inactive', description: 'deactivated: their sessions and keys stop working at once' },
  'password-stdin': { flags: '--password-stdin', description: "the password is the first line of stdin (for user set: a new one, and the user's sessions end)" },
  admin: { flags: '--admin', description: 'as an admin of the project (else a member)' },
  vms: { flags: '--vms <N>', description: `quota: VMs (default ${DEFAULT_QUOTA.vms})` },
  cores: { flags: '--cores <N>', description: `quota: cores (default ${DEFAULT_QUOTA.cores})` },
  'ram-gb': { flags: '--ram-gb <N>', description: `quota: RAM in GB (default ${DEFAULT_QUOTA.ram_gb})` },
  volumes: { flags: '--volumes <N>', description: `quota: volumes (default ${DEFAULT_QUOTA.volumes})` },
  'volume-gb': { flags: '--volume-gb <N>', description: `quota: volume storage in GB (default ${DEFAULT_QUOTA.volume_gb})` },
};

type Action = 'serve' | 'migrate' | 'userCreate' | 'userSet' | 'projectCreate' | 'projectAddMember';

const run = (action: Action) => async (call: Call) => (await import('./admin-actions.js'))[action](call);

const COMMANDS: CommandSpec[] = [
  { path: 'serve', args: [], options: [], summary: 'run the database migrations, then serve the API and the web app', run: run('serve') },
  { path: 'migrate', args: [], options: ['json'], summary: 'run the database migrations and exit', run: run('migrate') },
  {
    path: 'user create', args: ['NAME'], options: ['superuser', 'password-stdin', 'json'],
    summary: 'create a local account; without --password-stdin a random password is generated and printed once',
    run: run('userCreate'),
  },
  {
    path: 'user set', args: ['NAME'], options: ['superuser|no-superuser', 'active|inactive', 'password-stdin', 'json'],
    summary: "change a user's superuser flag, deactivate or reactivate them, or set a new password; it holds from their very next request",
    run: run('userSet'),
  },
  {
    path: 'project create', args: ['NAME'], options: ['vms', 'cores', 'ram-gb', 'volumes', 'volume-gb', 'json'],
    summary: 'create a project with its quota', run: run('projectCreate'),
  },
  {
    path: 'project add-member', args: ['PROJECT', 'USER'], options: ['admin', 'json'],
    summary: "make a user a member (or admin) of a project, or change their role; PROJECT is the project's id or name",
    run: run('projectAddMember'),
  },
];

export const ADMIN_SECTION: Section = {
  title: 'admin commands (they open the database that DATABASE_URL names)',
  options: OPTIONS,
  commands: COMMANDS,
};
