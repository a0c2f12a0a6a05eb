import { expect } from 'chai';
import { mergeKeyspaceFlags } from '../lib/rules/keyspace-flags';

describe('mergeKeyspaceFlags', () => {
  it('sets Kx when notify-keyspace-events is empty (the Redis default)', () => {
    expect(mergeKeyspaceFlags('', 'Kx')).to.equal('Kx');
  });

  it('keeps the flags another application set and adds K and x after them', () => {
    expect(mergeKeyspaceFlags('Eg', 'Kx')).to.equal('EgKx');
  });

  it('adds nothing when A (which stands for g$lshzxetd) and K are set: A already covers x', () => {
    expect(mergeKeyspaceFlags('KEA', 'Kx')).to.equal('KEA');
    expect(mergeKeyspaceFlags('AK', 'Kx')).to.equal('AK');
  });

  it('adds only K when A is set without K', () => {
    expect(mergeKeyspaceFlags('AE', 'Kx')).to.equal('AEK');
  });

  it('returns the value unchanged when K and x are already set, in any order', () => {
    expect(mergeKeyspaceFlags('xK', 'Kx')).to.equal('xK');
    expect(mergeKeyspaceFlags('Kx', 'Kx')).to.equal('Kx');
    expect(mergeKeyspaceFlags('gxEK', 'Kx')).to.equal('gxEK');
  });

  it('adds only K when x is already set', () => {
    expect(mergeKeyspaceFlags('Ex', 'Kx')).to.equal('ExK');
  });

  it('adds only x when K is already set', () => {
    expect(mergeKeyspaceFlags('KE', 'Kx')).to.equal('KEx');
  });

  it('does not take E (keyevent) for K (keyspace), nor another class for x', () => {
    expect(mergeKeyspaceFlags('E$lshzetd', 'Kx')).to.equal('E$lshzetdKx');
  });

  it('does not count A as covering the m (key miss) and n (new key) classes', () => {
    expect(mergeKeyspaceFlags('KA', 'Kxm')).to.equal('KAm');
  });
});
