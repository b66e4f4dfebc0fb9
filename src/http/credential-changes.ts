/**
 * Revocation reaching every process at once (docs/access-control.md#revocation). A trigger on
 * each credential table (migration 015) NOTIFYs `rivulet_credentials` with the table's name, whoever
 * changes it: this process, another one on the same database, the CLI. Every process LISTENs here
 * and drops what it cached of that kind; on PGlite (one process) the notification is delivered
 * in-process.
 *
 * The caches stay the fallback: while the notification connection is down (and for the moment
 * before it is back) a cached entry still expires after its TTL (2 s for REST keys), and when it
 * comes back every cache is dropped, since notifications sent in between are lost.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Db, Subscription } from '../storage/index.js';

export const CREDENTIALS_CHANNEL = 'rivulet_credentials';

/** The table that changed, or undefined for "anything may have changed" (notifications were lost). */
export type CredentialChange = (table: string | undefined) => void;

export class CredentialChanges {
  private readonly handlers = new Set<CredentialChange>();
  private subscription: Subscription | undefined;
  private wasConnected = false;
  /** Whether notifications arrive now; false leaves the caches' TTL as the only bound. */
  connected = false;

  private constructor(private readonly log: FastifyBaseLogger | undefined) {}

  static async watch(db: Db, log?: FastifyBaseLogger): Promise<CredentialChanges> {
    const changes = new CredentialChanges(log);
    if (db.listen) {
      changes.subscription = await db.listen(CREDENTIALS_CHANNEL, {
        onNotify: (table) => changes.emit(table || undefined),
        onConnectionChange: (up) => changes.connectionChanged(up),
      });
    }
    return changes;
  }

  on(handler: CredentialChange): void {
    this.handlers.add(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await this.subscription?.close();
  }

  private connectionChanged(up: boolean): void {
    this.connected = up;
    if (up) {
      if (this.wasConnected) this.log?.info('credential notifications are back; cached credentials dropped');
      this.wasConnected = true;
      this.emit(undefined);
    } else {
      this.log?.warn('credential notifications lost: until they are back, a revocation by another process takes effect when cached keys expire (2 s)');
    }
  }

  private emit(table: string | undefined): void {
    for (const handler of this.handlers) handler(table);
  }
}
