// Real-shaped log lines for `qgrey whitelist outgoing`'s tests (outgoing.test.ts, replies.test.ts):
// sagredo's qmail-smtpd accepted qlog lines and multilog-stamped files of them.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { label } from './rebuild-gen.js';

export interface Q {
  kind?: 'qlogenvelope' | 'qlogreceived';
  from: string;
  to: string;
  relay?: boolean;
  auth?: string;
  ip?: string;
  qp?: string;
  pid?: number;
}
/** A `result=accepted code=250` qlog line of sagredo's qmail-smtpd. */
export function qlog(o: Q): string {
  const kind = o.kind ?? 'qlogenvelope';
  const env = kind === 'qlogenvelope';
  return (
    `${kind}: result=accepted code=250 reason=${env ? 'rcptto' : 'queueaccept'} detail=${env ? (o.relay || o.auth ? 'chkuserrelay' : 'chkuser') : ''} helo=client.example ` +
    `mailfrom=${o.from} rcptto=${o.to} relay=${o.relay || o.auth ? 'yes' : 'no'} rcpthosts=${env ? (o.relay || o.auth ? 'no' : 'yes') : ''} size=${env ? '' : '1234'} ` +
    `authuser=${o.auth ?? ''} authtype=${o.auth ? 'plain' : ''} encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=${o.ip ?? '203.0.113.99'} ` +
    `remoteport=41020 remotehost= qp=${env ? '' : (o.qp ?? '5447')} pid=${o.pid ?? 5445}`
  );
}

export function write(path: string, lines: readonly (readonly [number, string])[], append = false): void {
  const text = lines.map(([t, l]) => `${label(t, 500)} ${l}\n`).join('');
  if (append) appendFileSync(path, text);
  else writeFileSync(path, text);
}

export function logs(root: string): { smtpd: string; send: string } {
  const smtpd = join(root, 'smtpd');
  const send = join(root, 'send');
  mkdirSync(smtpd, { recursive: true });
  mkdirSync(send, { recursive: true });
  return { smtpd, send };
}
