// A snapshot's transitions: from queued to active, the image of its project once the cloud has
// saved it; and from deleting to gone, once the cloud has deleted that image. The worker finds
// them through portal.ts.
import { type TransitionDefinition, done, failed, pending } from '../../transitions/definitions.js';
import { deleteSnapshotRow, setSnapshotStatus } from './snapshots.repository.js';

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

/** Glance statuses of an image that is deleted (pending_delete: deleted, its data scrubbed later). */
const IMAGE_GONE = ['deleted', 'pending_delete'];

const snapshotDelete: TransitionDefinition = {
  call: (cloud, t) => cloud.deleteSnapshotImage(t.object_id),
  async check(cloud, t) {
    const image = await cloud.getSnapshotImage(t.object_id);
    if (!image || IMAGE_GONE.includes(image.status)) return done((trx) => deleteSnapshotRow(trx, t.object_id));
    return pending;
  },
  // The cloud did not delete the image in time: the snapshot is shown again, in `error`, and may be
  // deleted again (its image may be gone or not; a second delete finds out).
  fail: (t) => (trx, now) => setSnapshotStatus(trx, t.object_id, 'error', now),
};

/** A snapshot's transitions by action, as transitions rows of object type `snapshot` name them. */
export const snapshotTransitions: Readonly<Record<'create' | 'delete', TransitionDefinition>> = {
  create: snapshotCreate,
  delete: snapshotDelete,
};
