// qgreyd stopped mid-load (qgreyd-stop.test.ts) with the compiled client: every session still
// gets its answer through the fallback, and no process is left.
import { withCClient } from './c-client.js';

await withCClient(() => import('./qgreyd-stop.test.js'));
