// The time an action works from: its caller hands it a clock (the commands the wall clock,
// tests a fixed one), so no action reads the time itself.

/** seconds since the epoch, with a fraction */
export type Clock = () => number;

export const wallClock: Clock = () => Date.now() / 1000;

/** milliseconds since the epoch: the per-connection deciders' unit */
export type ClockMs = () => number;

export const wallClockMs: ClockMs = () => Date.now();
