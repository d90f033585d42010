//! Packet identifier allocation for our PUBLISH (QoS > 0), SUBSCRIBE and UNSUBSCRIBE packets.

use std::collections::BTreeSet;

use crate::types::PacketId;

/// Hands out identifiers that are non-zero (by type) and not held by anything in flight ([MQTT-2.2.1-3]),
/// counting upwards and wrapping from 65535 to 1, so a just-freed identifier is not reused at once (a late
/// acknowledgement for it then cannot be mistaken for one of the next packet).
#[derive(Debug)]
pub(crate) struct PacketIds {
    /// Where the search for a free identifier starts.
    pub(super) next: PacketId,
    /// Identifiers held by our publications, SUBSCRIBEs and UNSUBSCRIBEs until their flow completes.
    in_use: BTreeSet<PacketId>,
}

impl PacketIds {
    pub(crate) fn new() -> Self {
        Self {
            next: PacketId::new(1).expect("1 is not 0"),
            in_use: BTreeSet::new(),
        }
    }

    /// The next free identifier, now in use; `None` when all 65,535 are taken.
    pub(crate) fn allocate(&mut self) -> Option<PacketId> {
        if self.in_use.len() >= usize::from(u16::MAX) {
            return None;
        }
        let mut id = self.next;
        while self.in_use.contains(&id) {
            id = id.next();
        }
        self.in_use.insert(id);
        self.next = id.next();
        Some(id)
    }

    /// Takes `id` if it is free; `false` if it is in use.
    pub(crate) fn take(&mut self, id: PacketId) -> bool {
        self.in_use.insert(id)
    }

    /// Frees `id` once its flow is complete (or abandoned).
    pub(crate) fn release(&mut self, id: PacketId) {
        self.in_use.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn id(v: u16) -> PacketId {
        PacketId::new(v).unwrap()
    }

    #[test]
    fn counts_up_wraps_past_zero_and_skips_ids_in_use() {
        let mut ids = PacketIds::new();
        assert_eq!(ids.allocate(), Some(id(1)));
        assert_eq!(ids.allocate(), Some(id(2)));
        ids.next = id(65534);
        ids.in_use.insert(id(65535));
        assert_eq!(ids.allocate(), Some(id(65534)));
        // 65535 is in use, 0 is not an identifier, 1 and 2 are in use.
        assert_eq!(ids.allocate(), Some(id(3)));
        ids.release(id(1));
        assert_eq!(ids.allocate(), Some(id(4)), "a freed identifier is not reused at once");
    }

    #[test]
    fn exhaustion_is_reported_and_release_recovers() {
        let mut ids = PacketIds::new();
        for v in 1..=u16::MAX {
            assert_eq!(ids.allocate(), Some(id(v)));
        }
        assert_eq!(ids.allocate(), None);
        ids.release(id(500));
        assert_eq!(ids.allocate(), Some(id(500)));
    }
}
