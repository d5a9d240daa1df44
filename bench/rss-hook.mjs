// Loaded with `node --import` when /usr/bin/time is missing: writes this process's peak RSS (KiB).
import { writeFileSync } from 'node:fs';

const file = process.env.NP_BENCH_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, `${process.resourceUsage().maxRSS}\n`));
