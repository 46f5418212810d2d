// The one cloud-init document a new VM boots with (spec §9): the users' public SSH keys, the
// volumes to mount, the research environment's setup and the user's first-boot script. The same
// text goes to every cloud (Nova takes it base64-encoded as `user_data`; the simulated cloud
// keeps it), so a test reads exactly what a real VM would run.
import { stringify } from 'yaml';

export interface LaunchVolume {
  openstack_id: string;
  path: string;
}

export interface ResearchEnvironmentSetup {
  template: string;
  port: number;
  /** Normalized: starts and ends with `/`. */
  user_path: string;
  /** The image has the environment already: it is recorded, not installed. */
  create_only: boolean;
}

export interface UserDataInput {
  /** OpenSSH public key lines. */
  sshKeys: string[];
  loginUser: string;
  volumes: LaunchVolume[];
  researchEnvironment: ResearchEnvironmentSetup | null;
  additionalScript: string | null;
}

/** Where cloud-init finds an attached Cinder volume: virtio names the disk by its id's first 20 characters. */
export const volumeDevice = (openstackId: string): string => `/dev/disk/by-id/virtio-${openstackId.slice(0, 20)}`;

export const SCRIPT_PATH = '/var/lib/simplevm/additional-script.sh';
export const RESENV_PATH = '/etc/simplevm/research-environment.json';
const MOUNT_PATH = '/var/lib/simplevm/mount-volumes.sh';

/** Quotes a word for sh (single quotes; a single quote inside closes, escapes and reopens). */
const sh = (word: string): string => `'${word.replaceAll("'", "'\\''")}'`;

/**
 * Volumes are attached once the VM is ACTIVE, so the first boot waits for each (up to 10 minutes),
 * makes a file system on a blank one, and mounts it where the user asked; `mounts` keeps them
 * mounted across reboots (`nofail`: a VM whose volume was detached still boots).
 */
