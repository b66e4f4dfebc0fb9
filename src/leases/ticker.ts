/**
 * A background loop's heartbeat: runs `tick` every `periodMs` and whenever woken, never two at once.
 * A wake during a tick is not lost: it runs one more tick right after (however many wakes came),
 * so work that arrives mid-tick is looked at without waiting for the next period.
 */
export class Ticker {
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly tick: () => Promise<void>,
    private readonly periodMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Ticks now, then every period (the timer does not keep the process alive). */
  start(): void {
    this.timer = setInterval(() => this.wake(), this.periodMs);
    this.timer.unref();
    this.wake();
  }

  /** Ticks now, or right after the tick under way. */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch(this.onError)
      .finally(() => {
        this.ticking = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** No more ticks; resolves once the tick under way (if any) has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
  }
}
