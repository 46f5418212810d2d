import { Type } from '@sinclair/typebox';
import { SCOPES } from '../../../shared/contract.js';

export const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 150 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { $id: 'LoginBody' },
);

export const PasswordChangeBody = Type.Object(
  {
    current_password: Type.String({ minLength: 1, maxLength: 1024, description: 'The password the user has now.' }),
    new_password: Type.String({ minLength: 12, maxLength: 1024, description: 'The new password: at least 12 characters.' }),
  },
  { $id: 'PasswordChangeBody' },
);

export const UserOut = Type.Object({ username: Type.String(), is_superuser: Type.Boolean() }, { $id: 'User' });

export const LoginResponse = Type.Object(
  {
    user: Type.Ref('User'),
    csrf_token: Type.String({ description: 'Send it as X-CSRF-Token on every unsafe request of this session.' }),
  },
  { $id: 'LoginResponse' },
);

export const MeResponse = Type.Object(
  {
    username: Type.String(),
    is_superuser: Type.Boolean(),
    api_key: Type.Union([
      Type.Object({
        prefix: Type.String(),
        scopes: Type.Array(Type.Union(SCOPES.map((s) => Type.Literal(s)))),
        own_objects_only: Type.Boolean(),
        project_id: Type.Union([Type.Integer(), Type.Null()]),
      }),
      Type.Null(),
    ], { description: 'The key this request used, or null for a web session.' }),
    api_keys_enabled: Type.Boolean({ description: 'Whether this user may create API keys (the beta gate).' }),
    api_key_project_required: Type.Boolean({ description: 'Whether a new API key must be bound to a project (SIMPLEVM_API_KEY_PROJECT=required).' }),
    api_key_expiry_required: Type.Boolean({ description: 'Whether a new API key must be given expires_at (SIMPLEVM_API_KEY_EXPIRY=required).' }),
    api_key_max_days: Type.Integer({ description: 'The longest lifetime a new API key may have, in days (SIMPLEVM_API_KEY_MAX_DAYS).' }),
    cloud: Type.Union([Type.Literal('simulated'), Type.Literal('openstack')], { description: 'The cloud behind the portal (SIMPLEVM_CLOUD): the web app marks a simulated one.' }),
    csrf_token: Type.Optional(Type.String({ description: 'The session\'s CSRF token (web sessions only).' })),
  },
  { $id: 'Me' },
);
