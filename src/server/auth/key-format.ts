// API key format (spec §2): `svm_` + 8-char prefix + `_` + 32-char secret + 6-char checksum.
// Prefix and secret are base62 from a cryptographic RNG; the checksum is the CRC32 of everything
// before it, in base62 (most significant digit first), left-padded with 0 to 6 characters.
import { randomInt } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { sha256Hex } from './tokens.js';

export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const KEY_PATTERN = /^svm_[A-Za-z0-9]{8}_[A-Za-z0-9]{38}$/;
const PREFIX_LEN = 8;
const SECRET_LEN = 32;
const CHECKSUM_LEN = 6;

/**
 * CRC-32 (IEEE 802.3, as zlib and PNG use it) of a string's UTF-8 bytes: zlib's own (Node 20.15+),
 * so the checksum is the one every other zlib computes, with no table of ours to get wrong.
 */
export const crc32 = (input: string): number => zlibCrc32(input);

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
