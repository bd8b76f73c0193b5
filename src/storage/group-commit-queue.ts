import { BatchScheduler } from './batch-scheduler.ts';

/** What happened to one item of a group: its result, or the error that is its alone. */
export type ItemOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface GroupCommitOptions {
  /** Most items written by one transaction. */
  maxGroupSize: number;
  /** Groups in flight at once (each holds one pooled connection). */
  maxConcurrentGroups: number;
  /**
   * Whether a group's failure may be the fault of one of its items, so that retrying each alone
   * makes sense. When it says no (the database is unreachable, say), every item of the group
   * gets that error at once instead of waiting its turn to fail again.
   */
  worthRetryingAlone?: (error: unknown) => boolean;
}

interface Waiting<T, R> {
  item: T;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit, as databases do it for their log: items that arrive while a group is being
 * written wait and go together in the next group, so a burst costs a few transactions instead of
 * one each, and a lone item is written at once — nothing waits on a timer.
 *
 * `commitGroup` writes a whole group in one transaction and returns one outcome per item, in
 * order (an item can fail on its own merits, e.g. a bootstrap token already used, while the
 * others commit). When it throws, the transaction rolled back as a whole; each item of that group
 * is then retried alone, so that one bad item cannot fail its neighbours and each caller gets its
 * own error — unless `worthRetryingAlone` says the failure was not an item's.
 */
export class GroupCommitQueue<T, R> {
  private readonly scheduler: BatchScheduler<Waiting<T, R>>;

  constructor(
    private readonly commitGroup: (items: T[]) => Promise<ItemOutcome<R>[]>,
    private readonly options: GroupCommitOptions,
  ) {
    this.scheduler = new BatchScheduler((group) => this.write(group), {
      maxBatchSize: options.maxGroupSize,
      maxConcurrentBatches: options.maxConcurrentGroups,
    });
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => this.scheduler.add({ item, resolve, reject }));
  }

  /**
   * When no group is in flight or waiting, runs `write` (a transaction the caller writes itself)
   * in a group's place: items submitted meanwhile wait for it as for a group. Returns whether it ran.
   */
  writeAloneIfIdle(write: () => Promise<void>): boolean {
    return this.scheduler.runAloneIfIdle(write);
  }

  private async write(group: Waiting<T, R>[]): Promise<void> {
    let outcomes: ItemOutcome<R>[];
    try {
      outcomes = await this.commitGroup(group.map((entry) => entry.item));
    } catch (error) {
      if (group.length === 1 || this.options.worthRetryingAlone?.(error) === false) {
        for (const entry of group) entry.reject(error);
        return;
      }
      // One at a time: this group's slot is the only connection it may take.
      for (const entry of group) await this.write([entry]);
      return;
    }
    group.forEach((entry, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined) entry.reject(new Error('the group commit returned no outcome for an item'));
      else if (outcome.ok) entry.resolve(outcome.value);
      else entry.reject(outcome.error);
    });
  }
}
