import { afterEach } from 'vitest';

// vitest's worker answers the runner over an RPC with a fixed 60 s timeout. A file of synchronous tests (the fuzz
// sweeps, the redaction equivalence loops) never reaches the event loop's poll phase between tests, so under load
// the runner's reply to "onTaskUpdate" sits unread past 60 s and a green run exits 1. One macrotask after every
// test lets the reply in.
afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
