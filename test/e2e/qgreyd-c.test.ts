// qgreyd's tests (qgreyd.test.ts) with the compiled client: the same replies acted on, the same
// fallbacks (no secret, nothing listening, a qgreyd that never answers, busy, refused), logged
// the same way.
import { withCClient } from './c-client.js';

await withCClient(() => import('./qgreyd.test.js'));
