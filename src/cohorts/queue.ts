/**
 * A FIFO queue per key (a cohort): work for one cohort runs one at a time, in arrival order,
 * within this process. The cohort's row lock does the same across processes; this queue keeps
 * arrival order, which a lock alone does not promise.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
