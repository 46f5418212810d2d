// How user data travels to Nova: base64, at most 65,535 characters. cloud-init takes gzip-compressed
// user data as well (it recognizes the gzip header), so a document too large as plain text goes
// compressed: a 64 KiB first-boot script (spec §8) then fits as scripts do compress.
import { gzipSync } from 'node:zlib';

/** Nova refuses user data whose base64 form is longer. */
export const MAX_USER_DATA_BASE64 = 65_535;

/** The user data as Nova's `user_data`: plain when it fits, else gzip-compressed; base64 either way. */
export function encodeUserData(userData: string): string {
  const plain = Buffer.from(userData, 'utf8').toString('base64');
  return plain.length <= MAX_USER_DATA_BASE64 ? plain : gzipSync(userData, { level: 9 }).toString('base64');
}
