import { Type } from '@sinclair/typebox';
import { Page, PageQuery } from '../shared.schemas.js';

export const AuditEventOut = Type.Object(
  {
    at: Type.String(),
    actor: Type.Union([Type.String(), Type.Null()], { description: 'Username; null for an anonymous leak report.' }),
    key_prefix: Type.Union([Type.String(), Type.Null()], { description: 'The key used, or the key acted on.' }),
    action: Type.String(),
    object_type: Type.Union([Type.String(), Type.Null()]),
    object_id: Type.Union([Type.String(), Type.Null()]),
    ip: Type.Union([Type.String(), Type.Null()]),
    outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
  },
  { $id: 'AuditEvent' },
);

export const AuditPage = Page(Type.Ref('AuditEvent'), 'AuditPage');

export const AuditQuery = Type.Object({
  ...PageQuery,
  action: Type.Optional(Type.String({ maxLength: 32, description: 'Exact action, e.g. vm.create.' })),
});
