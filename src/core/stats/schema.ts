// The shape of what `qgrey stats` reports (its --json document): the options, the rows and
// the result. Types only.

import type { Layout } from '../key.js';
import type { DecisionCounts } from '../decision.js';
import type { QlogEvent } from '../logline.js';
import type { Zone } from '../zone.js';

export type { DecisionCounts, DecisionName } from '../decision.js';

export type StatsBy = 'day' | 'hour' | 'net';

/** What stats needs from a qlog line. */
export type QlogFacts = Pick<QlogEvent, 'kind' | 'result' | 'code' | 'ip' | 'pid' | 'relay' | 'authuser'>;

export interface StatsOptions {
  /** the key layout of the greylist (default class C) */
  layout?: Layout;
  /** the rows of the table (default day) */
  by?: StatsBy;
  /** the zone of day and hour buckets */
  zone: Zone;
  /** entries in each top list (default 10) */
  top?: number;
  /** cap on every per-key and per-address map (default 1,000,000) */
  maxKeys?: number;
  /** a key that never came back and was first greylisted this close to the end of the logs may still come back (default 3600 s) */
  recent?: number;
}

/** The decision a message's connection had, for "accepted messages after ..." */
export type ConnectionKind = 'known' | 'whitelisted' | 'relayclient' | 'failOpen' | 'other' | 'none';

export interface Percent {
  count: number;
  /** share of the greylisted keys, 0..100, one decimal */
  pct: number;
}

export interface DelayStats {
  /** keys with a delay */
  count: number;
  /** seconds; null when no key delivered */
  median: number | null;
  p90: number | null;
  max: number | null;
}

export interface Row {
  /** `2026-11-20`, `2026-11-20T13:00`, a network label, or `(no time)` */
  label: string;
  /** first second of the bucket (Unix time), null for network rows and lines without time */
  start: number | null;
  decisions: DecisionCounts;
  /** denied = blacklisted + no reverse DNS */
  denied: number;
  /** accepted messages (qlogreceived) and recipients (qlogenvelope) */
  messages: number;
  recipients: number;
  /** qmail-smtpd `read failed` hang-ups and GREETDELAY disconnects */
  hangups: number;
  evictable: number;
  /** outcome of the keys first greylisted in this row */
  greylisted: number;
  delivered: number;
  backNotDelivered: number;
  neverBack: number;
}

export interface NetworkTop {
  /** class C or IPv6 /64 of the senders, as a CIDR */
  network: string;
  greylists: number;
  addresses: number;
  neverRetried: number;
  delivered: number;
}

export interface SenderTop {
  address: string;
  network: string;
  greylists: number;
  retried: boolean;
  delivered: boolean;
}

export interface StatsResult {
  layout: Layout;
  by: StatsBy;
  zone: string;
  /** time of the first and last event with a time, or null */
  from: number | null;
  to: number | null;
  events: number;
  /** wrapper decision lines */
  decisions: DecisionCounts & { total: number; denied: number };
  programs: { jgreylist: number; greylist: number; qgreylist: number };
  /** decision lines whose address is not a valid IPv4/IPv6 address */
  badAddresses: number;
  greylisted: {
    keys: number;
    delivered: Percent;
    backNotDelivered: Percent;
    neverBack: Percent;
    /** never came back, first greylisted within `recent` seconds of the end of the logs */
    neverBackRecent: number;
    delay: DelayStats;
    addresses: number;
    addressesNeverRetried: number;
  };
  clients: {
    /** qmail-smtpd `read failed` lines, all wordings */
    hangups: number;
    /** of which the null-session pattern (no HELO, no sender, no recipient): evictable */
    nullSessionHangups: number;
    greetdelayDisconnects: number;
    pregreet: number;
    /** evictable lines (GREETDELAY disconnects + null-session hang-ups) */
    evictableEvents: number;
    /** distinct addresses with an evictable line */
    evictableClients: number;
    /** of which were greylisted too */
    evictableGreylisted: number;
  };
  accepted: {
    messages: number;
    recipients: number;
    /** accepted messages by the wrapper decision of their connection */
    messagesAfter: Record<ConnectionKind, number>;
    /** accepted messages of relay or AUTH clients (not counted as a key's delivery) */
    relayOrAuth: number;
  };
  top: {
    networks: NetworkTop[];
    senders: SenderTop[];
    neverRetried: NetworkTop[];
  };
  /** one row per day (per hour with by='hour'), in time order; `(no time)` last */
  rows: Row[];
  /** with by='net': one row per key, most decisions first; otherwise empty */
  nets: Row[];
  /** what did not fit in the maps (0 when all was followed) */
  truncated: { keys: number; addresses: number; nets: number; evictable: number };
}
