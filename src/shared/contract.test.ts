import { describe, expect, it } from 'vitest';
import { snapshotDeleting, volumeDuring, vmDuring } from './contract.js';

describe('vmDuring', () => {
  const at = (status: string, task_state: string | null = null) => ({ status, task_state });

  it('follows the table of spec §5', () => {
    expect(vmDuring(at('ACTIVE'), 'stop')).toEqual(at('ACTIVE', 'powering-off'));
    expect(vmDuring(at('SHUTOFF'), 'resume')).toEqual(at('SHUTOFF', 'powering-on'));
    expect(vmDuring(at('ACTIVE'), 'reboot')).toEqual(at('REBOOT', 'rebooting'));
    expect(vmDuring(at('ACTIVE'), 'reboot', 'HARD')).toEqual(at('HARD_REBOOT', 'rebooting_hard'));
    for (const s of ['ACTIVE', 'SHUTOFF', 'ERROR']) expect(vmDuring(at(s), 'delete')).toEqual(at(s, 'deleting'));
  });

  it('refuses every other combination and anything while a task runs', () => {
    expect(vmDuring(at('SHUTOFF'), 'stop')).toBeNull();
    expect(vmDuring(at('ACTIVE'), 'resume')).toBeNull();
    expect(vmDuring(at('SHUTOFF'), 'reboot')).toBeNull();
    expect(vmDuring(at('BUILD'), 'delete')).toBeNull();
    expect(vmDuring(at('DELETED'), 'delete')).toBeNull();
    expect(vmDuring(at('ACTIVE', 'powering-off'), 'delete')).toBeNull();
    expect(vmDuring(at('BUILD', 'spawning'), 'stop')).toBeNull();
  });
});

describe('volumeDuring', () => {
  it('allows only the transitions of spec §5', () => {
    expect(volumeDuring('available', 'attach')).toBe('attaching');
    expect(volumeDuring('in-use', 'detach')).toBe('detaching');
    expect(volumeDuring('available', 'extend')).toBe('extending');
    expect(volumeDuring('available', 'delete')).toBe('deleting');
    expect(volumeDuring('in-use', 'attach')).toBeNull();
    expect(volumeDuring('available', 'detach')).toBeNull();
    expect(volumeDuring('in-use', 'delete')).toBeNull();
    expect(volumeDuring('creating', 'extend')).toBeNull();
  });
});

describe('snapshotDeleting', () => {
  it('lets an active or failed snapshot go, never one still being saved or already going', () => {
    expect(snapshotDeleting('active')).toBe('deleting');
    expect(snapshotDeleting('error')).toBe('deleting');
    for (const s of ['queued', 'saving', 'deleting']) expect(snapshotDeleting(s)).toBeNull();
  });
});
