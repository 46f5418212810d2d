import { describe, expect, it } from 'vitest';
import { type TransitionDefinition, type TransitionRegistry, definitionFor, pending } from './definitions.js';

const create: TransitionDefinition = {
  call: async () => {},
  check: async () => pending,
  fail: () => async () => {},
};
const registry: TransitionRegistry = { vm: { create }, volume: {}, snapshot: {} };

describe('definitionFor', () => {
  it('finds a transition by its object type and action', () => {
    expect(definitionFor(registry, { object_type: 'vm', action: 'create' })).toBe(create);
  });

  it('throws for an action nobody registered, never answering with an inherited property', () => {
    expect(() => definitionFor(registry, { object_type: 'volume', action: 'create' })).toThrow('no transition volume:create');
    expect(() => definitionFor(registry, { object_type: 'vm', action: 'constructor' })).toThrow('no transition vm:constructor');
    expect(() => definitionFor(registry, { object_type: 'toString' as never, action: 'call' })).toThrow('no transition toString:call');
  });
});
