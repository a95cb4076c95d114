//! Identities inside the engine. Connections and channels are identities so
//! that closing one settles exactly its own deliveries.

/// A client connection, numbered by the engine when it opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u32);

/// A channel: the connection plus the channel number the client chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelRef {
    pub conn: ConnId,
    pub channel: u16,
}

impl ChannelRef {
    pub fn new(conn: ConnId, channel: u16) -> Self {
        ChannelRef { conn, channel }
    }
}

/// A queue's slot in the engine's table and that slot's generation, so an id
/// kept by a delivery never points at a later queue in the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId {
    index: u32,
    gen: u32,
}

impl QueueId {
    pub(crate) fn new(index: u32, gen: u32) -> Self {
        QueueId { index, gen }
    }
    pub(crate) fn index(self) -> usize {
        self.index as usize
    }
    pub(crate) fn gen(self) -> u32 {
        self.gen
    }
    /// As one number, for maps that share the `u64 -> u64` map type.
    pub(crate) fn to_bits(self) -> u64 {
        (u64::from(self.gen) << 32) | u64::from(self.index)
    }
    pub(crate) fn from_bits(bits: u64) -> Self {
        QueueId::new(bits as u32, (bits >> 32) as u32)
    }
}

/// Index of a virtual host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VhostId(pub u32);

/// A message's identity for events: given at publish, kept by every copy of
/// the message (fan-out, dead-lettering), so a timeline follows it to its end.
pub type MsgId = u64;
