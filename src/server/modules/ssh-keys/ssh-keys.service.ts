// Public SSH keys on the profile (spec §9): managed through a web session only, each user's own.
// A pasted key is read for real (ssh-keys.parse.ts) before anything is stored; a generated key's
// private half is answered once and never stored, nor logged, nor written to the audit log.
import type { Principal } from '../../auth/principal.js';
import type { AppContext } from '../../context.js';
import { AppError, invalid, isUniqueViolation, notFound } from '../../errors.js';
import { auditedTransaction } from '../audit/audit.service.js';
import { type PublicSshKey, SshKeyRefused, authorizedKeyLine, generateKeyPair, parsePublicKey } from './ssh-keys.parse.js';
import { type SshKeyRow, countSshKeys, deleteSshKey, findSshKeyByFingerprint, insertSshKey, listSshKeys } from './ssh-keys.repository.js';

/**
 * How many keys one user may keep: every one of them goes into each VM the user creates (and, with
 * member_access, into their project's VMs), so the list must stay short enough for a VM's user data.
 */
export const MAX_SSH_KEYS_PER_USER = 50;

export type SshKeyView = SshKeyRow;

export interface SshKeyCreate {
  name: string;
  public_key?: string;
  generate?: boolean;
}

export type SshKeyCreatedView = SshKeyView & { public_key: string; private_key?: string };

export function listSshKeysFor(ctx: AppContext, p: Principal): Promise<SshKeyView[]> {
  return listSshKeys(ctx.db.kysely, p.user.id);
}

/** The pasted key, read; a refusal is 400 `invalid` on `public_key`. */
function readPastedKey(text: string): PublicSshKey {
  try {
    return parsePublicKey(text);
  } catch (err) {
    if (err instanceof SshKeyRefused) throw invalid('public_key', err.message);
    throw err;
  }
}

export async function createSshKey(ctx: AppContext, p: Principal, body: SshKeyCreate): Promise<SshKeyCreatedView> {
  const name = body.name.trim();
  const generate = body.generate === true;
  const duplicate = (existing: string) => invalid('public_key', `You have added this key already, as "${existing}".`);
  const seen: { fingerprint?: string } = {};
  try {
    return await auditedTransaction(ctx, p, { action: 'ssh_key.create', objectType: 'ssh_key', subjectId: p.user.id, detail: { name } }, async (trx, e) => {
      if (name.length === 0) throw invalid('name', 'Give the key a name.');
      if (generate && body.public_key !== undefined) throw invalid('public_key', 'Give either public_key or generate=true, not both.');
      if (!generate && body.public_key === undefined) throw invalid('public_key', 'Paste a public key, or send generate=true to have a key pair made.');
      const made = generate ? generateKeyPair(name) : null;
      const key = made ? made.publicKey : readPastedKey(body.public_key ?? '');
      seen.fingerprint = key.fingerprint;
      const existing = await findSshKeyByFingerprint(trx, p.user.id, key.fingerprint);
      if (existing) throw duplicate(existing.name);
      if ((await countSshKeys(trx, p.user.id)) >= MAX_SSH_KEYS_PER_USER) {
        throw invalid('public_key', `You have ${MAX_SSH_KEYS_PER_USER} SSH keys, the most one may keep: delete one you no longer use first.`);
      }
      const publicKey = authorizedKeyLine(key, name);
      const row = await insertSshKey(trx, { userId: p.user.id, name, type: key.type, publicKey, fingerprint: key.fingerprint, createdAt: new Date().toISOString() });
      e.objectId = String(row.id);
      return { ...row, public_key: publicKey, ...(made ? { private_key: made.privateKey } : {}) };
    });
  } catch (err) {
    // The same key added twice at once: the unique index refuses the second.
    if (!(err instanceof AppError) && isUniqueViolation(err) && seen.fingerprint !== undefined) {
      const existing = await findSshKeyByFingerprint(ctx.db.kysely, p.user.id, seen.fingerprint);
      throw duplicate(existing?.name ?? name);
    }
    throw err;
  }
}

export async function deleteSshKeyOf(ctx: AppContext, p: Principal, id: number): Promise<void> {
  await auditedTransaction(ctx, p, { action: 'ssh_key.delete', objectType: 'ssh_key', objectId: String(id), subjectId: p.user.id }, async (trx) => {
    if (!(await deleteSshKey(trx, p.user.id, id))) throw notFound('No such SSH key.');
  });
}
