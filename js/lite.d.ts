// warren-mq/lite: the in-process broker on the lite engine (under 150 KiB
// gzipped). Its Broker is the full one without what the lite engine leaves
// out; calling one of those anyway throws an Error naming it.
import type { Broker as FullBroker, BrokerOptions } from './index.js';

export {
  AMQPError,
  Channel,
  Connection,
  Consumer,
  ManualClock,
  Message,
  RealClock,
  loadEngine,
  type BrokerEvent,
  type Clock,
  type FieldTable,
  type FieldValue,
  type Limits,
  type Properties,
  type UserEntry,
} from './index.js';

/** Memory only: no store, so no compaction or paging either. */
export type LiteBrokerOptions = Omit<BrokerOptions, 'store' | 'compactAfterBytes' | 'pageBudget'>;

/** What the lite engine leaves out of Broker. */
type LeftOut =
  | 'accept'
  | 'suspend'
  | 'unattached'
  | 'reattach'
  | 'closeUnattached'
  | 'users'
  | 'authenticate'
  | 'putUser'
  | 'deleteUser'
  | 'setPermissions'
  | 'clearPermissions'
  | 'addVhost'
  | 'vhosts'
  | 'deleteVhost'
  | 'setVhostLimit'
  | 'vhostLimits'
  | 'tapWire'
  | 'snapshot'
  | 'heldBytes'
  | 'pageStats'
  | 'setBlocked'
  | 'setPolicy'
  | 'deletePolicy'
  | 'policies'
  | 'exportDefinitions'
  | 'importDefinitions'
  | 'onstorefull'
  | 'recoveryDamage'
  | 'recovery';

export interface Broker extends Omit<FullBroker, LeftOut> {}

export declare const Broker: {
  /** Loads the lite engine if needed (pkg/warren_lite_bg.wasm beside the glue) and starts. */
  create(options?: LiteBrokerOptions): Promise<Broker>;
  /** Only once the engine is loaded (always in Node and workers). */
  new (options?: LiteBrokerOptions): Broker;
};
