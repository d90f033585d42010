//! Our QoS 1 and QoS 2 publications, from `publish` to their last acknowledgement.
//!
//! Each publication is *waiting* (accepted, held back because the server's Receive Maximum is used up or there
//! is no connection) or *in flight* (sent, unacknowledged). Both are kept in the order `publish` accepted them,
//! by a sequence number, so that the send order, the resend order after a reconnect ([MQTT-4.6.0-1]) and the
//! order of release from the queue are all the application's order.

use std::collections::BTreeMap;

use super::error::ProtocolError;
use crate::packet::{Ack, Packet, PacketType, Publish, QoSPid};
use crate::types::PacketId;

/// Where a sent publication stands.
#[derive(Debug)]
enum Flight {
    /// PUBLISH sent; awaiting PUBACK (QoS 1) or PUBREC (QoS 2) ([MQTT-4.3.2-3], [MQTT-4.3.3-3]). Boxed: a
    /// PUBLISH with its properties is large, a released flow is an identifier.
    Published(PacketId, Box<Publish>),
    /// QoS 2: PUBREC received and PUBREL sent; awaiting PUBCOMP ([MQTT-4.3.3-5]). The PUBLISH is dropped: it is
    /// never sent again ([MQTT-4.3.3-6]).
    Released(PacketId),
}

impl Flight {
    fn packet_id(&self) -> PacketId {
        match self {
            Self::Published(id, _) | Self::Released(id) => *id,
        }
    }
}

/// A publication not sent on the current connection.
#[derive(Debug)]
struct Waiting {
    id: PacketId,
    publish: Publish,
    /// It was sent on an earlier connection (and put back by a resume that found less quota): resend with DUP.
    sent_before: bool,
}

/// A publication taken from the waiting queue, to be sent or dropped.
#[derive(Debug)]
pub(crate) struct Ready {
    seq: u64,
    /// Its packet identifier.
    pub(crate) id: PacketId,
    /// The PUBLISH to send.
    pub(crate) publish: Publish,
}

/// What a PUBREC means for the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PubRecOutcome {
    /// Send PUBREL ([MQTT-4.3.3-4]).
    Release,
    /// A reason code of 0x80 or above ended the flow: no PUBREL ([MQTT-4.4.0-2]).
    Failed,
}

/// Our unacknowledged and not yet sent QoS 1 and 2 publications.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    /// The sequence number of the next publication.
    next_seq: u64,
    /// Sent and unacknowledged, by sequence number. Its length is what the server's Receive Maximum limits
    /// ([MQTT-3.3.4-7], [MQTT-4.9.0-2]).
    in_flight: BTreeMap<u64, Flight>,
    /// Accepted but not sent, by sequence number.
    waiting: BTreeMap<u64, Waiting>,
    /// Where each packet identifier's publication is.
    seq_of: BTreeMap<PacketId, u64>,
}

impl Outbound {
    /// Publications in flight.
    pub(crate) fn in_flight_len(&self) -> usize {
        self.in_flight.len()
    }

    /// Publications waiting to be sent.
    pub(crate) fn waiting_len(&self) -> usize {
        self.waiting.len()
    }

