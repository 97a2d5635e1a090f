// The conversion thread's body slots (body-slots.ts): a slot is reused once given back, sized to a power of
// two, and the pool never holds more than its bound (a body it cannot take goes the transferred way).
import { describe, expect, it } from 'vitest';
import { BodySlots } from '../src/otlp/body-slots.js';

describe('body slots', () => {
  it('gives a slot of the smallest power-of-two capacity (64 KiB at least) and reuses it once released', () => {
    const slots = new BodySlots(1024 * 1024, 512 * 1024);
    const a = slots.acquire(10);
    expect(a?.sab.byteLength).toBe(64 * 1024);
    const b = slots.acquire(64 * 1024 + 1);
    expect(b?.sab.byteLength).toBe(128 * 1024);
    expect(b?.id).not.toBe(a?.id);
    // in use: a second body of a's size gets a new slot
    const c = slots.acquire(100);
    expect(c?.id).not.toBe(a?.id);
    slots.release(a!);
    expect(slots.acquire(5000)?.id).toBe(a?.id);
    expect(slots.bytes).toBe(256 * 1024);
  });

  it('refuses a body past the largest slot, and new slots past the pool bound (released ones still serve)', () => {
    const slots = new BodySlots(256 * 1024, 128 * 1024);
    expect(slots.acquire(128 * 1024 + 1)).toBeUndefined();
    const a = slots.acquire(128 * 1024);
    const b = slots.acquire(128 * 1024);
    expect(a && b).toBeTruthy();
    expect(slots.acquire(1)).toBeUndefined(); // 256 KiB made: no room for another 64 KiB
    slots.release(b!);
    expect(slots.acquire(100 * 1024)?.id).toBe(b?.id);
    expect(slots.bytes).toBe(256 * 1024);
  });

  it("a slot's view is the shared memory itself (what the thread reads is what was copied in)", () => {
    const slots = new BodySlots();
    const s = slots.acquire(4)!;
    s.view.write('body');
    expect(Buffer.from(s.sab, 0, 4).toString()).toBe('body');
  });
});
