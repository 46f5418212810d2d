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

/** The cloud-config document, `#cloud-config` first (cloud-init reads the type from that line). */
export function buildUserData(input: UserDataInput): string {
  const doc: Record<string, unknown> = {};
  if (input.sshKeys.length) doc.ssh_authorized_keys = input.sshKeys;
  const files: Record<string, unknown>[] = [];
  const runcmd: string[][] = [];
  if (input.volumes.length) {
    doc.mounts = input.volumes.map((v) => [volumeDevice(v.openstack_id), v.path, 'ext4', 'defaults,nofail', '0', '2']);
    files.push({ path: MOUNT_PATH, permissions: '0755', content: mountScript(input.volumes, input.loginUser) });
    runcmd.push([MOUNT_PATH]);
  }
  const env = input.researchEnvironment;
  if (env) {
    const recorded = { template: env.template, port: env.port, user_path: env.user_path, create_only: env.create_only };
    files.push({ path: RESENV_PATH, permissions: '0644', content: `${JSON.stringify(recorded, null, 2)}\n` });
    // Images built for research environments carry their installer; with create_only the image
    // already runs the environment and nothing is installed.
    if (!env.create_only) {
      runcmd.push(['sh', '-c', `if [ -x /usr/local/bin/simplevm-resenv-setup ]; then /usr/local/bin/simplevm-resenv-setup ${sh(env.template)} ${sh(RESENV_PATH)}; fi`]);
    }
  }
  if (input.additionalScript !== null) {
    const script = input.additionalScript.startsWith('#!') ? input.additionalScript : `#!/bin/bash\n${input.additionalScript}`;
    files.push({ path: SCRIPT_PATH, permissions: '0755', content: script.endsWith('\n') ? script : `${script}\n` });
    // Last, once keys, volumes and the environment are in place; as the login user, in its home.
    runcmd.push(['su', '-', input.loginUser, '-c', SCRIPT_PATH]);
  }
  if (files.length) doc.write_files = files;
  if (runcmd.length) doc.runcmd = runcmd;
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
