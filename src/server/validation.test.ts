import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { coerceFormBody } from './validation.js';

const schema = Type.Object({
  storage: Type.Integer(),
  scopes: Type.Array(Type.String()),
  own_objects_only: Type.Boolean(),
  name: Type.String(),
  project_id: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
});

describe('coerceFormBody', () => {
  it('turns form strings into the schema types', () => {
    expect(coerceFormBody({ storage: '10', scopes: 'vm:read', own_objects_only: 'false', name: '42' }, schema)).toEqual({
      storage: 10, scopes: ['vm:read'], own_objects_only: false, name: '42',
    });
  });

  it('keeps repeated fields as arrays and leaves unconvertible values to validation', () => {
    expect(coerceFormBody({ scopes: ['vm:read', 'vm:create'], storage: 'ten' }, schema)).toEqual({ scopes: ['vm:read', 'vm:create'], storage: 'ten' });
  });

  it('reads an empty optional nullable integer as null', () => {
    expect(coerceFormBody({ project_id: '' }, schema)).toEqual({ project_id: null });
  });
});
