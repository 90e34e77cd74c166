import { describe, expect, it } from 'vitest';
import { compareDecimal, isDecimal, OffsetTracker } from './offset-tracker.js';

describe('OffsetTracker', () => {
  it('has nothing to commit before anything is tracked', () => {
    const tracker = new OffsetTracker();
    expect(tracker.nextOffset()).toBeUndefined();
    expect(tracker.lastDone).toBeUndefined();
    expect(tracker.pending).toBe(0);
  });

  it('commits at the first tracked message until it is acked', () => {
    const tracker = new OffsetTracker();
    const a = tracker.track('10');
    tracker.track('11');
    expect(tracker.nextOffset()).toBe('10');
    expect(tracker.ack(a)).toBe(true);
    expect(tracker.nextOffset()).toBe('11');
    expect(tracker.lastDone).toBe('10');
  });

  it('moves only over a contiguous run of acked messages, whatever order they settle in', () => {
    const tracker = new OffsetTracker();
    const handles = ['5', '6', '7', '8', '9'].map((p) => tracker.track(p));
    const [h5, h6, h7, h8, h9] = handles as [
      ReturnType<OffsetTracker['track']>,
      ReturnType<OffsetTracker['track']>,
      ReturnType<OffsetTracker['track']>,
      ReturnType<OffsetTracker['track']>,
      ReturnType<OffsetTracker['track']>,
    ];
    expect(tracker.ack(h7)).toBe(false);
    expect(tracker.ack(h9)).toBe(false);
    expect(tracker.nextOffset()).toBe('5');
    expect(tracker.ack(h5)).toBe(true);
    expect(tracker.nextOffset()).toBe('6');
    expect(tracker.ack(h6)).toBe(true);
    expect(tracker.nextOffset()).toBe('8');
    expect(tracker.lastDone).toBe('7');
    expect(tracker.ack(h8)).toBe(true);
    expect(tracker.nextOffset()).toBe('10');
    expect(tracker.lastDone).toBe('9');
    expect(tracker.pending).toBe(0);
  });

  it('never commits past a held (nacked) message, and later acks do not move it', () => {
    const tracker = new OffsetTracker();
    const a = tracker.track('0');
    const b = tracker.track('1');
    const c = tracker.track('2');
    tracker.ack(a);
    tracker.hold(b);
    tracker.ack(c);
    expect(tracker.nextOffset()).toBe('1');
    expect(tracker.lastDone).toBe('0');
    expect(tracker.held).toBe(1);
    expect(tracker.pending).toBe(2);
    // A held message cannot be acked afterwards (settling is idempotent: the first settle wins).
    expect(tracker.ack(b)).toBe(false);
    expect(tracker.nextOffset()).toBe('1');
  });

  it('is idempotent: acking or holding twice changes nothing', () => {
    const tracker = new OffsetTracker();
    const a = tracker.track('0');
    const b = tracker.track('1');
    expect(tracker.ack(a)).toBe(true);
    expect(tracker.ack(a)).toBe(false);
    tracker.hold(b);
    tracker.hold(b);
    expect(tracker.held).toBe(1);
    expect(tracker.nextOffset()).toBe('1');
  });

  it('skips gaps (compaction, transaction markers) and honours advanceTo past the last message', () => {
    const tracker = new OffsetTracker();
    const a = tracker.track('3');
    const b = tracker.track('7');
    tracker.ack(b);
    expect(tracker.nextOffset()).toBe('3');
    tracker.ack(a);
    expect(tracker.nextOffset()).toBe('8');
    tracker.advanceTo('10');
    expect(tracker.nextOffset()).toBe('10');
    tracker.advanceTo('9'); // never backwards
    expect(tracker.nextOffset()).toBe('10');
    const c = tracker.track('12');
    expect(tracker.nextOffset()).toBe('12');
    tracker.ack(c);
    expect(tracker.nextOffset()).toBe('13');
  });

  it('advanceTo alone gives a commit point (a batch of only transaction markers)', () => {
    const tracker = new OffsetTracker();
    tracker.advanceTo('42');
    expect(tracker.nextOffset()).toBe('42');
  });

  it('refuses positions that do not increase, and non-decimal input', () => {
    const tracker = new OffsetTracker();
    tracker.track('100');
    expect(() => tracker.track('100')).toThrow(RangeError);
    expect(() => tracker.track('99')).toThrow(RangeError);
    expect(() => tracker.track('-1')).toThrow(RangeError);
    expect(() => tracker.track('012')).toThrow(RangeError);
    expect(() => tracker.track('')).toThrow(RangeError);
    expect(() => tracker.advanceTo('x')).toThrow(RangeError);
    expect(tracker.seen('100')).toBe(true);
    expect(tracker.seen('101')).toBe(false);
  });

  it('orders Kinesis sequence numbers (56 digits) and offsets beyond 2^53 exactly', () => {
    const tracker = new OffsetTracker();
    const base = '49590338271490256608559692538361571095921575989136588898';
    const next = '49590338271490256608559692540925702759324208523137515618';
    const a = tracker.track(base);
    const b = tracker.track(next);
    expect(tracker.nextOffset()).toBe(base);
    tracker.ack(b);
    expect(tracker.lastDone).toBeUndefined();
    tracker.ack(a);
    expect(tracker.lastDone).toBe(next);
    expect(tracker.nextOffset()).toBe((BigInt(next) + 1n).toString());

    const big = new OffsetTracker();
    const h = big.track('9007199254740993'); // 2^53 + 1: not representable as a double
    big.ack(h);
    expect(big.nextOffset()).toBe('9007199254740994');
  });

  it('stays O(1) per message over a long run with out-of-order acks', () => {
    const tracker = new OffsetTracker();
    const handles = [];
    for (let i = 0; i < 50_000; i++) handles.push(tracker.track(String(i)));
    // Ack in pairs swapped: 1, 0, 3, 2, …
    for (let i = 0; i < handles.length; i += 2) {
      tracker.ack(handles[i + 1] as ReturnType<OffsetTracker['track']>);
      tracker.ack(handles[i] as ReturnType<OffsetTracker['track']>);
    }
    expect(tracker.pending).toBe(0);
    expect(tracker.nextOffset()).toBe('50000');
  });
});

describe('compareDecimal / isDecimal', () => {
  it('compares canonical decimal strings numerically', () => {
    expect(compareDecimal('9', '10')).toBeLessThan(0);
    expect(compareDecimal('10', '9')).toBeGreaterThan(0);
    expect(compareDecimal('123', '123')).toBe(0);
    expect(compareDecimal('18446744073709551615', '18446744073709551614')).toBeGreaterThan(0);
    expect(isDecimal('0')).toBe(true);
    expect(isDecimal('00')).toBe(false);
    expect(isDecimal('')).toBe(false);
    expect(isDecimal('-1')).toBe(false);
  });
});
