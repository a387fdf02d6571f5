// Sliding-window event counts per key (client address), in this process. Each key keeps
// at most `limit` timestamps, so memory stays bounded by what the limits allow; idle
// keys are swept as the map grows. The MX's per-client counts use it in the cluster
// primary (client-counters.ts), so one window serves every worker.
export class RateWindow {
  readonly #hits = new Map<string, number[]>();
  #lastSweep = 0;

  constructor(private readonly windowMs: number) {}

  /** Events of `key` within the window ending now. */
  count(key: string, now = Date.now()): number {
    const list = this.#hits.get(key);
    if (!list) return 0;
    this.#prune(list, now);
    if (!list.length) this.#hits.delete(key);
    return list.length;
  }

  /** Records an event if fewer than `limit` are in the window; false when the limit is reached. */
  take(key: string, limit: number, now = Date.now()): boolean {
    if (this.count(key, now) >= limit) return false;
    this.add(key, limit, now);
    return true;
  }

  /** Records an event (keeping at most `limit` timestamps for the key). */
  add(key: string, limit: number, now = Date.now()): void {
    let list = this.#hits.get(key);
    if (!list) {
      list = [];
      this.#hits.set(key, list);
      this.#maybeSweep(now);
    }
    list.push(now);
    if (list.length > limit) list.splice(0, list.length - limit);
  }

  #prune(list: number[], now: number): void {
    const from = now - this.windowMs;
    let i = 0;
    while (i < list.length && list[i]! <= from) i++;
    if (i) list.splice(0, i);
  }

  #maybeSweep(now: number): void {
    if (this.#hits.size < 10_000 || now - this.#lastSweep < this.windowMs / 10) return;
    this.#lastSweep = now;
    for (const [k, list] of this.#hits) {
      this.#prune(list, now);
      if (!list.length) this.#hits.delete(k);
    }
  }
}