function mountScript(volumes: LaunchVolume[], owner: string): string {
  const lines = ['#!/bin/sh', '# Written by the SimpleVM portal: mounts the volumes chosen at launch.', 'set -u'];
  for (const v of volumes) {
    const dev = sh(volumeDevice(v.openstack_id));
    const dir = sh(v.path);
    lines.push(
      `i=0; while [ ! -e ${dev} ] && [ $i -lt 600 ]; do sleep 1; i=$((i+1)); done`,
      `if [ -e ${dev} ]; then`,
      `  blkid ${dev} >/dev/null 2>&1 || mkfs.ext4 -q ${dev}`,
      `  mkdir -p ${dir} && mount ${dir} && chown ${sh(owner)}: ${dir}`,
      `else echo "volume ${v.openstack_id} did not appear" >&2; fi`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Where the first boot reports to (spec §10): the portal's route for this VM, and its one-time token. */
export interface SetupReport {
  /** Absolute URL of POST /api/vms/{id}/setup/, or null when the portal has no address a VM can reach. */
  url: string | null;
  token: string;
}

/** A conda package to install at first boot (spec §10): its name, and its version when pinned. */
export interface CondaPackage {
  name: string;
  version: string | null;
}

const SETUP_PATH = '/var/lib/simplevm/setup.sh';
export const SETUP_LOG = '/var/log/simplevm-setup.log';
const CONDA_PATH = '/var/lib/simplevm/conda-setup.sh';

/**
 * Miniforge into the login user's home, then one environment `denbi` with the packages from
 * bioconda and conda-forge (SimpleVM's Conda tab), activated in the user's shells.
 */
function condaScript(packages: CondaPackage[]): string {
  const specs = packages.map((p) => sh(p.version === null ? p.name : `${p.name}=${p.version}`)).join(' ');
  return [
    '#!/bin/bash',
    '# Written by the SimpleVM portal: Miniforge and the conda environment denbi, as the login user.',
    'set -euo pipefail',
    'cd "$HOME"',
    'if [ ! -x "$HOME/miniforge3/bin/conda" ]; then',
    '  curl -fsSL --retry 5 -o miniforge.sh "https://github.com/conda-forge/miniforge/releases/latest/download/Miniforge3-$(uname)-$(uname -m).sh"',
    '  bash miniforge.sh -b -p "$HOME/miniforge3"',
    '  rm -f miniforge.sh',
    'fi',
    `"$HOME/miniforge3/bin/conda" create -y -n denbi --override-channels -c bioconda -c conda-forge ${specs}`,
    '"$HOME/miniforge3/bin/conda" init bash',
    'echo "conda activate denbi" >> "$HOME/.bashrc"',
    '',
  ].join('\n');
}

/**
 * The first boot's steps, run one after the other by one script that logs them to SETUP_LOG and
 * reports to the portal (running, then done or failed with the exit code and the log's tail). The
 * report needs python3 (cloud-init's own language, so every image has it) to write the JSON.
 */
function setupScript(steps: { title: string; command: string }[], report: SetupReport): string {
  const lines = [
    '#!/bin/bash',
    '# Written by the SimpleVM portal: the first-boot setup of this VM, reported to the portal.',
    `LOG=${SETUP_LOG}`,
    `URL=${sh(report.url ?? '')}`,
    `TOKEN=${sh(report.token)}`,
    'report() {',
    '  [ -n "$URL" ] || return 0',
    '  python3 -c \'import json, sys; log = open(sys.argv[3], "rb").read()[-65536:].decode("utf-8", "replace"); code = None if sys.argv[2] == "" else int(sys.argv[2]); print(json.dumps({"phase": sys.argv[1], "exit_code": code, "log": log}))\' "$1" "$2" "$LOG" \\',
    '    | curl -fsS --max-time 30 --retry 5 -X POST -H "Content-Type: application/json" -H "X-Setup-Token: $TOKEN" --data-binary @- "$URL" >/dev/null || true',
    '}',
    'touch "$LOG"',
    'report running ""',
    'status=0',
  ];
  for (const step of steps) {
    lines.push(
      `if [ $status -eq 0 ]; then`,
      `  echo "== ${step.title}" >> "$LOG"`,
      `  ${step.command} >> "$LOG" 2>&1 || status=$?`,
      'fi',
    );
  }
  lines.push('if [ $status -eq 0 ]; then report done 0; else report failed "$status"; fi', 'exit $status', '');
  return lines.join('\n');
}

export interface FullUserDataInput extends UserDataInput {
  conda: CondaPackage[];
  /** Null: nothing runs at first boot that could report (no setup record). */
  report: SetupReport | null;
}

/** Whether anything runs at first boot, so that the VM has a setup to report (spec §10). */
export const hasSetup = (input: Pick<FullUserDataInput, 'sshKeys' | 'volumes' | 'researchEnvironment' | 'additionalScript' | 'conda'>): boolean =>
  input.sshKeys.length > 0 || input.volumes.length > 0 || input.researchEnvironment !== null || input.additionalScript !== null || input.conda.length > 0;

/** The cloud-config document, `#cloud-config` first (cloud-init reads the type from that line). */
export function buildUserData(input: FullUserDataInput): string {
  const doc: Record<string, unknown> = {};
  if (input.sshKeys.length) doc.ssh_authorized_keys = input.sshKeys;
  const files: Record<string, unknown>[] = [];
  const steps: { title: string; command: string }[] = [];
  const asUser = (path: string) => `su - ${sh(input.loginUser)} -c ${sh(path)}`;
  if (input.volumes.length) {
    doc.mounts = input.volumes.map((v) => [volumeDevice(v.openstack_id), v.path, 'ext4', 'defaults,nofail', '0', '2']);
    files.push({ path: MOUNT_PATH, permissions: '0755', content: mountScript(input.volumes, input.loginUser) });
    steps.push({ title: 'volumes', command: MOUNT_PATH });
  }
  const env = input.researchEnvironment;
  if (env) {
    const recorded = { template: env.template, port: env.port, user_path: env.user_path, create_only: env.create_only };
    files.push({ path: RESENV_PATH, permissions: '0644', content: `${JSON.stringify(recorded, null, 2)}\n` });
    // Images built for research environments carry their installer; with create_only the image
    // already runs the environment and nothing is installed.
    if (!env.create_only) {
      steps.push({ title: 'research environment', command: `if [ -x /usr/local/bin/simplevm-resenv-setup ]; then /usr/local/bin/simplevm-resenv-setup ${sh(env.template)} ${sh(RESENV_PATH)}; fi` });
    }
  }
  if (input.conda.length) {
    files.push({ path: CONDA_PATH, permissions: '0755', content: condaScript(input.conda) });
    steps.push({ title: 'conda', command: asUser(CONDA_PATH) });
  }
  if (input.additionalScript !== null) {
    const script = input.additionalScript.startsWith('#!') ? input.additionalScript : `#!/bin/bash\n${input.additionalScript}`;
    files.push({ path: SCRIPT_PATH, permissions: '0755', content: script.endsWith('\n') ? script : `${script}\n` });
    // Last, once keys, volumes, the environment and conda are in place; as the login user, in its home.
    steps.push({ title: 'additional_script', command: asUser(SCRIPT_PATH) });
  }
  if (input.report) {
    // Readable by root alone: it holds the VM's setup token.
    files.push({ path: SETUP_PATH, permissions: '0700', content: setupScript(steps, input.report) });
    doc.runcmd = [[SETUP_PATH]];
  }
  if (files.length) doc.write_files = files;
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
