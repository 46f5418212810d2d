// The pure key reader: fingerprints as OpenSSH computes them, generated pairs, and time linear in
// the input however it is built (test/ssh-keys.test.ts checks keys made by ssh-keygen over HTTP).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_PUBLIC_KEY_LENGTH, SshKeyRefused, authorizedKeyLine, generateKeyPair, parsePublicKey } from './ssh-keys.parse.js';

const refusal = (input: string): string => {
  try {
    parsePublicKey(input);
  } catch (err) {
    if (err instanceof SshKeyRefused) return err.message;
    throw err;
  }
  throw new Error('accepted');
};

describe('parsePublicKey', () => {
  it('reads a generated key back: the fingerprint is SHA256: and the unpadded base64 of the blob\'s SHA-256', () => {
    const { publicKey, privateKey } = generateKeyPair('laptop');
    const digest = createHash('sha256').update(Buffer.from(publicKey.blob, 'base64')).digest('base64').replaceAll('=', '');
    expect(publicKey).toMatchObject({ type: 'ssh-ed25519', bits: 256, fingerprint: `SHA256:${digest}`, comment: null });
    const line = authorizedKeyLine(publicKey, 'laptop');
    expect(parsePublicKey(line)).toEqual({ ...publicKey, comment: 'laptop' });
    // A comment may look like anything but another key.
    expect(parsePublicKey(`${line} ssh-rsa of my old laptop`).comment).toBe('laptop ssh-rsa of my old laptop');
    expect(refusal(`${line} ${generateKeyPair('y').publicKey.blob}`)).toMatch(/more than one key/);
    expect(privateKey.startsWith('-----BEGIN OPENSSH PRIVATE KEY-----\n')).toBe(true);
    expect(privateKey.endsWith('-----END OPENSSH PRIVATE KEY-----\n')).toBe(true);
    // Each pair is new.
    expect(generateKeyPair('laptop').publicKey.fingerprint).not.toBe(publicKey.fingerprint);
  });

  it('refuses a blob with bytes after the key, or padded numbers, that sshpk alone would read', () => {
    const { publicKey } = generateKeyPair('x');
    const blob = Buffer.from(publicKey.blob, 'base64');
    const extra = Buffer.concat([blob, Buffer.from([0, 0, 0, 1, 7])]).toString('base64');
    expect(refusal(`ssh-ed25519 ${extra}`)).toMatch(/malformed|truncated/);
    // Base64 with stray bits before its padding decodes (Node is lenient) but is not canonical.
    const padded = Buffer.concat([blob, Buffer.from([0])]).toString('base64');
    expect(padded.endsWith('AA==')).toBe(true);
    expect(refusal(`ssh-ed25519 ${padded.slice(0, -4)}AB==`)).toMatch(/base64/);
    expect(refusal(`ssh-ed25519 ${padded.slice(0, -2)}`)).toMatch(/base64/);
  });

  it('takes time linear in the input, whatever its shape', () => {
    const { publicKey } = generateKeyPair('x');
    const n = MAX_PUBLIC_KEY_LENGTH - 20;
    const shapes = [
      ' '.repeat(n),
      '\t '.repeat(n / 2),
      `ssh-ed25519 ${'A'.repeat(n)}`,
      `ssh-ed25519 ${'A'.repeat(n - 1)}=`,
      `ssh-ed25519 ${'='.repeat(n)}`,
      `ssh-rsa ${'AAAA'.repeat(n / 4)}`,
      `ssh-ed25519 ${publicKey.blob} ${'a '.repeat(n / 2 - 40)}`,
      `ssh-ed25519 ${publicKey.blob} ${'AAAAC3NzaC1lZDI1NTE5 '.repeat(n / 24)}`,
      `ssh-${'-'.repeat(n)}`,
      `${'ssh-ed25519 '.repeat(n / 12)}`,
      '-'.repeat(n),
    ];
    for (const input of shapes) {
      const started = performance.now();
      try {
        parsePublicKey(input);
      } catch (err) {
        expect(err).toBeInstanceOf(SshKeyRefused);
      }
      expect(performance.now() - started, input.slice(0, 30)).toBeLessThan(100);
    }
    expect(refusal('x'.repeat(MAX_PUBLIC_KEY_LENGTH + 1))).toContain(String(MAX_PUBLIC_KEY_LENGTH));
  });

  it('quotes at most a short piece of what it refuses', () => {
    const message = refusal(`${'z'.repeat(5000)} AAAA`);
    expect(message.length).toBeLessThan(300);
  });
});
