// A snapshot's one transition: from queued to active, the image of its project once the cloud
// has saved it. The worker finds it through portal.ts.
import { type TransitionDefinition, done, failed, pending } from '../../transitions/definitions.js';
import { setSnapshotStatus } from './snapshots.repository.js';

/** Glance statuses from which an image never becomes active. */
const IMAGE_FAILED = ['killed', 'deleted', 'error'];

const snapshotCreate: TransitionDefinition = {
  call: (cloud, t, params) => cloud.createSnapshot(String(params.vm), { id: t.object_id, name: String(params.name) }),
  async check(cloud, t) {
    const image = await cloud.getSnapshotImage(t.object_id);
    if (!image || IMAGE_FAILED.includes(image.status)) return failed((trx, now) => setSnapshotStatus(trx, t.object_id, 'error', now));
    if (image.status === 'active') return done((trx, now) => setSnapshotStatus(trx, t.object_id, 'active', now));
    return pending;
  },
  fail: (t) => (trx, now) => setSnapshotStatus(trx, t.object_id, 'error', now),
};

/** A snapshot's transitions by action, as transitions rows of object type `snapshot` name them. */
export const snapshotTransitions: Readonly<Record<'create', TransitionDefinition>> = {
  create: snapshotCreate,
};
