// API key format (spec §2): `svm_` + 8-char prefix + `_` + 32-char secret + 6-char checksum.
// Prefix and secret are base62 from a cryptographic RNG; the checksum is the CRC32 of everything
// before it, in base62 (most significant digit first), left-padded with 0 to 6 characters.
import { randomInt } from 'node:crypto';
import { sha256Hex } from './tokens.js';

export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const KEY_PATTERN = /^svm_[A-Za-z0-9]{8}_[A-Za-z0-9]{38}$/;
const PREFIX_LEN = 8;
const SECRET_LEN = 32;
const CHECKSUM_LEN = 6;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as zlib and PNG use it) of a string's UTF-8 bytes. */
export function crc32(input: string): number {
  let crc = 0xffffffff;
  // Keys are ASCII: their characters are their bytes, and the hot path needs no buffer.
  if (/^[\x00-\x7f]*$/.test(input)) {
    for (let i = 0; i < input.length; i++) crc = CRC_TABLE[(crc ^ input.charCodeAt(i)) & 0xff] ^ (crc >>> 8);
  } else {
    for (const byte of Buffer.from(input, 'utf8')) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

export function toBase62(value: number, width: number): string {
  let n = value;
  let out = '';
  do {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  } while (n > 0);
  return out.padStart(width, '0');
}

export function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(62)];
  return out;
}

export const checksumOf = (body: string): string => toBase62(crc32(body), CHECKSUM_LEN);

export interface GeneratedKey {
  key: string;
  prefix: string;
  digest: string;
}

export function generateKey(): GeneratedKey {
  const prefix = randomBase62(PREFIX_LEN);
  const body = `svm_${prefix}_${randomBase62(SECRET_LEN)}`;
  const key = body + checksumOf(body);
  return { key, prefix, digest: digestKey(key) };
}

export const digestKey = (key: string): string => sha256Hex(key);

// Anything shaped like a key, whole or cut short, keeps only its prefix.
const KEY_LIKE = /svm_[A-Za-z0-9]{8}_[A-Za-z0-9]{6,}/g;

/** Hides keys in text that goes to a client or a log (an error quoting input, a logged URL). */
export const maskKeys = (text: string): string => text.replace(KEY_LIKE, (key) => `${key.slice(0, 12)}_…`);

/**
 * The prefix of a well-formed key whose checksum holds, else null. Runs before any database
 * access, so typos and random guesses cost nothing.
 */
export function parseKey(candidate: string): string | null {
  if (candidate.length !== 4 + PREFIX_LEN + 1 + SECRET_LEN + CHECKSUM_LEN || !KEY_PATTERN.test(candidate)) return null;
  const body = candidate.slice(0, -CHECKSUM_LEN);
  if (checksumOf(body) !== candidate.slice(-CHECKSUM_LEN)) return null;
  return candidate.slice(4, 4 + PREFIX_LEN);
}
