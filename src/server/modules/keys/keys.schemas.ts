import { Type } from '@sinclair/typebox';
import { PRINTABLE_PATTERN, SCOPES } from '../../../shared/contract.js';

const scopeLiterals = () => SCOPES.map((s) => Type.Literal(s));
export const ScopeName = Type.Union(scopeLiterals(), { $id: 'Scope', description: 'What a key may do.' });
/** The same enumeration without an $id, for request schemas (validated on their own). */
const ScopeInput = Type.Union(scopeLiterals());

export const KeyOut = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    prefix: Type.String({ description: 'The 8 characters after `svm_`: shown to tell keys apart; not a secret.' }),
    scopes: Type.Array(Type.Ref('Scope')),
    own_objects_only: Type.Boolean({ description: 'The key sees and acts only on objects its user created.' }),
    project_id: Type.Union([Type.Integer(), Type.Null()], { description: 'The one project the key is bound to, or null.' }),
    created_at: Type.String(),
    expires_at: Type.String(),
    last_used_at: Type.Union([Type.String(), Type.Null()], { description: 'Updated at most once a minute.' }),
  },
  { $id: 'ApiKey' },
);

export const KeyCreated = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    prefix: Type.String(),
    scopes: Type.Array(Type.Ref('Scope')),
    own_objects_only: Type.Boolean(),
    project_id: Type.Union([Type.Integer(), Type.Null()]),
    created_at: Type.String(),
    expires_at: Type.String(),
    last_used_at: Type.Union([Type.String(), Type.Null()]),
    key: Type.String({ description: 'The key itself: shown in this response only, never again. Store it now.' }),
  },
  { $id: 'ApiKeyCreated' },
);

export const KeyCreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 50, pattern: PRINTABLE_PATTERN }),
    scopes: Type.Array(ScopeInput, { minItems: 1, maxItems: 20, description: 'At least one scope; as a form, repeat the field.' }),
    own_objects_only: Type.Optional(Type.Boolean({ default: true })),
    project_id: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 2_147_483_647 }), Type.Null()], {
      description: 'The one project the key may reach; required when the portal says so (SIMPLEVM_API_KEY_PROJECT=required, `api_key_project_required` in GET /api/auth/me).',
    })),
    expires_at: Type.Optional(Type.String({
      format: 'date-time', maxLength: 40,
      description: 'ISO 8601; default 90 days from now, at most SIMPLEVM_API_KEY_MAX_DAYS. Required when the portal says so (SIMPLEVM_API_KEY_EXPIRY=required, `api_key_expiry_required` in GET /api/auth/me).',
    })),
  },
  { $id: 'ApiKeyCreateBody' },
);

export const KeyIdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });

export const KeyRotateBody = Type.Object(
  { overlap_hours: Type.Optional(Type.Integer({ minimum: 0, maximum: 168, default: 0, description: 'Hours the old key keeps working (0–168).' })) },
  { $id: 'ApiKeyRotateBody' },
);
