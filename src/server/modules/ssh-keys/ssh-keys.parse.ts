// Public SSH keys as users paste them (spec §9): one OpenSSH line, `type base64 [comment]`, read
// for real with sshpk; and new ed25519 key pairs in OpenSSH's formats. Pure: no database, no I/O.
// Untrusted input is read by hand, character by character, and sshpk gets only the decoded blob:
// its own line reader guesses at mangled lines (a comment run into the key, spaces in the base64),
// and a key that needs guessing is not one to put into a VM. Every step is linear in the input.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import sshpk from 'sshpk';

/** The key types the portal accepts, as OpenSSH names them. */
export const SSH_KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa'] as const;
export type SshKeyType = (typeof SSH_KEY_TYPES)[number];

export const MIN_RSA_BITS = 2048;
/** OpenSSH's own limit (SSH_RSA_MAXIMUM_MODULUS_SIZE): a larger key could never log in. */
export const MAX_RSA_BITS = 16384;
/** The longest line accepted: an RSA key of 16384 bits with a comment fits easily. */
export const MAX_PUBLIC_KEY_LENGTH = 8000;

export interface PublicSshKey {
  type: SshKeyType;
  /** The key blob (RFC 4253), base64 as OpenSSH writes it. */
  blob: string;
  /** As `ssh-keygen -l` prints it: `SHA256:` and the unpadded base64 of the blob's SHA-256. */
  fingerprint: string;
  /** The RSA modulus size, the ECDSA curve size, or 256 for ed25519. */
  bits: number;
  /** What followed the key on its line, or null. */
  comment: string | null;
}

/** A refusal, with a sentence for the user; it never quotes more than a short piece of the input. */
export class SshKeyRefused extends Error {}

function refuse(message: string): never {
  throw new SshKeyRefused(message);
}

const ONE_KEY_HINT = 'Paste one public key, as one line: for example the content of ~/.ssh/id_ed25519.pub.';
const MAKE_ONE = 'Make an ed25519 key (ssh-keygen -t ed25519) or use "Generate key pair".';

