#!/usr/bin/env node
import { main } from '../js/node/cli.js';

process.exitCode = await main();
