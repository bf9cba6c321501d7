// The wrapper's end-to-end tests (wrapper.test.ts) a third time: qgreyd up and the compiled
// client in place of bin/qgreylist. Every case must give the same answers, tree and log lines.
import { withCClient } from './c-client.js';

await withCClient(() => import('./wrapper.test.js'), { QGREY_TEST_QGREYD: '1' });
