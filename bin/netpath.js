#!/usr/bin/env node
import { loadCli } from '../dist/cli-loader.js';

loadCli().cli.run();
