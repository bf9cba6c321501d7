// What qgrey-spp did, from its log lines (qgrey-spp(8)), for `qgrey stats`: RCPTs by decision,
// triplets deferred, passed and never retried, sender-pool matches, spamtrap hits. Pure: lines
// in, counts out.
//
//   qgrey-spp[PID]: IP: RCPT GREY new <FROM> -> <TO>[; NOTE]
//   qgrey-spp[PID]: IP: RCPT GREY too soon | RCPT OK passed | RCPT OK known | RCPT OK whitelisted
//                       | RCPT OK reply | RCPT DENIED blacklisted | RCPT TRAP ...
//
// A triplet is keyed as the plugin keys it (core/triplet.ts: the client's network, or the
// sender pool `spf:DOMAIN` a NOTE names, and the normalised addresses). It is "never retried"
// when no line of its key follows its `GREY new` in the logs read. A pool match is a triplet
// of a sender pool that passed from another network than the one it was deferred from: the
// retry that a per-network key would have deferred again.

import { parseIp } from './ip.js';
import { clientNet, normaliseRecipient, normaliseSender } from './triplet.js';

export interface RcptStats {
  /** RCPT lines by decision */
  readonly rcpts: {
    readonly deferred: number;
    readonly passed: number;
    readonly known: number;
    readonly whitelisted: number;
    readonly reply: number;
    readonly denied: number;
    readonly trap: number;
    readonly failed: number;
  };
  readonly triplets: {
    /** triplets deferred as new (a record started) */
    readonly deferred: number;
    /** triplets that passed (their first pass) */
    readonly passed: number;
    /** deferred as new, and no later RCPT of theirs in the logs */
    readonly neverRetried: number;
    /** of those, deferred within `recent` seconds of the last line read: may still be retried */
    readonly neverRetriedRecent: number;
    /** sender-pool triplets that passed from another network than the one they were deferred from */
    readonly poolMatches: number;
    /** RCPTs keyed by a sender pool */
    readonly pooledRcpts: number;
  };
  readonly traps: {
    /** RCPTs to a spamtrap */
    readonly hits: number;
    /** distinct clients that sent them */
    readonly clients: number;
  };
  /** triplets not followed once maxKeys were held (their never-retried and pool counts are missing) */
  readonly truncated: number;
}

const LINE = /^qgrey-spp(?:\[[0-9]+\])?: (\S+): (RCPT GREY new|RCPT GREY too soon|RCPT OK passed|RCPT OK known|RCPT OK whitelisted|RCPT OK reply|RCPT DENIED blacklisted|RCPT TRAP|FAIL open|FAIL closed)(?=$| |:)(.*)$/;
const REST = /^ <(.*?)> -> <(.*?)>(?:; (.*))?$/;
const POOL = /(?:^|; )sender pool (spf:[^;\s]+)/;

interface State {
  /** the network the record was deferred from */
  origin: string;
  retried: boolean;
  /** when it was deferred as new (Unix seconds; NaN for a line without a time) */
  at: number;
}

export class RcptCollector {
  private readonly rcpts = { deferred: 0, passed: 0, known: 0, whitelisted: 0, reply: 0, denied: 0, trap: 0, failed: 0 };
  private readonly trip = { deferred: 0, passed: 0, neverRetried: 0, poolMatches: 0, pooledRcpts: 0 };
  private readonly keys = new Map<string, State>();
  private readonly trapClients = new Set<string>();
  private truncated = 0;
  private seen = 0;
  /** the time of the last line counted */
  private last = NaN;

  /** `recent`: a triplet deferred this close to the end of the logs may still be retried (default 3600 s, as for keys) */
  constructor(private readonly opts: { readonly byIp: boolean; readonly maxKeys: number; readonly recent?: number }) {}

  /** Whether anything of qgrey-spp was read. */
  get any(): boolean {
    return this.seen > 0;
  }

  /** One log line's body (after its stamp) and its time (NaN: none). Not a qgrey-spp RCPT line: ignored, false. */
  add(body: string, time = NaN): boolean {
    if (!body.startsWith('qgrey-spp')) return false;
    const m = LINE.exec(body);
    if (!m) return false;
    this.seen++;
    if (!(time <= this.last)) this.last = time;
    const [, who, event, rest] = m as unknown as [string, string, string, string];
    const r = REST.exec(rest);
    const from = r?.[1];
    const to = r?.[2];
    const note = r?.[3];
    switch (event) {
      case 'RCPT OK whitelisted':
        this.rcpts.whitelisted++;
        return true;
      case 'RCPT OK reply':
        this.rcpts.reply++;
        return true;
      case 'RCPT DENIED blacklisted':
        this.rcpts.denied++;
        return true;
      case 'FAIL open':
      case 'FAIL closed':
        this.rcpts.failed++;
        return true;
      case 'RCPT TRAP':
        this.rcpts.trap++;
        if (this.trapClients.size < this.opts.maxKeys) this.trapClients.add(who);
        return true;
    }
    const ip = parseIp(who);
    if (ip === null || from === undefined || to === undefined) return true;
    const net = clientNet(ip, this.opts.byIp);
    const pool = note === undefined ? null : (POOL.exec(note)?.[1] ?? null);
    if (pool !== null) this.trip.pooledRcpts++;
    const key = `${pool ?? net}\0${normaliseSender(from)}\0${normaliseRecipient(to)}`;
    const st = this.keys.get(key);
    switch (event) {
      case 'RCPT GREY new':
        this.rcpts.deferred++;
        this.trip.deferred++;
        if (st !== undefined) {
          if (!st.retried) this.trip.neverRetried++;
          st.origin = net;
          st.retried = false;
          st.at = time;
        } else if (this.keys.size < this.opts.maxKeys) this.keys.set(key, { origin: net, retried: false, at: time });
        else this.truncated++;
        return true;
      case 'RCPT GREY too soon':
        this.rcpts.deferred++;
        if (st !== undefined) st.retried = true;
        return true;
      case 'RCPT OK passed':
        this.rcpts.passed++;
        this.trip.passed++;
        if (st !== undefined) {
          st.retried = true;
          if (pool !== null && st.origin !== net) this.trip.poolMatches++;
        }
        return true;
      case 'RCPT OK known':
        this.rcpts.known++;
        if (st !== undefined) st.retried = true;
        return true;
    }
    return true;
  }

  result(): RcptStats {
    let never = this.trip.neverRetried;
    let recent = 0;
    const since = this.last - (this.opts.recent ?? 3600);
    for (const st of this.keys.values()) {
      if (st.retried) continue;
      never++;
      if (st.at > since) recent++;
    }
    return {
      rcpts: { ...this.rcpts },
      triplets: { ...this.trip, neverRetried: never, neverRetriedRecent: recent },
      traps: { hits: this.rcpts.trap, clients: this.trapClients.size },
      truncated: this.truncated,
    };
  }
}
