// A worker thread that times round trips (roundTrip in many-queues.mjs) back
// to back until told to stop, so that a flood written by the main thread of
// the same process does not delay them there.
import { parentPort, workerData } from 'node:worker_threads';
import { roundTrip } from './many-queues.mjs';

let stop = false;
parentPort.on('message', () => (stop = true));
const rtts = [];
let error = null;
try {
  while (!stop) rtts.push(await roundTrip(workerData.url));
} catch (e) {
  error = e.message;
}
parentPort.postMessage({ rtts, error });
