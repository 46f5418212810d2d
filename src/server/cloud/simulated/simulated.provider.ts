// The built-in simulated cloud. Its state is a table of the portal's own database, so a change in
// flight survives a restart like a real cloud's would. Each change takes `delayMs` and is applied
// lazily when the resource is next read.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import { parse as parseYaml } from 'yaml';
import type { Database, SimResourcesTable } from '../../db/types.js';
import type { CloudFlavor, CloudImage, CloudProvider, CloudServer, CloudSnapshotImage, CloudVolume, ServerCreate } from '../provider.js';

export const SIM_FLAVORS: CloudFlavor[] = [
  { name: 'de.NBI tiny', vcpus: 1, ram_gb: 2, disk_gb: 20 },
  { name: 'de.NBI small', vcpus: 2, ram_gb: 4, disk_gb: 20 },
  { name: 'de.NBI medium', vcpus: 4, ram_gb: 8, disk_gb: 20 },
  { name: 'de.NBI large', vcpus: 8, ram_gb: 16, disk_gb: 20 },
];

export const SIM_IMAGES: CloudImage[] = [
  { name: 'Ubuntu-22.04', tags: ['ubuntu', 'jammy', 'lts'] },
  { name: 'Ubuntu-24.04', tags: ['ubuntu', 'noble', 'lts'] },
  // Debian's cloud images log in as debian (the image's default_user).
  { name: 'Debian-12', tags: ['debian', 'bookworm'], defaultUser: 'debian' },
  // With a research environment installed (spec §9): the tag names the template.
  { name: 'Ubuntu-24.04-RStudio', tags: ['ubuntu', 'noble', 'rstudio'] },
  { name: 'Ubuntu-24.04-JupyterLab', tags: ['ubuntu', 'noble', 'jupyterlab'] },
  // Named like SimpleVM's own (its API tutorial's example image).
  { name: 'VSCode-ubuntu24.04 de.NBI (2025-08-19)', tags: ['ubuntu', 'noble', 'vscode'] },
];

interface SimData {
  taskState?: string | null;
  fixedIp?: string;
  size?: number;
  attachedTo?: string | null;
  device?: string | null;
  /** A server's cloud-init user data, and the fingerprints of the keys it was given. */
  userData?: string;
  keys?: string[];
  /** The simulated first boot has reported (or will): once per server. */
  setupReported?: boolean;
  /** Patch applied to data when the change completes. */
  onReady?: Partial<SimData>;
}

type Row = SimResourcesTable;

/** Posts a setup report to the portal's route for the VM; answers the HTTP status. */
export type SetupReporter = (id: string, token: string, body: { phase: string; exit_code?: number; log?: string }) => Promise<number>;


