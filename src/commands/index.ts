// Every subcommand, in the order --help lists them. One thin file each; the work is in
// src/actions/, imported lazily by the handler.
import type { AnyCommand } from './define.js';
import { logs } from './logs.js';
import { clean } from './clean.js';
import { evict } from './evict.js';
import { traps } from './traps.js';
import { importCommand } from './import.js';
import { rebuild } from './rebuild.js';
import { list } from './list.js';
import { check } from './check.js';
import { whitelist } from './whitelist.js';
import { blacklist } from './blacklist.js';
import { addlist } from './addlist.js';
import { tcprules } from './tcprules.js';
import { stats } from './stats.js';
import { sync } from './sync.js';

export const commands: AnyCommand[] = [logs, rebuild, clean, evict, traps, list, check, whitelist, blacklist, addlist, tcprules, stats, importCommand, sync];
