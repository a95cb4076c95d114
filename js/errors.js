// Errors of the JS API. Engine errors arrive from wasm as plain `Error`s
// carrying the AMQP reply; `fromEngine` turns them into AMQPError and leaves
// everything else (TypeErrors for bad arguments) as it is.

/** An AMQP error: the reply code and text a client would see. */
export class AMQPError extends Error {
  constructor(code, replyText, classId = 0, methodId = 0) {
    super(replyText);
    this.name = 'AMQPError';
    this.code = code;
    this.replyText = replyText;
    this.classId = classId;
    this.methodId = methodId;
  }
}

/**
 * The engine's error as an AMQPError; `soft` tells whether only the channel
 * was closed (true) or the whole connection (false). Non-AMQP errors: null.
 */
export function fromEngine(e) {
  if (e === null || typeof e !== 'object' || e instanceof AMQPError || typeof e.soft !== 'boolean') return null;
  const err = new AMQPError(e.code, e.replyText, e.classId, e.methodId);
  return { err, soft: e.soft === true };
}

/** A TypeError naming the method and what it expected. */
export function argError(method, what, value) {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  return new TypeError(`${method}: ${what} (got ${got})`);
}
