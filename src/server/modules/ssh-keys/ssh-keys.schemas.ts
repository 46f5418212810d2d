import { Type } from '@sinclair/typebox';
import { MAX_PUBLIC_KEY_LENGTH, MIN_RSA_BITS, SSH_KEY_TYPES } from './ssh-keys.parse.js';

/**
 * PRINTABLE_PATTERN (src/shared/contract.ts), and also no C1 controls and no Unicode line or
 * paragraph separators: the name is the key's comment in VMs' authorized_keys, written through
 * cloud-init's YAML, where those would start a new line.
 */
const KEY_NAME_PATTERN = '^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$';

const typeDescription = `One of ${SSH_KEY_TYPES.join(', ')}.`;
const fingerprintDescription = 'As `ssh-keygen -l` prints it: `SHA256:` and the unpadded base64 of the key\'s SHA-256.';

export const SshKeyOut = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String({ description: 'The name you gave the key; its comment in the VMs it is put into.' }),
    type: Type.String({ description: typeDescription }),
    fingerprint: Type.String({ description: fingerprintDescription }),
    created_at: Type.String(),
  },
  { $id: 'SshKey' },
);

export const SshKeyCreated = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    type: Type.String({ description: typeDescription }),
    fingerprint: Type.String({ description: fingerprintDescription }),
    created_at: Type.String(),
    public_key: Type.String({ description: 'The OpenSSH line put into VMs: type, key data and the name as comment.' }),
    private_key: Type.Optional(Type.String({
      description: 'With generate=true only: the private key in OpenSSH format, without passphrase (save it with mode 0600; `ssh -i FILE`). ' +
        'Shown in this response only; the portal never stores it.',
    })),
  },
  { $id: 'SshKeyCreated' },
);

export const SshKeyCreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: KEY_NAME_PATTERN, description: 'Your name for the key (1–100 printable characters).' }),
    public_key: Type.Optional(Type.String({
      maxLength: MAX_PUBLIC_KEY_LENGTH,
      description: `One OpenSSH public key line, as in ~/.ssh/id_ed25519.pub: ${SSH_KEY_TYPES.join(', ')} (RSA of at least ${MIN_RSA_BITS} bits), ` +
        'the base64 key data and an optional comment. With curl, send it with --data-urlencode. Not with generate=true.',
    })),
    generate: Type.Optional(Type.Boolean({
      description: 'true: the portal makes an ed25519 key pair, keeps the public key and answers the private key once (`private_key`). Not with public_key.',
    })),
  },
  { $id: 'SshKeyCreateBody' },
);

export const SshKeyIdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'The SSH key\'s id.' }) });
