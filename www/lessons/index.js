// The lessons, in order.
import ackModes from './01-ack-modes.js';
import earlyAck from './02-early-ack.js';
import requeue from './03-requeue-dead-letter.js';
import tags from './04-delivery-tags.js';
import prefetch from './05-prefetch.js';
import confirms from './06-confirms.js';
import idempotent from './07-idempotent.js';
import timeout from './08-consumer-timeout.js';
import batch from './09-batch-ack.js';

export const LESSONS = [ackModes, earlyAck, requeue, tags, prefetch, confirms, idempotent, timeout, batch];