    /// Queues a new publication behind all others; `publish` carries `id` as its packet identifier.
    pub(crate) fn push(&mut self, id: PacketId, publish: Publish) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.seq_of.insert(id, seq);
        self.waiting.insert(
            seq,
            Waiting {
                id,
                publish,
                sent_before: false,
            },
        );
    }

    /// Takes the oldest waiting publication if fewer than `quota` are in flight, with DUP set if it was sent
    /// before ([MQTT-3.3.1-1]). The caller either sends it with [`Self::start`] or drops it with
    /// [`Self::forget`].
    pub(crate) fn pop_ready(&mut self, quota: usize) -> Option<Ready> {
        if self.in_flight.len() >= quota {
            return None;
        }
        let (seq, waiting) = self.waiting.pop_first()?;
        let mut publish = waiting.publish;
        publish.dup = waiting.sent_before;
        Some(Ready {
            seq,
            id: waiting.id,
            publish,
        })
    }

    /// Records a publication taken by [`Self::pop_ready`] as sent.
    pub(crate) fn start(&mut self, ready: Ready) {
        self.in_flight
            .insert(ready.seq, Flight::Published(ready.id, Box::new(ready.publish)));
    }

    /// Forgets a publication taken by [`Self::pop_ready`] that will not be sent.
    pub(crate) fn forget(&mut self, id: PacketId) {
        self.seq_of.remove(&id);
    }

    /// The in-flight entry for an acknowledgement, or why there is none.
    fn flight(&mut self, packet: PacketType, id: PacketId) -> Result<(u64, &mut Flight), ProtocolError> {
        let unknown = ProtocolError::UnknownPacketId { packet, packet_id: id };
        let seq = *self.seq_of.get(&id).ok_or(unknown)?;
        // A waiting publication was never sent on this connection, so it cannot be acknowledged.
        let flight = self.in_flight.get_mut(&seq).ok_or(unknown)?;
        Ok((seq, flight))
    }

    fn remove(&mut self, seq: u64, id: PacketId) {
        self.in_flight.remove(&seq);
        self.seq_of.remove(&id);
    }

    /// PUBACK: ends a QoS 1 flow, whatever its reason code ([MQTT-4.3.2-3], [MQTT-4.4.0-2]).
    pub(crate) fn on_puback(&mut self, id: PacketId) -> Result<(), ProtocolError> {
        let (seq, flight) = self.flight(PacketType::PubAck, id)?;
        match flight {
            Flight::Published(_, p) if matches!(p.qos_pid, QoSPid::AtLeastOnce(_)) => {
                self.remove(seq, id);
                Ok(())
            }
            _ => Err(ProtocolError::AckOutOfOrder {
                packet: PacketType::PubAck,
                packet_id: id,
            }),
        }
    }

    /// PUBREC: moves a QoS 2 flow to its release, or ends it on a failure code. A repeated PUBREC of a released
    /// flow asks for the PUBREL again.
    pub(crate) fn on_pubrec(&mut self, id: PacketId, success: bool) -> Result<PubRecOutcome, ProtocolError> {
        let (seq, flight) = self.flight(PacketType::PubRec, id)?;
        match flight {
            Flight::Published(_, p) if matches!(p.qos_pid, QoSPid::ExactlyOnce(_)) => {
                if success {
                    *flight = Flight::Released(id);
                    Ok(PubRecOutcome::Release)
                } else {
                    self.remove(seq, id);
                    Ok(PubRecOutcome::Failed)
                }
            }
            Flight::Released(_) if success => Ok(PubRecOutcome::Release),
            _ => Err(ProtocolError::AckOutOfOrder {
                packet: PacketType::PubRec,
                packet_id: id,
            }),
        }
    }

    /// PUBCOMP: ends a released QoS 2 flow ([MQTT-4.3.3-5]).
    pub(crate) fn on_pubcomp(&mut self, id: PacketId) -> Result<(), ProtocolError> {
        let (seq, flight) = self.flight(PacketType::PubComp, id)?;
        match flight {
            Flight::Released(_) => {
                self.remove(seq, id);
                Ok(())
            }
            Flight::Published(..) => Err(ProtocolError::AckOutOfOrder {
                packet: PacketType::PubComp,
                packet_id: id,
            }),
        }
    }

    /// A new connection resumed the session: the packets to resend, in their original order, with their original
    /// identifiers ([MQTT-4.4.0-1], [MQTT-4.6.0-1]): PUBLISH with DUP ([MQTT-3.3.1-1]) for those awaiting
    /// PUBACK/PUBREC, PUBREL for those awaiting PUBCOMP.
    ///
    /// If the new server's Receive Maximum (`quota`) is smaller than what is in flight, the PUBLISHes beyond it
    /// go back to the front of the waiting queue and are resent, still with DUP, as acknowledgements free quota.
    /// PUBRELs cannot wait (they are not PUBLISHes, [MQTT-3.3.4-8]) and still count against the quota.
    pub(crate) fn resume(&mut self, quota: usize) -> Vec<Packet> {
        let mut resend = Vec::with_capacity(self.in_flight.len());
        let mut kept = 0;
        for (seq, flight) in std::mem::take(&mut self.in_flight) {
            match flight {
                Flight::Released(id) => {
                    resend.push(Packet::PubRel(Ack::new(id)));
                    self.in_flight.insert(seq, Flight::Released(id));
                    kept += 1;
                }
                Flight::Published(id, mut publish) if kept < quota => {
                    publish.dup = true;
                    resend.push(Packet::Publish((*publish).clone()));
                    self.in_flight.insert(seq, Flight::Published(id, publish));
                    kept += 1;
                }
                Flight::Published(id, publish) => {
                    self.waiting.insert(
                        seq,
                        Waiting {
                            id,
                            publish: *publish,
                            sent_before: true,
                        },
                    );
                }
            }
        }
        resend
    }

    /// The session is gone (clean start, or a server without our session): every publication that was sent is
    /// abandoned and its identifier returned, in order. Those never sent stay, to go out on the new session.
    pub(crate) fn discard_sent(&mut self) -> Vec<PacketId> {
        let mut abandoned: BTreeMap<u64, PacketId> = BTreeMap::new();
        for (seq, flight) in std::mem::take(&mut self.in_flight) {
            abandoned.insert(seq, flight.packet_id());
        }
        self.waiting.retain(|seq, waiting| {
            if waiting.sent_before {
                abandoned.insert(*seq, waiting.id);
            }
            !waiting.sent_before
        });
        for id in abandoned.values() {
            self.seq_of.remove(id);
        }
        abandoned.into_values().collect()
    }
}
