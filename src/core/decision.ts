// The wrapper's decisions, once: the words of the log line (jgreylist's, which stats labels
// use as they are), the JSON name, and the column of the per-day stats table that counts it.
// Pure; on the per-connection path (no imports).

export const DECISIONS = [
  { text: 'GREY first time', name: 'firstTime', column: 'first' },
  { text: 'GREY too soon', name: 'tooSoon', column: 'too soon' },
  { text: 'OK known', name: 'known', column: 'known' },
  { text: 'OK whitelisted', name: 'whitelisted', column: 'white' },
  { text: 'OK relayclient', name: 'relayclient', column: 'other' },
  { text: 'DENY blacklisted', name: 'blacklisted', column: 'denied' },
  { text: 'DENY no reverse DNS', name: 'noReverseDns', column: 'denied' },
  { text: 'HANGUP too many RCPT commands', name: 'tooManyRcpt', column: 'other' },
  { text: 'HANGUP client closed', name: 'clientClosed', column: 'other' },
  { text: 'FAIL open', name: 'failOpen', column: 'other' },
  { text: 'FAIL closed', name: 'failClosed', column: 'other' },
] as const;

type Row = (typeof DECISIONS)[number];
/** A decision as the log line says it (`GREY first time`). */
export type Decision = Row['text'];
/** A decision's JSON name (`firstTime`). */
export type DecisionName = Row['name'];
/** The per-day column a decision is counted in. */
export type DecisionColumn = Row['column'];
export type DecisionCounts = Record<DecisionName, number>;

export const DECISION_TEXTS: readonly Decision[] = DECISIONS.map((d) => d.text);
export const DECISION_NAMES: readonly DecisionName[] = DECISIONS.map((d) => d.name);
export const DECISION_COLUMNS: readonly DecisionColumn[] = [...new Set(DECISIONS.map((d) => d.column))];

const BY_TEXT = new Map<string, Row>(DECISIONS.map((d) => [d.text, d]));
const BY_NAME = new Map<string, Row>(DECISIONS.map((d) => [d.name, d]));

export function isDecision(text: string): text is Decision {
  return BY_TEXT.has(text);
}

export function decisionName(d: Decision): DecisionName {
  return BY_TEXT.get(d)!.name;
}

export function decisionText(n: DecisionName): Decision {
  return BY_NAME.get(n)!.text;
}

/** Every count 0, in the table's order (the JSON shape). */
export function zeroCounts(): DecisionCounts {
  const c = {} as DecisionCounts;
  for (const d of DECISIONS) c[d.name] = 0;
  return c;
}

/** The sum of the decisions counted in one per-day column. */
export function columnCount(c: DecisionCounts, column: DecisionColumn): number {
  let n = 0;
  for (const d of DECISIONS) if (d.column === column) n += c[d.name];
  return n;
}
