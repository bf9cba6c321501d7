// Run a test file again with the compiled client (dist/client/qgreylist, src/client/qgreylist.c)
// as the run file's word in place of bin/qgreylist. No static import of the helpers here: they
// read QGREY_TEST_CLIENT when first loaded, so this must be set before the test file loads them.
import { existsSync } from 'node:fs';

export async function withCClient(load: () => Promise<unknown>, env: Record<string, string> = {}): Promise<void> {
  if (!existsSync(new URL('../../../dist/client/qgreylist', import.meta.url))) {
    throw new Error('dist/client/qgreylist is not built: npm run build needs cc (test/need-tools.sh)');
  }
  Object.assign(process.env, env, { QGREY_TEST_CLIENT: 'c' });
  await load();
  const { QGREYLIST } = await import('../helpers/util.js');
  if (!QGREYLIST.endsWith('dist/client/qgreylist')) throw new Error(`the tests ran ${QGREYLIST}, not the compiled client`);
}
