//! The server's QoS 2 publications to us, between our PUBREC and its PUBREL: the state that makes delivery
//! exactly once.

use std::collections::BTreeSet;

use super::error::ProtocolError;
use crate::types::PacketId;

/// Packet identifiers of QoS 2 messages we delivered and acknowledged with PUBREC but whose PUBREL has not come
/// yet. Part of the session: kept across a lost connection, dropped with the session.
#[derive(Debug, Default)]
pub(crate) struct Inbound {
    awaiting_release: BTreeSet<PacketId>,
}

impl Inbound {
    /// A QoS 2 PUBLISH with `id`: `true` if it is new and must be delivered, `false` if it repeats one awaiting
    /// PUBREL, which must be acknowledged again but not delivered again ([MQTT-4.3.3-10]) whatever its DUP flag.
    /// `receive_maximum` (MQTT 5) bounds how many may await PUBREL at once ([MQTT-3.3.4-9]).
    pub(crate) fn on_publish(&mut self, id: PacketId, receive_maximum: Option<u16>) -> Result<bool, ProtocolError> {
        if self.awaiting_release.contains(&id) {
            return Ok(false);
        }
        if let Some(max) = receive_maximum
            && self.awaiting_release.len() >= usize::from(max)
        {
            return Err(ProtocolError::ReceiveMaximumExceeded(max));
        }
        self.awaiting_release.insert(id);
        Ok(true)
    }

    /// PUBREL for `id`: forget it, so a later PUBLISH with `id` is a new message ([MQTT-4.3.3-12]). `false` if
    /// it was not awaiting release (a PUBREL resent after our PUBCOMP was lost).
    pub(crate) fn on_pubrel(&mut self, id: PacketId) -> bool {
        self.awaiting_release.remove(&id)
    }

    /// How many QoS 2 messages await PUBREL.
    pub(crate) fn len(&self) -> usize {
        self.awaiting_release.len()
    }

    /// The session ended.
    pub(crate) fn clear(&mut self) {
        self.awaiting_release.clear();
    }
}
