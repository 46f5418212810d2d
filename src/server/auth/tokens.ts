// Random tokens and their digests; secrets are compared in constant time.
import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';

export const randomToken = (bytes = 32): string => randomBytes(bytes).toString('base64url');

export const sha256Hex = (value: string): string => hash('sha256', value, 'hex');

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  // Equal lengths (hex digests, tokens of one kind) compare directly; only the content is secret.
  if (ab.length === bb.length) return timingSafeEqual(ab, bb);
  // Compare digests of equal length so neither content nor length leaks through timing.
  const da = createHash('sha256').update(ab).digest();
  const dbuf = createHash('sha256').update(bb).digest();
  return timingSafeEqual(da, dbuf) && ab.length === bb.length;
}
