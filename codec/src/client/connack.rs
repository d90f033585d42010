//! CONNACK: the connection is accepted or refused, and the session is resumed or started afresh.

use web_time::Instant;

use super::error::ProtocolError;
use super::event::{Connected, Event, Refused};
use super::limits::ServerLimits;
use super::{Client, State};
use crate::packet::{ConnAck, Packet, Subscribe};
use crate::properties::Properties;
use crate::types::ProtocolVersion;

impl Client {
    /// The server's answer to our CONNECT.
    pub(super) fn on_connack(&mut self, connack: ConnAck, now: Instant) -> Result<(), ProtocolError> {
        let version = self.options.version;
        // MQTT 3.1 has no Session Present flag: a server keeps the session of a client that did not ask for a
        // clean one.
        let session_present = if version == ProtocolVersion::V31 {
            !self.clean_start
        } else {
            connack.session_present
        };
        if version != ProtocolVersion::V31 && connack.session_present && self.clean_start {
            return Err(ProtocolError::SessionPresentWithCleanStart);
        }
        self.connect_deadline = None;
        if connack.reason_code.is_error() {
            // Refused: the session is untouched, a later attempt may resume it.
            self.end_connection();
            self.events.push_back(Event::ConnectionRefused(Refused {
                reason_code: connack.reason_code,
                reason_string: connack.properties.reason_string,
                server_reference: connack.properties.server_reference,
            }));
            return Ok(());
        }
        let properties = connack.properties;
        self.limits = ServerLimits::from_connack(&properties);
        if let Some(assigned) = &properties.assigned_client_identifier {
            self.client_id = assigned.clone();
        }
        // [MQTT-3.1.2-23]: the server's keep alive replaces ours.
        let keep_alive = properties.server_keep_alive.unwrap_or(self.options.keep_alive);
        self.keep_alive.start(keep_alive);
        self.state = State::Connected;
        self.events.push_back(Event::Connected(Connected {
            session_present,
            client_id: self.client_id.clone(),
            keep_alive,
            properties,
        }));
        // Taken before restoring subscriptions, which adds requests of its own.
        let unanswered = self.subscriptions.pending_packets();
        if session_present {
            // [MQTT-4.4.0-1], [MQTT-4.6.0-1]: unacknowledged PUBLISH (with DUP) and PUBREL, in original order.
            for packet in self.outbound.resume(usize::from(self.limits.receive_maximum)) {
                self.send(packet, now);
            }
        } else {
            // [MQTT-3.2.2-5]: the server has no session, so ours goes too.
            self.discard_session();
            if self.options.resubscribe {
                self.restore_subscriptions(now);
            }
        }
        // After the restored subscriptions, so that an UNSUBSCRIBE the last connection left unanswered still wins.
        self.resend_requests(unanswered, now);
        self.send_waiting(now);
        Ok(())
    }

    /// Subscribes again to every granted subscription, one SUBSCRIBE each, after the server lost them. One that
    /// cannot be sent is forgotten and reported as a failed `Subscribed`.
    fn restore_subscriptions(&mut self, now: Instant) {
        for (filter, options, properties) in self.subscriptions.to_restore() {
            let Some(packet_id) = self.packet_ids.allocate() else {
                self.subscriptions.forget(&filter);
                continue;
            };
            let subscribe = Subscribe {
                packet_id,
                properties: if self.options.version.is_v5() {
                    properties
                } else {
                    Properties::default()
                },
                filters: vec![(Ok(filter.clone()), options)],
            };
            match self.check_size(&Packet::Subscribe(subscribe.clone())) {
                Ok(()) => {
                    self.subscriptions.subscribe_sent(subscribe.clone());
                    self.send(Packet::Subscribe(subscribe), now);
                }
                Err(refusal) => {
                    self.packet_ids.release(packet_id);
                    self.subscriptions.forget(&filter);
                    self.events.push_back(Event::Subscribed {
                        packet_id,
                        filters: vec![filter],
                        reason_codes: vec![refusal.reason_code()],
                        reason_string: None,
                    });
                }
            }
        }
    }

    /// Sends again the SUBSCRIBEs and UNSUBSCRIBEs the last connection left unanswered, with their identifiers
    /// and in their order. One the new server's limits refuse is reported failed.
    fn resend_requests(&mut self, unanswered: Vec<Packet>, now: Instant) {
        for packet in unanswered {
            let packet_id = match &packet {
                Packet::Subscribe(s) => s.packet_id,
                Packet::Unsubscribe(u) => u.packet_id,
                _ => continue,
            };
            match self.check_size(&packet) {
                Ok(()) => self.send(packet, now),
                Err(refusal) => {
                    self.packet_ids.release(packet_id);
                    if let Some(event) = self.subscriptions.fail_pending(packet_id, refusal.reason_code()) {
                        self.events.push_back(event);
                    }
                }
            }
        }
    }
}
