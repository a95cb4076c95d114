// Finds the connection.close and channel.close methods in the bytes the broker
// sends, so the log can give the reply code of every channel and connection
// error in one line. Output only, and never changes a byte: the engine reports
// close reasons to clients, not to the host. Frames are walked by their headers
// (type u8, channel u16, size u32, payload, end byte); a frame split across
// chunks is carried over.
const METHOD = 1;
const CLOSES = new Map([
  [(10 << 16) | 50, 'connection'],
  [(20 << 16) | 40, 'channel'],
]);
const MAX_CARRY = 64 * 1024; // a close method is small; bigger frames are skipped

/** Returns `watch(bytes)`, which calls `onClose({ scope, channel, code, text, classId, methodId })`. */
export function closeWatcher(onClose) {
  let skip = 0; // bytes of a frame that began in an earlier chunk
  let carry = null; // the start of a method frame that did not fit its chunk
  let first = true;
  return (chunk) => {
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (carry) {
      buf = Buffer.concat([carry, buf]);
      carry = null;
    }
    let at = Math.min(skip, buf.length);
    skip -= at;
    if (first && buf.length >= 4 && buf.toString('latin1', 0, 4) === 'AMQP') {
      // The protocol header the broker answers an unsupported one with.
      onClose({
        scope: 'connection',
        channel: 0,
        code: 0,
        text: 'unsupported protocol header',
        classId: 0,
        methodId: 0,
      });
      at = 8;
    }
    first = false;
    while (at < buf.length) {
      if (buf.length - at < 7) {
        carry = Buffer.from(buf.subarray(at));
        return;
      }
      const type = buf[at];
      const size = buf.readUInt32BE(at + 3);
      const end = at + 8 + size;
      if (end > buf.length) {
        if (type === METHOD && size < MAX_CARRY) carry = Buffer.from(buf.subarray(at));
        else skip = end - buf.length;
        return;
      }
      if (type === METHOD && size >= 11) {
        const scope = CLOSES.get(buf.readUInt32BE(at + 7));
        if (scope) {
          const len = buf[at + 13];
          const textEnd = at + 14 + len;
          if (textEnd + 4 <= end) {
            onClose({
              scope,
              channel: buf.readUInt16BE(at + 1),
              code: buf.readUInt16BE(at + 11),
              text: buf.toString('utf8', at + 14, textEnd),
              classId: buf.readUInt16BE(textEnd),
              methodId: buf.readUInt16BE(textEnd + 2),
            });
          }
        }
      }
      at = end;
    }
  };
}
