// OpenStack's states and records as the portal's provider interface names them: pure functions.
import type { CloudFlavor, CloudImage, CloudServer } from '../provider.js';
import type { GlanceImage, NovaFlavor, NovaServer } from './schemas.js';

/** The longest fault message the portal keeps (vms.fault). */
const FAULT_MAX = 1000;

export const clip = (text: string, max = FAULT_MAX) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The address the portal shows: the first fixed IPv4 address, else any fixed, else any. */
export function fixedIpOf(addresses: NovaServer['addresses']): string | null {
  const all = Object.values(addresses).flat();
  const fixed = all.filter((a) => (a['OS-EXT-IPS:type'] ?? 'fixed') === 'fixed');
  return (fixed.find((a) => a.version === 4) ?? fixed[0] ?? all[0])?.addr ?? null;
}

/**
 * Nova's status and task_state. Statuses are Nova's names already; SOFT_DELETED (deferred delete)
 * is gone for the portal. ERROR carries the fault's message.
 */
export function serverFromNova(portalId: string, s: NovaServer): CloudServer {
  const status = s.status === 'SOFT_DELETED' ? 'DELETED' : s.status;
  return {
    id: portalId,
    status,
    taskState: s['OS-EXT-STS:task_state'] ?? null,
    fixedIp: fixedIpOf(s.addresses),
    fault: status === 'ERROR' ? clip(s.fault?.message || 'Nova reported ERROR without a fault message.') : null,
  };
}

/**
 * Cinder's status. The failed ends of an action (error_extending, error_restoring, …) are `error`
 * for the portal; error_deleting stays (the delete transition reads it).
 */
export function volumeStatusFromCinder(status: string): string {
  return status.startsWith('error_') && status !== 'error_deleting' ? 'error' : status;
}

/** A Nova flavor for the catalog: RAM rounded up to whole GB (quotas count GB); disabled ones left out. */
export function flavorFromNova(f: NovaFlavor): CloudFlavor | null {
  if (f['OS-FLV-DISABLED:disabled'] === true || f.name.length === 0 || f.name.length > 100) return null;
  return { name: f.name, vcpus: f.vcpus, ram_gb: Math.max(1, Math.ceil(f.ram / 1024)), disk_gb: f.disk };
}

/** The newest active image among these (names are not unique in Glance; the portal's are). */
export function newestActive(images: GlanceImage[]): GlanceImage | null {
  return images.filter((i) => i.status === 'active').sort((a, b) => b.created_at.localeCompare(a.created_at) || a.id.localeCompare(b.id))[0] ?? null;
}

/**
 * The images the portal offers: active, named, not a portal snapshot (those carry simplevm_id and
 * belong to one portal project), with the configured tag; one per name, the newest.
 */
export function catalogImages(images: GlanceImage[], tag: string | null): CloudImage[] {
  const byName = new Map<string, GlanceImage[]>();
  for (const i of images) {
    if (i.simplevm_id !== undefined || !i.name || i.name.length > 255) continue;
    if (tag !== null && !i.tags.includes(tag)) continue;
    byName.set(i.name, [...(byName.get(i.name) ?? []), i]);
  }
  const out: CloudImage[] = [];
  for (const [name, group] of byName) {
    const newest = newestActive(group);
    // Glance keeps tags as a set and answers them in any order: sorted, the answer is the same every time.
    if (newest) out.push({ name, tags: [...newest.tags].sort(), defaultUser: newest.default_user ?? null });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
