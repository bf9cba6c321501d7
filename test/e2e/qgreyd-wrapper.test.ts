// The wrapper's end-to-end tests (wrapper.test.ts) again, with qgreyd up: every case must give
// the same answers, tree and log lines as without it, qgreyd deciding what it holds.
process.env.QGREY_TEST_QGREYD = '1';
await import('./wrapper.test.js');
