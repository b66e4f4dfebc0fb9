import { describe, expect, it } from 'vitest';
import { Ticker } from './ticker.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('Ticker', () => {
  it('never runs two ticks at once, and a wake during a tick runs exactly one more', async () => {
    let running = 0;
    let maxRunning = 0;
    let ticks = 0;
    const gates: Array<ReturnType<typeof deferred>> = [];
    const ticker = new Ticker(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        ticks++;
        const gate = deferred();
        gates.push(gate);
        await gate.promise;
        running--;
      },
      60_000,
      (err) => {
        throw err;
      },
    );
    ticker.wake();
    ticker.wake();
    ticker.wake();
    expect(ticks).toBe(1);
    gates[0]!.resolve();
    await new Promise((r) => setTimeout(r, 10));
    expect(ticks).toBe(2); // the three wakes during the first tick coalesced into one
    gates[1]!.resolve();
    await new Promise((r) => setTimeout(r, 10));
    expect(ticks).toBe(2);
    expect(maxRunning).toBe(1);
    await ticker.stop();
  });

  it('reports a failing tick and keeps ticking; stop waits for the tick under way and ends the loop', async () => {
    const errors: unknown[] = [];
    let ticks = 0;
    const gate = deferred();
    const ticker = new Ticker(
      async () => {
        ticks++;
        if (ticks === 1) throw new Error('boom');
        await gate.promise;
      },
      5,
      (err) => errors.push(err),
    );
    ticker.start();
    const deadline = Date.now() + 10_000;
    while (ticks < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(errors).toHaveLength(1);
    let stopped = false;
    const stopping = ticker.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;
    const after = ticks;
    ticker.wake();
    await new Promise((r) => setTimeout(r, 30));
    expect(ticks).toBe(after);
    expect(ticker.isStopped).toBe(true);
  });
});
