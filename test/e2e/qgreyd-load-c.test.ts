// The load test through real tcpserver (qgreyd-load.test.ts: hundreds of sessions, 50 at a
// time, qgreyd up) with the compiled client as the run file's word.
import { withCClient } from './c-client.js';

await withCClient(() => import('./qgreyd-load.test.js'));
