// Exponential backoff with full jitter, as the Python and C++ clients.

/** Options of a Backoff; every field has the clients' default. */
export interface BackoffOptions {
  /** Ceiling of the first delay (100 ms). */
  initialMs?: number;
  /** Largest ceiling (5000 ms). */
  maxMs?: number;
  /** Growth of the ceiling per attempt (2). */
  multiplier?: number;
  /** Delays handed out before exhausted() (20; 0: no limit). */
  maxAttempts?: number;
  /** Returns a number in [0, 1); for tests. */
  random?: () => number;
}

/**
 * Backoff: the n-th delay (n = 0, 1, ...) is uniform in
 * [0, min(maxMs, initialMs * multiplier^n)] milliseconds.
 */
export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  readonly maxAttempts: number;
  /** Delays handed out since the last reset(). */
  attempts = 0;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 100;
    this.maxMs = options.maxMs ?? 5000;
    this.multiplier = options.multiplier ?? 2;
    this.maxAttempts = options.maxAttempts ?? 20;
    this.random = options.random ?? Math.random;
    if (!(this.initialMs >= 0 && this.maxMs >= 0 && this.multiplier >= 1 && this.maxAttempts >= 0)) {
      throw new RangeError("Backoff: initialMs, maxMs, maxAttempts must be >= 0 and multiplier >= 1");
    }
  }

  /** Upper bound of the n-th delay. */
  ceiling(n: number): number {
    let ceiling = this.initialMs;
    for (let i = 0; i < n && ceiling < this.maxMs; i++) ceiling *= this.multiplier;
    return Math.min(ceiling, this.maxMs);
  }

  /** The next delay in milliseconds; counts one attempt. */
  nextDelayMs(): number {
    const ceiling = this.ceiling(this.attempts);
    this.attempts++;
    return Math.min(Math.max(this.random(), 0), 1) * ceiling;
  }

  exhausted(): boolean {
    return this.maxAttempts > 0 && this.attempts >= this.maxAttempts;
  }

  reset(): void {
    this.attempts = 0;
  }
}
