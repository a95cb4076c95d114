//! Class `channel` (20): open, flow control and close.

use super::define::define_method;
use crate::broker::ShortStr;

define_method! {
    ChannelOpen(20, 10, "channel.open") {
        /// Deprecated, empty.
        out_of_band: ShortStr,
    }
}

define_method! {
    ChannelOpenOk(20, 11, "channel.open-ok") from server {
        /// Deprecated, empty.
        channel_id: Vec<u8>,
    }
}

define_method! {
    /// Asks the peer to pause (`false`) or resume (`true`) sending content.
    ChannelFlow(20, 20, "channel.flow") {
        active: bool,
    }
}

define_method! {
    ChannelFlowOk(20, 21, "channel.flow-ok") {
        active: bool,
    }
}

define_method! {
    /// Closes the channel, naming the method that caused it, if any.
    ChannelClose(20, 40, "channel.close") {
        reply_code: u16,
        reply_text: ShortStr,
        class_id: u16,
        method_id: u16,
    }
}

define_method! {
    ChannelCloseOk(20, 41, "channel.close-ok") {}
}
