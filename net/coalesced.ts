/**
 * A coalesced background job: at most one round runs at a time, and a kick
 * while one runs queues exactly one more round (however many kicks came), so
 * a burst of changes costs at most two rounds.
 */
export class Coalesced {
  private running: Promise<void> | undefined;
  private again = false;

  /**
   * `round` does the work (and handles its own errors); `mayRepeat` is asked
   * before a queued round runs (e.g. "not stopped").
   */
  constructor(
    private readonly round: () => Promise<void>,
    private readonly mayRepeat: () => boolean = () => true,
  ) {}

  /** Starts a round, or queues one more after the running one. */
  kick(): void {
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.round();
      } while (this.again && this.mayRepeat());
      this.running = undefined;
    })();
  }

  /** Resolves when no round runs or is queued. */
  async settled(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }
}
