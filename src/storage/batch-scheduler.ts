/**
 * The batching both group commit and read coalescing are made of: entries that arrive while
 * `maxConcurrentBatches` batches are in flight wait, and leave together (up to `maxBatchSize`)
 * as soon as one finishes; an entry that finds a free slot leaves at once, alone — nothing waits
 * on a timer. `runBatch` settles every entry of its batch itself and must not reject.
 */
export class BatchScheduler<E> {
  private readonly waiting: E[] = [];
  private batchesInFlight = 0;

  constructor(
    private readonly runBatch: (batch: E[]) => Promise<void>,
    private readonly options: { maxBatchSize: number; maxConcurrentBatches: number },
  ) {}

  add(entry: E): void {
    this.waiting.push(entry);
    this.startBatches();
  }

  /**
   * When nothing is in flight or waiting, starts `run` as a batch of its own and returns true:
   * entries added meanwhile wait for it as for any batch. Otherwise false, and nothing runs.
   */
  runAloneIfIdle(run: () => Promise<void>): boolean {
    if (this.batchesInFlight > 0 || this.waiting.length > 0) return false;
    this.launch(run);
    return true;
  }

  private startBatches(): void {
    while (this.waiting.length > 0 && this.batchesInFlight < this.options.maxConcurrentBatches) {
      const batch = this.waiting.splice(0, this.options.maxBatchSize);
      this.launch(() => this.runBatch(batch));
    }
  }

  /** Runs `run` in a batch's slot, and lets the waiting entries go when it ends. */
  private launch(run: () => Promise<void>): void {
    this.batchesInFlight += 1;
    void run().finally(() => {
      this.batchesInFlight -= 1;
      this.startBatches();
    });
  }
}
