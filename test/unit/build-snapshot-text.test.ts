import { describe, expect, it } from 'vitest';
import { describeSnapshot } from '../../src/build/snapshot-text.js';

describe('describeSnapshot', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  it('says since when the context is unchanged when the build was reused', () => {
    expect(describeSnapshot({ digest, reused: true, builtInCycle: 1, unchangedSinceCycle: 1 })).toBe('Build context unchanged since cycle 1: build reused, nothing copied.');
  });
  it('names the cycle whose build was reused when the context changed in between', () => {
    expect(describeSnapshot({ digest, reused: true, builtInCycle: 3 })).toBe('Build context the same as in cycle 3: that build reused, nothing copied.');
    expect(describeSnapshot({ digest, reused: true })).toBe('Build context the same as an earlier build: that build reused, nothing copied.');
  });
  it('says why an unchanged context was built again, and nothing for a plain new build', () => {
    expect(describeSnapshot({ digest, reused: false, unchangedSinceCycle: 2 })).toBe('Build context unchanged since cycle 2; rebuilt because the build command or its env changed.');
    expect(describeSnapshot({ digest, reused: false })).toBeUndefined();
    expect(describeSnapshot(undefined)).toBeUndefined();
  });
});
