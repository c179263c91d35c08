/**
 * Frames waiting to be sent, bounded by count and bytes. When full, the oldest frames go first;
 * drops are counted (reported in debug output and in the next heartbeat).
 */
export class BoundedQueue {
  #items: string[] = [];
  #head = 0;
  #bytes = 0;
  #droppedSinceReport = 0;
  #droppedTotal = 0;
  readonly #maxLength: number;
  readonly #maxBytes: number;

  constructor(maxLength: number, maxBytes: number) {
    this.#maxLength = maxLength;
    this.#maxBytes = maxBytes;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Frames dropped since start. */
  get droppedTotal(): number {
    return this.#droppedTotal;
  }

  /** Appends a frame, dropping the oldest to make room; returns how many were dropped (the frame itself when it alone is too big). */
  push(text: string): number {
    const size = Buffer.byteLength(text);
    if (size > this.#maxBytes) {
      this.#countDrops(1);
      return 1;
    }
    let dropped = 0;
    while (this.length > 0 && (this.length >= this.#maxLength || this.#bytes + size > this.#maxBytes)) {
      this.shift();
      dropped++;
    }
    this.#items.push(text);
    this.#bytes += size;
    this.#countDrops(dropped);
    return dropped;
  }

  /** Puts frames back at the front (a send that failed), in the given order, within the bounds. */
  unshiftAll(texts: readonly string[]): void {
    if (texts.length === 0) return;
    const rest = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
    // Re-push everything so the oldest are the ones dropped if the bounds are hit.
    for (const t of texts) this.push(t);
    for (const t of rest) this.push(t);
  }

  shift(): string | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const text = this.#items[this.#head] as string;
    this.#items[this.#head] = '';
    this.#head++;
    this.#bytes -= Buffer.byteLength(text);
    // Compact now and then rather than shifting the array on every call.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return text;
  }

  /** Counts frames dropped before they reached the queue. */
  countDropped(n: number): void {
    this.#countDrops(n);
  }

  /** Returns the drops since the previous call and resets that count. */
  takeDropped(): number {
    const n = this.#droppedSinceReport;
    this.#droppedSinceReport = 0;
    return n;
  }

  /** Empties the queue (frames discarded are not counted as drops). */
  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  #countDrops(n: number): void {
    this.#droppedSinceReport += n;
    this.#droppedTotal += n;
  }
}
