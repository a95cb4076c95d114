// How a message token shows its state: shape and mark first, colour second,
// so no state is told by colour alone. The legend is built from this table.

/** state -> { shape, mark, words } ; shape: round | square | diamond */
export const GLYPHS = {
  published: { shape: 'round', mark: '→', words: 'published' },
  ready: { shape: 'round', mark: '', words: 'ready in the queue' },
  delivered: { shape: 'square', mark: '', words: 'in flight: delivered with a tag, not acked' },
  processing: { shape: 'square', mark: '⚙', words: 'processing' },
  processed: { shape: 'square', mark: '‖', words: 'processed, ack not sent yet' },
  acked: { shape: 'round', mark: '✓', words: 'acked: the broker forgets it' },
  done: { shape: 'round', mark: '✓', words: 'processed (it came with automatic ack)' },
  lost: { shape: 'diamond', mark: '✗', words: 'lost: acked, then its consumer crashed' },
  'dead-lettered': { shape: 'diamond', mark: '☠', words: 'dead-lettered' },
  expired: { shape: 'diamond', mark: '◔', words: 'expired' },
  dropped: { shape: 'diamond', mark: '✗', words: 'dropped' },
  refused: { shape: 'diamond', mark: '⊘', words: 'refused by a full queue' },
  unroutable: { shape: 'diamond', mark: '↩', words: 'unroutable (returned if mandatory)' },
  gone: { shape: 'diamond', mark: '✗', words: 'gone with the broker' },
};

/** The marks added on top of any state. */
export const BADGES = {
  redelivered: { mark: 'R', words: 'redelivered: delivered before' },
  dead: { mark: 'D', words: 'came through a dead-letter exchange' },
  acked: { mark: '✓', words: 'ack already sent' },
};
