// What the wrapper decides for one connection, as a pure function of what it was given.
// Shared by qgreylist (which then acts) and `qgrey check` (which only reports).

import type { Decision } from './decision.js';

export interface PolicyInput {
  /** seconds since the epoch */
  readonly now: number;
  /** JGREYLIST from the environment: undefined when unset */
  readonly jgreylist: string | undefined;
  /** RELAYCLIENT is set (any value) */
  readonly relayclient: boolean;
  /** JGREYLIST_NOREV text (non-empty enables the check) */
  readonly norev: string;
  /** TCPREMOTEHOST is set and non-empty */
  readonly hasReverse: boolean;
  /** the matching whitelist entry, if any */
  readonly white: { readonly label: string } | null;
  /** the matching blacklist entry, if any, with the message for the client */
  readonly black: { readonly label: string; readonly message: string } | null;
  /** the greylist entry: first seen (mtime) in seconds, or null when there is none */
  readonly firstSeen: number | null;
  /** JGREYLIST_HOLDTIME */
  readonly holdtime: number;
}

export type Outcome =
  | { readonly action: 'pass'; readonly decision: Decision; readonly why: string; readonly touch: boolean }
  | { readonly action: 'grey'; readonly decision: Decision; readonly why: string; readonly create: boolean }
  | { readonly action: 'deny'; readonly decision: Decision; readonly why: string; readonly message: string };

/**
 * Order of checks: JGREYLIST from tcprules (empty: whitelisted; text: denied) first, as
 * jgreylist does; then RELAYCLIENT; then our lists (blacklist before whitelist); then
 * JGREYLIST_NOREV; then the greylist entry.
 */
export function decide(p: PolicyInput): Outcome {
  if (p.jgreylist !== undefined) {
    if (p.jgreylist === '') return { action: 'pass', decision: 'OK whitelisted', why: 'JGREYLIST is set and empty', touch: false };
    return { action: 'deny', decision: 'DENY blacklisted', why: 'JGREYLIST is set', message: p.jgreylist };
  }
  if (p.relayclient) return { action: 'pass', decision: 'OK relayclient', why: 'RELAYCLIENT is set', touch: false };
  if (p.black) return { action: 'deny', decision: 'DENY blacklisted', why: `blacklist entry ${p.black.label}`, message: p.black.message };
  if (p.white) return { action: 'pass', decision: 'OK whitelisted', why: `whitelist entry ${p.white.label}`, touch: false };
  if (p.norev !== '' && !p.hasReverse) return { action: 'deny', decision: 'DENY no reverse DNS', why: 'JGREYLIST_NOREV is set and there is no TCPREMOTEHOST', message: p.norev };
  if (p.firstSeen === null) return { action: 'grey', decision: 'GREY first time', why: 'no entry', create: true };
  if (p.firstSeen + p.holdtime > p.now) {
    const left = Math.ceil(p.firstSeen + p.holdtime - p.now);
    return { action: 'grey', decision: 'GREY too soon', why: `first seen ${Math.floor(p.now - p.firstSeen)}s ago, ${left}s of the hold time left`, create: false };
  }
  return { action: 'pass', decision: 'OK known', why: `first seen ${Math.floor(p.now - p.firstSeen)}s ago, past the hold time`, touch: true };
}

/** jgreylist's text substitution: the first `%` becomes the address, only the first. */
export function substitute(text: string, ip: string): string {
  const i = text.indexOf('%');
  return i === -1 ? text : text.slice(0, i) + ip + text.slice(i + 1);
}
