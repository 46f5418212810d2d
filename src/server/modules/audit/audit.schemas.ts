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
    detail: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], {
      description: 'What the bare action does not say, or null: `os_action` for vm.action and volume.action; `name` of what a create made ' +
        '(or tried to); `username` and `role` for project.member_add and project.member_remove; `via: "cli"` for a password set by ' +
        '`simplevm user set` (actor null); and for a failure the error `code`. A refused create has object_id null.',
    }),
  },
  { $id: 'AuditEvent' },
);

export const AuditPage = Page(Type.Ref('AuditEvent'), 'AuditPage');

export const AuditQuery = Type.Object({
  ...PageQuery,
  action: Type.Optional(Type.String({ maxLength: 32, description: 'Exact action, e.g. vm.create.' })),
  mine: Type.Optional(Type.Boolean({
    description: 'true: only the caller\'s own events (those they did, and those done to their keys and objects), also for a superuser, ' +
      'who otherwise sees everyone\'s. The profile\'s audit list uses it.',
  })),
});
