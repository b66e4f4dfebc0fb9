/**
 * A generated admin password is stored before it is printed; one stored but never shown (the
 * start that generated it failed first) is replaced at the next start, which says so; one shown is
 * kept. On PostgreSQL another process starting at the same time keeps its grace period.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../../storage/index.js';
import { openTestDb, type TestDb } from '../../test-support/db.js';
import { markAdminPasswordShown, resolveAdminPassword, verifyPassword } from './password.js';

let t: TestDb | undefined;
afterEach(async () => {
  await t?.drop();
  t = undefined;
});

describe('the generated admin password', () => {
  it('is replaced, with a notice, only when it was never shown', async () => {
    t = await openTestDb();
    await migrate(t.db);
    const first = await resolveAdminPassword(t.db, undefined, { exclusive: true });
    expect(first.generated).toBeDefined();
    expect(first.replacedUnshown).toBeUndefined();

    // The start that generated it failed before printing it: the next one generates another and says so.
    const second = await resolveAdminPassword(t.db, undefined, { exclusive: true });
    expect(second.generated).toBeDefined();
    expect(second.generated).not.toBe(first.generated);
    expect(second.replacedUnshown).toBe(true);
    expect(await verifyPassword(second.generated!, second.hash)).toBe(true);

    // Printed this time: it is kept from now on.
    await markAdminPasswordShown(t.db, second.hash);
    const third = await resolveAdminPassword(t.db, undefined, { exclusive: true });
    expect(third).toMatchObject({ generated: undefined, hash: second.hash });
    expect(third.replacedUnshown).toBeUndefined();
  });

  it('leaves a fresh unshown password to the process that generated it when others may be starting', async () => {
    t = await openTestDb();
    await migrate(t.db);
    const first = await resolveAdminPassword(t.db, undefined, { exclusive: false });
    const other = await resolveAdminPassword(t.db, undefined, { exclusive: false });
    expect(other.generated).toBeUndefined();
    expect(other.hash).toBe(first.hash);
    expect(other.pendingElsewhere).toBeInstanceOf(Date);
  });
});
