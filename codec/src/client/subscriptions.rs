//! SUBSCRIBE and UNSUBSCRIBE bookkeeping: requests awaiting SUBACK/UNSUBACK, and the set of subscriptions the
//! server granted, which the dashboard shows and the client restores when a session is lost.

use std::collections::BTreeMap;

use super::error::ProtocolError;
use super::event::Event;
use crate::packet::{Packet, PacketType, SubAck, Subscribe, UnsubAck, Unsubscribe};
use crate::properties::Properties;
use crate::reason::ReasonCode;
use crate::topic::TopicFilter;
use crate::types::{PacketId, ProtocolVersion, QoS, SubscriptionOptions};

/// A subscription the server granted, as the client remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The options asked for.
    pub options: SubscriptionOptions,
    /// The QoS the server granted (SUBACK), at most the QoS asked for.
    pub granted_qos: QoS,
    /// The SUBSCRIBE's MQTT 5 properties (subscription identifier, user properties), sent again when the client
    /// resubscribes.
    pub properties: Properties,
}

/// Pending requests and active subscriptions.
#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    /// Granted subscriptions by filter: a new SUBSCRIBE for a filter replaces its subscription
    /// ([MQTT-3.8.4-3]).
    active: BTreeMap<TopicFilter, Subscription>,
    /// Sequence number of the next request, to resend requests in the order they were first sent.
    next_seq: u64,
    /// SUBSCRIBEs sent and awaiting SUBACK, with their sequence numbers.
    subscribes: BTreeMap<PacketId, (u64, Subscribe)>,
    /// UNSUBSCRIBEs sent and awaiting UNSUBACK, with their sequence numbers.
    unsubscribes: BTreeMap<PacketId, (u64, Unsubscribe)>,
}

/// The granted QoS a SUBACK reason code below 0x80 stands for.
fn granted_qos(code: ReasonCode) -> QoS {
    match code {
        ReasonCode::GrantedQoS1 => QoS::AtLeastOnce,
        ReasonCode::GrantedQoS2 => QoS::ExactlyOnce,
        _ => QoS::AtMostOnce,
    }
}

