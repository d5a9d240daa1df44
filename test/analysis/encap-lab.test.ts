import { describe, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expectTracesAgree, type EncapKernel } from '../helpers/encap.js';

// The bundled capture of scripts/lab/encap.sh and the kernel's counters of that same run (kernel.json): the
// traces of the captured nodes say what the kernel did. test/kernel/encap-lab.test.ts does the same on a fresh run.
const dir = fileURLToPath(new URL('../../fixtures/snapshots/encap', import.meta.url));

describe('encap lab capture (issue 15)', () => {
  it("netpath's traces agree with the kernel's counters of the captured run", async () => {
    await expectTracesAgree(dir, JSON.parse(readFileSync(`${dir}/kernel.json`, 'utf8')) as EncapKernel);
  });
});
