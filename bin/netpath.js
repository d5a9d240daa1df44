#!/usr/bin/env node
import { loadCli } from '../dist/cli-loader.js';
import { startEarly } from '../dist/commands/svc-early.js';
import { startTraceEarly } from '../dist/commands/trace-early.js';

// svc lookup on a snapshot directory: its iptables worker starts before the CLI's bundle loads (svc-early.ts)
startEarly(process.argv.slice(2));

// trace between two addresses on a snapshot directory: its route and conntrack scans start before the CLI's
// bundle loads (trace-early.ts)
startTraceEarly(process.argv.slice(2));

loadCli().cli.run();