impl Subscriptions {
    /// The granted subscriptions.
    pub(crate) fn active(&self) -> &BTreeMap<TopicFilter, Subscription> {
        &self.active
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Records a SUBSCRIBE that was sent.
    pub(crate) fn subscribe_sent(&mut self, subscribe: Subscribe) {
        let seq = self.seq();
        self.subscribes.insert(subscribe.packet_id, (seq, subscribe));
    }

    /// Records an UNSUBSCRIBE that was sent.
    pub(crate) fn unsubscribe_sent(&mut self, unsubscribe: Unsubscribe) {
        let seq = self.seq();
        self.unsubscribes.insert(unsubscribe.packet_id, (seq, unsubscribe));
    }

    /// The pending requests as packets, in the order first sent, to send again on a new connection.
    pub(crate) fn pending_packets(&self) -> Vec<Packet> {
        let mut ordered: BTreeMap<u64, Packet> = BTreeMap::new();
        for (seq, s) in self.subscribes.values() {
            ordered.insert(*seq, Packet::Subscribe(s.clone()));
        }
        for (seq, u) in self.unsubscribes.values() {
            ordered.insert(*seq, Packet::Unsubscribe(u.clone()));
        }
        ordered.into_values().collect()
    }

    /// One SUBSCRIBE's worth per granted subscription (filter, options, properties), to restore them on a new
    /// session. One filter per packet keeps each subscription's own Subscription Identifier.
    pub(crate) fn to_restore(&self) -> Vec<(TopicFilter, SubscriptionOptions, Properties)> {
        self.active
            .iter()
            .map(|(f, s)| (f.clone(), s.options, s.properties.clone()))
            .collect()
    }

    /// Forgets a granted subscription whose restoration could not be sent.
    pub(crate) fn forget(&mut self, filter: &TopicFilter) {
        self.active.remove(filter);
    }

    /// Drops the pending request `id`, which cannot be sent again, and reports every filter failed with `code`.
    pub(crate) fn fail_pending(&mut self, id: PacketId, code: ReasonCode) -> Option<Event> {
        if let Some((_, s)) = self.subscribes.remove(&id) {
            return Some(Event::Subscribed {
                packet_id: id,
                reason_codes: vec![code; s.filters.len()],
                // The client only ever sends valid filters (`Client::subscribe` takes `TopicFilter`s).
                filters: s.filters.into_iter().filter_map(|(f, _)| f.ok()).collect(),
                reason_string: None,
            });
        }
        let (_, u) = self.unsubscribes.remove(&id)?;
        Some(Event::Unsubscribed {
            packet_id: id,
            reason_codes: vec![code; u.filters.len()],
            filters: u.filters.into_iter().filter_map(Result::ok).collect(),
            reason_string: None,
        })
    }

    /// SUBACK: one reason code per filter, in order ([MQTT-3.8.4-6], [MQTT-3.9.3-1]), for a SUBSCRIBE we sent
    /// ([MQTT-2.2.1-6]). Granted filters become active; refused ones are not (or no longer) active.
    pub(crate) fn on_suback(&mut self, ack: SubAck) -> Result<Event, ProtocolError> {
        let Some((_, subscribe)) = self.subscribes.get(&ack.packet_id) else {
            return Err(ProtocolError::UnknownPacketId {
                packet: PacketType::SubAck,
                packet_id: ack.packet_id,
            });
        };
        if subscribe.filters.len() != ack.reason_codes.len() {
            return Err(ProtocolError::ReasonCodeCount {
                packet: PacketType::SubAck,
                expected: subscribe.filters.len(),
                received: ack.reason_codes.len(),
            });
        }
        let Some((_, subscribe)) = self.subscribes.remove(&ack.packet_id) else {
            return Err(ProtocolError::UnknownPacketId {
                packet: PacketType::SubAck,
                packet_id: ack.packet_id,
            });
        };
        let mut filters = Vec::with_capacity(subscribe.filters.len());
        for ((filter, options), code) in subscribe.filters.into_iter().zip(&ack.reason_codes) {
            let Ok(filter) = filter else {
                continue; // never sent: the client only sends valid filters
            };
            if code.is_error() {
                self.active.remove(&filter);
            } else {
                let subscription = Subscription {
                    options,
                    granted_qos: granted_qos(*code),
                    properties: subscribe.properties.clone(),
                };
                self.active.insert(filter.clone(), subscription);
            }
            filters.push(filter);
        }
        Ok(Event::Subscribed {
            packet_id: ack.packet_id,
            filters,
            reason_codes: ack.reason_codes,
            reason_string: ack.properties.reason_string,
        })
    }

    /// UNSUBACK for an UNSUBSCRIBE we sent ([MQTT-2.2.1-6]). MQTT 5 carries one reason code per filter
    /// ([MQTT-3.11.3-1]); MQTT 3.x none, and every filter is removed.
    pub(crate) fn on_unsuback(&mut self, ack: UnsubAck, version: ProtocolVersion) -> Result<Event, ProtocolError> {
        let Some((_, unsubscribe)) = self.unsubscribes.get(&ack.packet_id) else {
            return Err(ProtocolError::UnknownPacketId {
                packet: PacketType::UnsubAck,
                packet_id: ack.packet_id,
            });
        };
        let expected = unsubscribe.filters.len();
        let reason_codes = if version.is_v5() {
            if ack.reason_codes.len() != expected {
                return Err(ProtocolError::ReasonCodeCount {
                    packet: PacketType::UnsubAck,
                    expected,
                    received: ack.reason_codes.len(),
                });
            }
            ack.reason_codes
        } else {
            vec![ReasonCode::Success; expected]
        };
        let Some((_, unsubscribe)) = self.unsubscribes.remove(&ack.packet_id) else {
            return Err(ProtocolError::UnknownPacketId {
                packet: PacketType::UnsubAck,
                packet_id: ack.packet_id,
            });
        };
        for (filter, code) in unsubscribe.filters.iter().zip(&reason_codes) {
            // Success and No subscription existed both leave the filter unsubscribed.
            if let (Ok(filter), false) = (filter, code.is_error()) {
                self.active.remove(filter);
            }
        }
        Ok(Event::Unsubscribed {
            packet_id: ack.packet_id,
            filters: unsubscribe.filters.into_iter().filter_map(Result::ok).collect(),
            reason_codes,
            reason_string: ack.properties.reason_string,
        })
    }
}
