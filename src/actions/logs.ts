// `qgrey logs`: print log lines with readable times, merged and filtered.

import { openLogs, type LogRecord } from '../logs/read.js';
import { Zone } from '../core/zone.js';
import { zoneOption, cidrOptions } from './options.js';
import { parseWhen } from '../core/when.js';
import { cidrContains } from '../core/ip.js';
import { eventIp, eventToJson, type EventKind } from '../core/logline.js';
import { formatNanos } from '../core/tai64n.js';
import { formatCivil } from '../core/zone.js';
import { LineWriter } from '../render/writer.js';
import { warn } from '../render/diag.js';
import type { Clock } from '../core/clock.js';

/** What `qgrey logs` is given (built by src/commands/logs.ts). */
export interface LogsArgs {
  paths: string[];
  since?: string;
  until?: string;
  utc: boolean;
  tz?: string;
  ip: string[];
  kind: EventKind[];
  json: boolean;
}

function isoUtc(r: LogRecord): string | null {
  if (!r.stamp) return null;
  return formatCivil(r.stamp.sec).replace(' ', 'T') + '.' + formatNanos(r.stamp.nsec) + 'Z';
}

export async function run(argv: LogsArgs, clock: Clock): Promise<number> {
  const inZone = zoneOption(argv.tz, '--tz');
  const outZone = argv.utc ? new Zone('UTC') : new Zone();
  const now = clock();
  const since = argv.since !== undefined ? parseWhen(argv.since, now, inZone, '--since') : null;
  const until = argv.until !== undefined ? parseWhen(argv.until, now, inZone, '--until') : null;
  const nets = cidrOptions(argv.ip, '--ip');
  const kinds = argv.kind.length ? new Set(argv.kind) : null;
  const { records, stats } = openLogs(argv.paths, { zone: inZone, since, until, warn });
  const out = new LineWriter(process.stdout, !argv.json && process.stdout.isTTY === true);
  for await (const r of records) {
    if (kinds || nets.length) {
      const e = r.event();
      if (kinds && !kinds.has(e.kind)) continue;
      if (nets.length) {
        const ip = eventIp(e);
        if (!ip || !nets.some((n) => cidrContains(n, ip))) continue;
      }
    }
    if (argv.json) {
      await out.write(JSON.stringify({ time: isoUtc(r), file: r.source, line: r.lineno, ...eventToJson(r.event()) }), false);
      continue;
    }
    switch (r.prefix) {
      case 'tai64n':
        await out.write(outZone.formatStamp(r.stamp!) + r.line.slice(r.restStart));
        break;
      case 'local':
        await out.write(outZone.formatStamp(r.stamp!) + ' ' + r.line.slice(r.bodyStart));
        break;
      case 'none':
        await out.write(r.line);
        break;
    }
  }
  await out.end();
  const notes: string[] = [];
  if (stats.bad) notes.push(`${stats.bad} malformed lines skipped`);
  if (stats.partial) notes.push(`${stats.partial} unterminated last lines left for later`);
  if (stats.folds) notes.push(`${stats.folds} times in a DST fold read as the earlier instant`);
  if (stats.gaps) notes.push(`${stats.gaps} times in a DST gap`);
  if (notes.length) {
    if (stats.duplicates) notes.push(`${stats.duplicates} duplicate lines dropped`);
    process.stderr.write(`qgrey: logs: ${stats.lines} lines read; ${notes.join('; ')}\n`);
  }
  return 0;
}