/** What the simulated first boot needs of the user data: the setup token, and whether the script fails. */
function simulatedBoot(userData: string): { token: string; fails: boolean } | null {
  const doc = parseYaml(userData.replace(/^#cloud-config\n/, '')) as { write_files?: { path: string; content: string }[] } | null;
  const files = doc?.write_files ?? [];
  const setup = files.find((f) => f.path.endsWith('/setup.sh'))?.content ?? '';
  const token = /^TOKEN='([A-Za-z0-9_-]+)'$/m.exec(setup)?.[1];
  if (!token) return null;
  const script = files.find((f) => f.path.endsWith('/additional-script.sh'))?.content ?? '';
  return { token, fails: script.split('\n').some((line) => line.trim() === 'exit 1') };
}

const now = () => new Date();

export class SimulatedProvider implements CloudProvider {
  readonly name = 'simulated';
  readonly pollIntervalMs: number;
  readonly transitionTimeoutMs: number;

  /**
   * `fixedIp`: the address every server gets, instead of one in 192.168.0.0/16 made from its id
   * (tests point it at a server of their own on 127.0.0.1, to reach a "VM" for real).
   */
  constructor(private readonly db: Kysely<Database>, private readonly delayMs: number, private readonly fixedIp: string | null = null) {
    this.pollIntervalMs = Math.max(delayMs, 1);
    this.transitionTimeoutMs = Math.max(60_000, delayMs * 20);
  }

  async listFlavors(): Promise<CloudFlavor[]> {
    return SIM_FLAVORS.map((f) => ({ ...f }));
  }

  async listImages(): Promise<CloudImage[]> {
    // Sorted, as the OpenStack provider answers them.
    return SIM_IMAGES.map((i) => ({ ...i, tags: [...i.tags].sort() }));
  }

  // Every write below replaces the row only if it is still as read (compare and swap), and reads
  // again otherwise: the worker runs several steps at once, and on PostgreSQL two of them touching
  // one resource (a VM's delete detaching a volume while that volume's extend starts) would
  // otherwise lose one of the two changes.
  private async swap(before: Row, set: Partial<Pick<Row, 'status' | 'target_status' | 'ready_at' | 'data'>>): Promise<boolean> {
    const r = await this.db
      .updateTable('sim_resources')
      .set(set)
      .where('id', '=', before.id)
      .where('status', '=', before.status)
      .where('data', '=', before.data)
      .where('target_status', before.target_status === null ? 'is' : '=', before.target_status)
      .where('ready_at', before.ready_at === null ? 'is' : '=', before.ready_at)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  private async read(id: string, kind: Row['kind']): Promise<{ row: Row; data: SimData } | null> {
    for (;;) {
      const row = await this.db
        .selectFrom('sim_resources')
        .select(['id', 'kind', 'status', 'target_status', 'ready_at', 'data'])
        .where('id', '=', id)
        .where('kind', '=', kind)
        .executeTakeFirst();
      if (!row) return null;
      let data = JSON.parse(row.data) as SimData;
      if (row.target_status === null || row.ready_at === null || row.ready_at > now().toISOString()) return { row, data };
      data = { ...data, ...(data.onReady ?? {}), taskState: null };
      delete data.onReady;
      const settled = { status: row.target_status, target_status: null, ready_at: null, data: JSON.stringify(data) };
      if (row.target_status === 'DELETED' || row.target_status === 'deleted') {
        await this.db.deleteFrom('sim_resources').where('id', '=', id).execute();
        return null;
      }
      if (await this.swap(row, settled)) return { row: { ...row, ...settled }, data };
    }
  }

  /**
   * Starts a change: the resource shows `during` now and `target` after the delay. `target` may
   * depend on the resource as it is (an extend ends in the status it started from).
   */
  private async change(id: string, kind: Row['kind'], during: string, target: string | ((row: Row) => string), patch: Partial<SimData> = {}, onReady: Partial<SimData> = {}): Promise<void> {
    for (;;) {
      const current = await this.read(id, kind);
      if (!current) throw new Error(`simulated ${kind} ${id} does not exist`);
      const to = typeof target === 'string' ? target : target(current.row);
      // Asking again for the change already under way is a no-op (the worker may repeat a request).
      if (current.row.target_status === to) return;
      const data = { ...current.data, ...patch, onReady };
      if (await this.swap(current.row, { status: during, target_status: to, ready_at: this.readyAt(), data: JSON.stringify(data) })) return;
    }
  }

  private readyAt(): string {
    return new Date(now().getTime() + this.delayMs).toISOString();
  }

  private async create(id: string, kind: Row['kind'], status: string, target: string, data: SimData): Promise<void> {
    const exists = await this.db.selectFrom('sim_resources').select('id').where('id', '=', id).executeTakeFirst();
    if (exists) return;
    await this.db
      .insertInto('sim_resources')
      .values({ id, kind, status, target_status: target, ready_at: this.readyAt(), data: JSON.stringify(data) })
      .execute();
  }

  async createServer(req: ServerCreate): Promise<void> {
    const bytes = Buffer.from(req.id.replace(/-/g, '').slice(0, 4), 'hex');
    // In 192.168.0.0/19, like a site's project networks, so that SimpleVM's gateway ports fit.
    const fixedIp = this.fixedIp ?? `192.168.${(bytes[0] ?? 0) % 32}.${Math.max(2, bytes[1] ?? 2) % 254 + 1}`;
    // Kept as a real cloud would have received them, for whoever wants to see what the VM runs.
    await this.create(req.id, 'server', 'BUILD', 'ACTIVE', { taskState: 'spawning', fixedIp, userData: req.userData, keys: req.keys.map((k) => k.fingerprint) });
  }

  /** The cloud-init user data and the key fingerprints a server was created with (null: no such server). */
  async serverBoot(id: string): Promise<{ userData: string; keys: string[] } | null> {
    const r = await this.read(id, 'server');
    return r ? { userData: r.data.userData ?? '', keys: r.data.keys ?? [] } : null;
  }

  async getServer(id: string): Promise<CloudServer | null> {
    const r = await this.read(id, 'server');
    if (!r) return null;
    if (r.row.status === 'ACTIVE' && r.data.userData && !r.data.setupReported) await this.bootOnce(r.row, r.data);
    return { id, status: r.row.status, taskState: r.data.taskState ?? null, fixedIp: r.data.fixedIp ?? null, fault: null };
  }

  /** Where the simulated first boot reports its setup: the portal's own route (portal.ts sets it). */
  private reporter: SetupReporter | null = null;

  reportSetupWith(reporter: SetupReporter): void {
    this.reporter = reporter;
  }

  /**
   * The simulated first boot, once per server: a moment after it is ACTIVE, it reports `running`,
   * then `done` (or `failed`, when its first-boot script has the line `exit 1`) to the portal's
   * route with the token its user data carries, as a real VM's setup script does.
   */
  private async bootOnce(row: Row, data: SimData): Promise<void> {
    const reporter = this.reporter;
    if (!reporter || !(await this.swap(row, { data: JSON.stringify({ ...data, setupReported: true }) }))) return;
    const boot = simulatedBoot(data.userData ?? '');
    if (!boot) return;
    const report = async (body: { phase: 'running' | 'done' | 'failed'; exit_code?: number; log?: string }) => {
      // The portal may not have written ACTIVE yet (409): the script's curl retries too.
      for (let attempt = 0; attempt < 20 && (await reporter(row.id, boot.token, body)) === 409; attempt++) await sleep(100);
    };
    setTimeout(() => {
      void (async () => {
        await report({ phase: 'running' });
        await report(boot.fails ? { phase: 'failed', exit_code: 1, log: `== additional_script\nexit 1\n` } : { phase: 'done', exit_code: 0, log: '== setup done\n' });
      })().catch(() => {});
    }, Math.max(this.delayMs, 50)).unref();
  }

  stopServer(id: string): Promise<void> {
    return this.change(id, 'server', 'ACTIVE', 'SHUTOFF', { taskState: 'powering-off' });
  }

  startServer(id: string): Promise<void> {
    return this.change(id, 'server', 'SHUTOFF', 'ACTIVE', { taskState: 'powering-on' });
  }

  rebootServer(id: string, type: 'SOFT' | 'HARD'): Promise<void> {
    return type === 'HARD'
      ? this.change(id, 'server', 'HARD_REBOOT', 'ACTIVE', { taskState: 'rebooting_hard' })
      : this.change(id, 'server', 'REBOOT', 'ACTIVE', { taskState: 'rebooting' });
  }

  async deleteServer(id: string): Promise<void> {
    const r = await this.read(id, 'server');
    if (!r) return;
    await this.change(id, 'server', r.row.status, 'DELETED', { taskState: 'deleting' });
    // Volumes attached to a deleted server are detached by the cloud. A change under way on one
    // (an extend, a detach) still completes, and leaves it detached.
    const volumes = await this.db.selectFrom('sim_resources').select(['id', 'kind', 'status', 'target_status', 'ready_at', 'data']).where('kind', '=', 'volume').execute();
    for (const found of volumes) {
      let v: Row | undefined = found;
      while (v) {
        const data = JSON.parse(v.data) as SimData;
        if (data.attachedTo !== id) break;
        const detached = { ...data, attachedTo: null, device: null };
        const change = v.target_status === null
          ? { status: 'available', target_status: null, ready_at: null, data: JSON.stringify(detached) }
          : { target_status: v.target_status === 'in-use' ? 'available' : v.target_status, data: JSON.stringify({ ...detached, onReady: { ...(data.onReady ?? {}), attachedTo: null, device: null } }) };
        if (await this.swap(v, change)) break;
        v = (await this.read(v.id, 'volume'))?.row;
      }
    }
  }

  createVolume(req: { id: string; size: number }): Promise<void> {
    return this.create(req.id, 'volume', 'creating', 'available', { size: req.size, attachedTo: null, device: null });
  }

  async getVolume(id: string): Promise<CloudVolume | null> {
    const r = await this.read(id, 'volume');
    if (!r) return null;
    return { id, status: r.row.status, size: r.data.size ?? 0, attachedTo: r.data.attachedTo ?? null, device: r.data.device ?? null };
  }

  async attachVolume(serverId: string, volumeId: string): Promise<void> {
    const used = await this.db.selectFrom('sim_resources').select('data').where('kind', '=', 'volume').execute();
    const devices = new Set(used.map((u) => (JSON.parse(u.data) as SimData)).filter((d) => d.attachedTo === serverId || d.onReady?.attachedTo === serverId).map((d) => d.device ?? d.onReady?.device));
    let letter = 'b';
    while (devices.has(`/dev/vd${letter}`)) letter = String.fromCharCode(letter.charCodeAt(0) + 1);
    await this.change(volumeId, 'volume', 'attaching', 'in-use', {}, { attachedTo: serverId, device: `/dev/vd${letter}` });
  }

  detachVolume(_serverId: string, volumeId: string): Promise<void> {
    return this.change(volumeId, 'volume', 'detaching', 'available', {}, { attachedTo: null, device: null });
  }

  async extendVolume(id: string, size: number): Promise<void> {
    // Ends in the status it started from (or, asked again while under way, is the same change).
    await this.change(id, 'volume', 'extending', (row) => row.target_status ?? row.status, {}, { size });
  }

  async deleteVolume(id: string): Promise<void> {
    const r = await this.read(id, 'volume');
    if (!r) return;
    await this.change(id, 'volume', 'deleting', 'deleted');
  }

  async createSnapshot(_serverId: string, req: { id: string }): Promise<void> {
    await this.create(req.id, 'image', 'queued', 'active', {});
  }

  async getSnapshotImage(id: string): Promise<CloudSnapshotImage | null> {
    const r = await this.read(id, 'image');
    return r ? { id, status: r.row.status } : null;
  }

  async deleteSnapshotImage(id: string): Promise<void> {
    const r = await this.read(id, 'image');
    if (!r) return;
    // Like every simulated change, it takes the delay; the image keeps its status until it is gone.
    await this.change(id, 'image', r.row.status, 'deleted');
  }
}
