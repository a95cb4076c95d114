// Lint rules for the hand-written JavaScript: the package (js/), the page
// (www/), scripts, tests and benchmarks. Formatting is prettier's job.
import js from '@eslint/js';
import globals from 'globals';

export default [
  {
    ignores: [
      'pkg/**',
      'target/**',
      'node_modules/**',
      '.tools/**',
      'fuzz/**',
      'test-results/**',
      // The page and engine build copied there by the deploy script (git-ignored).
      'examples/cloudflare/public/**',
      '**/node_modules/**',
      '**/dist/**',
      // amqp-client.js's own build, copied for the live-code worker.
      'www/live-code/vendor/**',
      'examples/cloudflare/.wrangler/**',
    ],
  },
  js.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'module',
      // WebSocketPair: workerd's, in the edge host.
      globals: { ...globals.browser, ...globals.node, ...globals.worker, WebSocketPair: 'readonly' },
    },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
];
