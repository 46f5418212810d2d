import { describe, expect, it } from 'vitest';
import { BASE62, KEY_PATTERN, checksumOf, crc32, digestKey, generateKey, parseKey, toBase62 } from './key-format.js';
import { constantTimeEqual } from './tokens.js';

describe('crc32', () => {
  it('matches the standard check values', () => {
    expect(crc32('')).toBe(0);
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32('The quick brown fox jumps over the lazy dog')).toBe(0x414fa339);
    expect(crc32('a')).toBe(0xe8b7be43);
  });
});

describe('base62', () => {
  it('writes the most significant digit first with the spec alphabet, padded to width', () => {
    expect(BASE62).toBe('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');
    expect(toBase62(0, 6)).toBe('000000');
    expect(toBase62(61, 6)).toBe('00000z');
    expect(toBase62(62, 6)).toBe('000010');
    expect(toBase62(0xffffffff, 6)).toBe('4gfFC3');
    expect(toBase62(0xcbf43926, 6)).toBe('3jZRME'); // computed independently with Python's zlib.crc32
  });
});

describe('generateKey', () => {
  it('makes keys of the spec format whose checksum holds', () => {
    for (let i = 0; i < 200; i++) {
      const { key, prefix, digest } = generateKey();
      expect(key).toMatch(KEY_PATTERN);
      expect(key.slice(4, 12)).toBe(prefix);
      expect(checksumOf(key.slice(0, -6))).toBe(key.slice(-6));
      expect(parseKey(key)).toBe(prefix);
      expect(digest).toBe(digestKey(key));
      expect(digest).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('does not repeat itself', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateKey().key));
    expect(keys.size).toBe(1000);
  });
});

describe('parseKey', () => {
  const { key } = generateKey();

  it('rejects a key with one character changed (checksum)', () => {
    for (const at of [5, 13, 20, key.length - 1]) {
      const c = key[at] === 'A' ? 'B' : 'A';
      expect(parseKey(key.slice(0, at) + c + key.slice(at + 1))).toBeNull();
    }
  });

  it('rejects malformed input', () => {
    for (const bad of ['', 'svm_', key + 'x', key.slice(1), key.replace('svm_', 'svx_'), key.replace(/_/g, '-'), `${key.slice(0, 20)}é${key.slice(21)}`]) {
      expect(parseKey(bad)).toBeNull();
    }
  });

  it('accepts a known vector (checksum computed independently with Python zlib.crc32)', () => {
    expect(parseKey('svm_AbCdEfGh_0123456789abcdefghijABCDEFGHIJKL32Lu6X')).toBe('AbCdEfGh');
    expect(parseKey('svm_AbCdEfGh_0123456789abcdefghijABCDEFGHIJKL32Lu6Y')).toBeNull();
  });
});

describe('constantTimeEqual', () => {
  it('compares by content and length', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });

  it('uses crypto.timingSafeEqual for the comparison', async () => {
    const crypto = await import('node:crypto');
    const src = (await import('node:fs')).readFileSync(new URL('./tokens.ts', import.meta.url), 'utf8');
    expect(src).toContain('timingSafeEqual');
    expect(typeof crypto.timingSafeEqual).toBe('function');
  });
});

describe('maskKeys', () => {
  it('keeps only the prefix of anything shaped like a key', async () => {
    const { maskKeys } = await import('../../shared/key-mask.js');
    const { key, prefix } = generateKey();
    expect(maskKeys(`Unknown image "${key}"`)).toBe(`Unknown image "svm_${prefix}_…"`);
    expect(maskKeys(`/api/vms/?key=${key.slice(0, 30)}`)).toBe(`/api/vms/?key=svm_${prefix}_…`);
    expect(maskKeys('nothing here')).toBe('nothing here');
  });
});
