// String keys for engine identities, so they can index Maps.

/** A channel: connection id and channel number. */
export const channelKey = (conn, channel) => `${conn}:${channel}`;

/** One delivery: its channel and delivery tag. */
export const tagKey = (channel, tag) => `${channel}:${tag}`;
