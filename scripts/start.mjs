// npm start: builds if needed, then runs `warren-mq serve`: AMQP on
// 127.0.0.1:5672, the tutorial page (www/), the management API and AMQP over
// WebSocket on http://127.0.0.1:15670/. Arguments after `--` go to serve:
//   npm start -- --memory --port 5673
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { main } from '../js/node/cli.js';
import { build } from './build.mjs';

try {
  build();
} catch (e) {
  console.error(`start: build failed: ${e.message}`);
  process.exit(1);
}
if (!fs.existsSync(fileURLToPath(new URL('../www/index.html', import.meta.url)))) {
  console.log('start: www/index.html does not exist yet: the page is missing; AMQP and /api work');
}
process.exitCode = await main(['serve', ...process.argv.slice(2)]);
