/**
 * The README's first command, end to end: `rivulet serve` on the embedded store under a data dir,
 * a `/users/track` call with the seeded key creates a user, and after a restart the user is there.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from './cli-process.js';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'rivulet-start-'));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

const KEY = 'start-test-seeded-key-0123456789abcdef';
const env = () => ({ RIVULET_DATA_DIR: dataDir, RIVULET_API_KEY: KEY, DATABASE_URL: '' });
const post = (url: string, path: string, body: unknown) =>
  fetch(url + path, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('rivulet serve on the embedded store', { timeout: 180_000 }, () => {
  it('creates a user through /users/track that survives a restart, and shuts down gracefully', async () => {
    const first = await serve(env());
    const tracked = await post(first.url, '/users/track', { attributes: [{ external_id: 'persist-1', first_name: 'Pat' }] });
    expect(tracked.status).toBe(201);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await serve(env());
    const found = await post(second.url, '/users/export/ids', { external_ids: ['persist-1'] });
    expect(((await found.json()) as any).users).toMatchObject([{ external_id: 'persist-1', first_name: 'Pat' }]);

    // Graceful shutdown finishes a request already in flight: half a body is sent, then SIGTERM,
    // then the rest, and the request still completes with 201.
    const body = JSON.stringify({ events: [{ external_id: 'persist-1', name: 'late', time: '2024-01-01T00:00:00Z' }] });
    const port = Number(new URL(second.url).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let response = '';
    socket.on('data', (d) => (response += d));
    const closed = new Promise((r) => socket.on('close', r));
    socket.write(
      `POST /users/track HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n` +
        body.slice(0, 20),
    );
    await new Promise((r) => setTimeout(r, 200));
    second.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    socket.write(body.slice(20));
    await closed;
    expect(response).toMatch(/^HTTP\/1\.1 201/);
    expect(await second.exited).toBe(0);

    const third = await serve(env());
    const after = await post(third.url, '/users/export/ids', { external_ids: ['persist-1'] });
    expect(((await after.json()) as any).users[0].custom_events).toMatchObject([{ name: 'late', count: 1 }]);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  });
});
