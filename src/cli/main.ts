// The `simplevm` command (spec §1): the admin commands (serve, migrate, user …, project
// create|add-member) and the client commands (login, whoami, vm …, volume …). bin/simplevm.js
// runs this file compiled to dist/ (npm run build).
import { ADMIN_SECTION } from './admin-commands.js';
import { CLIENT_SECTION } from './client-commands.js';
import { processIo, runProgram } from './program.js';

const status = await runProgram([ADMIN_SECTION, CLIENT_SECTION], process.argv.slice(2), processIo());
// Done: end now rather than when Node finds nothing left to do, which after an HTTP request is
// when the idle keep-alive connection to the portal closes (a tenth of a second later, bench C1v).
// `serve` never gets here: its shutdown ends the process. What was written goes out first.
const flushed = (stream: NodeJS.WriteStream) => new Promise((resolve) => stream.write('', resolve));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(status);
