import type { Response } from 'express';

/**
 * Calls `callback` once, on the first of `events` that `res` emits: for counts of requests in
 * progress, which a request must leave exactly once however it ends (answered, or its
 * connection gone first).
 */
export function onFirstResponseEvent(res: Response, events: readonly ('prefinish' | 'finish' | 'close')[], callback: () => void): void {
  let called = false;
  const once = () => {
    if (!called) {
      called = true;
      callback();
    }
  };
  for (const event of events) res.on(event, once);
}
