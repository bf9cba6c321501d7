// The wrapper's load test (wrapper-load.test.ts) again, with qgreyd up: 500 sessions through
// the real tcpserver, 50 at a time, every answer right, the tree exact, qgreyd deciding each.
process.env.QGREY_TEST_QGREYD = '1';
await import('./wrapper-load.test.js');
