// A small seeded random source for tests that generate input (xorshift32): the same seed gives
// the same input on every run and machine, so a failure can be replayed.

/** Numbers below n (whole), from `seed` (not 0). */
export function seeded(seed: number): (n: number) => number {
  let x = seed | 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}
