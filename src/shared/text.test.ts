import { describe, expect, it } from 'vitest';
import { oneLine, trimChars, trimTrailingSlashes } from './text.js';

describe('linear string helpers', () => {
  it('trims characters at either end', () => {
    expect(trimChars('--a.b--.', '-.')).toBe('a.b');
    expect(trimChars('....', '.')).toBe('');
    expect(trimChars('/a//', '/', { start: false })).toBe('/a');
    expect(trimTrailingSlashes('https://x.example/v3///')).toBe('https://x.example/v3');
  });

  it('joins lines into one', () => {
    expect(oneLine('  a \r\n\n  b\n')).toBe('a b');
  });

  it('stays linear on inputs that are quadratic for the patterns they replace', () => {
    const evil = `${'/'.repeat(200_000)}x`;
    const start = performance.now();
    expect(trimTrailingSlashes(evil)).toBe(evil);
    expect(trimChars(`${'-'.repeat(200_000)}x${'.'.repeat(200_000)}y`, '-.')).toHaveLength(200_002);
    expect(oneLine(`${' '.repeat(200_000)}x`)).toBe('x');
    expect(performance.now() - start).toBeLessThan(200);
  });
});
