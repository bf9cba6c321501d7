// `qgrey stats`'s pure half, what greylisting did from the log: the collector (stats/collector.ts)
// over its columnar rows (stats/table.ts), the report it gives (stats/result.ts), and the shape
// of that report (stats/schema.ts). This file is only the public surface.

export { StatsCollector } from './stats/collector.js';
export { percentile, topN } from './stats/result.js';
export type * from './stats/schema.js';
