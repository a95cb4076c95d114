// The Worker: the host from js/worker/ as it is. In a project that installs
// warren-mq from npm, import from 'warren-mq/cloudflare' instead.
export { default, WarrenBroker } from '../../js/worker/index.js';