const isSpace = (c: number) => c === 0x20 || c === 0x09;
const isBase64Char = (c: number) =>
  (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;

/** A short, printable piece of the input for a message. */
const quote = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

/** The whitespace-separated words of a line, each with where it starts. */
function wordsOf(line: string): { word: string; at: number }[] {
  const words: { word: string; at: number }[] = [];
  let start = -1;
  for (let i = 0; i <= line.length; i++) {
    const space = i === line.length || isSpace(line.charCodeAt(i));
    if (space && start !== -1) {
      words.push({ word: line.slice(start, i), at: start });
      start = -1;
    } else if (!space && start === -1) start = i;
  }
  return words;
}

/** The bytes of strict, canonical base64 (padding only at the end), or null. */
function decodeBase64(text: string): Buffer | null {
  if (text.length === 0 || text.length % 4 !== 0) return null;
  let end = text.length;
  while (end > text.length - 2 && text.charCodeAt(end - 1) === 0x3d) end--;
  for (let i = 0; i < end; i++) if (!isBase64Char(text.charCodeAt(i))) return null;
  const bytes = Buffer.from(text, 'base64');
  // Node ignores stray bits and characters; the round trip refuses what OpenSSH would not write.
  return bytes.toString('base64') === text ? bytes : null;
}

/** Whether a word is a key blob of its own (a second key on the line). */
function looksLikeKeyBlob(word: string): boolean {
  if (word.length < 24) return false;
  const head = decodeBase64(word.slice(0, 24));
  if (!head) return false;
  const length = head.readUInt32BE(0);
  const name = head.subarray(4, 4 + Math.min(length, 14)).toString('latin1');
  return length >= 7 && length <= 64 && (name.startsWith('ssh-') || name.startsWith('ecdsa-') || name.startsWith('sk-'));
}

const isTypeWord = (word: string) => word.startsWith('ssh-') || word.startsWith('ecdsa-sha2-') || word.startsWith('sk-');

/** Why a type word is not accepted. */
function typeRefusal(word: string): string {
  if (word === 'ssh-dss') return `DSA keys (ssh-dss) are too weak, and OpenSSH no longer accepts them. ${MAKE_ONE}`;
  if (word.endsWith('-cert-v01@openssh.com')) return `SSH certificates are not accepted here: paste the public key itself. ${ONE_KEY_HINT}`;
  if (word.startsWith('sk-')) return `Security-key types (${quote(word)}) are not accepted yet: use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa (at least ${MIN_RSA_BITS} bits).`;
  return `${quote(word)} is not a key type accepted here: use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa (at least ${MIN_RSA_BITS} bits). ${ONE_KEY_HINT}`;
}

/** The OpenSSH name of a key sshpk read. */
function algorithmOf(key: sshpk.Key): string {
  switch (key.type) {
    case 'ed25519':
      return 'ssh-ed25519';
    case 'rsa':
      return 'ssh-rsa';
    case 'dsa':
      return 'ssh-dss';
    case 'ecdsa':
      return `ecdsa-sha2-${key.curve}`;
    default:
      return String(key.type);
  }
}

/**
 * Reads one OpenSSH public key line. Throws SshKeyRefused, saying why, for anything else: another
 * format, several keys, a type not accepted (DSA, RSA under 2048 bits), base64 that is malformed or
 * cut short, a type word that does not match the key data, key data that is not a valid key.
 */
export function parsePublicKey(input: string): PublicSshKey {
  if (input.length > MAX_PUBLIC_KEY_LENGTH) refuse(`A public key line is at most ${MAX_PUBLIC_KEY_LENGTH} characters. ${ONE_KEY_HINT}`);
  const line = input.trim();
  if (line.length === 0) refuse(`The public key is empty. ${ONE_KEY_HINT}`);
  if (line.startsWith('-----BEGIN') || line.includes('PRIVATE KEY-----')) {
    refuse('This is a private key: keep it to yourself. Paste the public key (the .pub file) instead.');
  }
  if (line.startsWith('---- BEGIN SSH2 PUBLIC KEY')) refuse('This key is in the SSH2 (RFC 4716) format: convert it with ssh-keygen -i -f FILE and paste the line that prints.');
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) refuse(`The text has more than one line. ${ONE_KEY_HINT}`);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) refuse('The public key contains control characters.');
  }

  const words = wordsOf(line);
  const typeWord = words[0].word;
  if (!isTypeWord(typeWord)) {
    // authorized_keys options (from="…", no-pty) before the type, or no type at all.
    refuse(`The line must begin with the key type (such as ssh-ed25519), not ${quote(typeWord)}. ${ONE_KEY_HINT}`);
  }
  if (!(SSH_KEY_TYPES as readonly string[]).includes(typeWord)) refuse(typeRefusal(typeWord));
  const type = typeWord as SshKeyType;
  if (words.length < 2) refuse(`The key data (the base64 after ${type}) is missing. ${ONE_KEY_HINT}`);
  const blob = words[1].word;
  const commentWords = words.slice(2);
  const comment = commentWords.length > 0 ? line.slice(commentWords[0].at) : null;

  const formHint =
    commentWords.length > 0 && [...commentWords[0].word].every((ch) => isBase64Char(ch.charCodeAt(0)) || ch === '=')
      ? ' (Sent with curl -d? A "+" in the key then arrives as a space: use --data-urlencode.)'
      : '';
  const bytes = decodeBase64(blob);
  if (!bytes) refuse(`The key data is not valid base64, or it is cut short.${formHint}`);

  let key: sshpk.Key;
  try {
    key = sshpk.parseKey(bytes, 'rfc4253');
  } catch {
    refuse(`The key data is truncated or malformed: it is not a complete ${type} key.${formHint}`);
  }
  // The blob must be exactly the public key, written as OpenSSH writes it: sshpk reads a private
  // key's blob as its public half, and numbers padded with zeros; written back, those differ.
  if (!key.toBuffer('rfc4253', {}).equals(bytes)) {
    refuse(`The key data is malformed: it is not a public ${type} key as OpenSSH writes one.`);
  }
  const algorithm = algorithmOf(key);
  if (algorithm === 'ssh-dss') refuse(typeRefusal('ssh-dss'));
  if (algorithm !== type) refuse(`The line says ${type}, but the key data is of type ${algorithm}.`);
  if (type === 'ssh-rsa' && key.size < MIN_RSA_BITS) refuse(`This RSA key has ${key.size} bits: too weak. RSA keys need at least ${MIN_RSA_BITS} bits. ${MAKE_ONE}`);
  if (type === 'ssh-rsa' && key.size > MAX_RSA_BITS) refuse(`This RSA key has ${key.size} bits; OpenSSH accepts at most ${MAX_RSA_BITS}.`);
  try {
    // OpenSSL checks what sshpk does not: an ECDSA point on its curve, a well-formed RSA key.
    createPublicKey(key.toString('pkcs8'));
  } catch {
    refuse(`The key data is not a valid ${type} public key.`);
  }

  // A comment may be anything ("ssh-key of my laptop"), but not another key's data.
  if (commentWords.some((w) => looksLikeKeyBlob(w.word))) refuse(`The line holds more than one key. ${ONE_KEY_HINT}`);

  return { type, blob, fingerprint: key.fingerprint('sha256').toString(), bits: key.size, comment };
}

/** The line put into authorized_keys: type, key data and the key's name as comment. */
export const authorizedKeyLine = (key: Pick<PublicSshKey, 'type' | 'blob'>, name: string): string => `${key.type} ${key.blob} ${name}`;

/**
 * A new ed25519 key pair: the public key (read back like a pasted one) and the private key in
 * OpenSSH's format, as `ssh -i` reads it, with `name` as its comment and no passphrase.
 */
export function generateKeyPair(name: string): { publicKey: PublicSshKey; privateKey: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const sshPrivate = sshpk.parsePrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }), 'pkcs8');
  sshPrivate.comment = name;
  const blob = sshPrivate.toPublic().toBuffer('rfc4253', {}).toString('base64');
  return {
    publicKey: parsePublicKey(`ssh-ed25519 ${blob}`),
    privateKey: sshPrivate.toString('ssh-private'),
  };
}
