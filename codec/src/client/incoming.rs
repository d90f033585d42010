//! Packets from the server: [`Client::handle_bytes`] decodes them in the connection's version and reacts to each.

use web_time::Instant;

use super::error::ProtocolError;
use super::event::{Disconnected, Event, PublishFailure};
use super::outbound::PubRecOutcome;
use super::{Client, State, our_maximum_packet_size};
use crate::packet::{Ack, Disconnect, Packet, Publish, QoSPid};
use crate::reason::ReasonCode;

impl Client {
    /// Bytes received from the transport, in any slicing: they are buffered until whole packets are there
    /// ([MQTT-6.0.0-2]). Each packet is decoded in the connection's protocol version, packets larger than
    /// [`super::ClientOptions::maximum_packet_size`] are refused from their fixed header, and each is handled in
    /// turn.
    ///
    /// A protocol violation by the server returns the error after queueing a DISCONNECT carrying its reason code
    /// (MQTT 5; MQTT 3.x has no way to say why and just closes), emitting [`Event::Disconnected`] and becoming
    /// [`State::Disconnected`] ([MQTT-4.13.1-1]); bytes after it are ignored. Bytes that arrive while disconnected
    /// are ignored too.
    pub fn handle_bytes(&mut self, bytes: &[u8], now: Instant) -> Result<(), ProtocolError> {
        if self.state == State::Disconnected {
            return Ok(());
        }
        self.read_buf.extend_from_slice(bytes);
        let version = self.options.version;
        let max = our_maximum_packet_size(&self.options);
        // A DISCONNECT or a refused CONNACK ends the connection; what follows it is not read.
        while self.state != State::Disconnected {
            let packet = match Packet::decode(&mut self.read_buf, version, max) {
                Ok(Some(packet)) => packet,
                Ok(None) => break,
                Err(e) => return Err(self.protocol_error(e.into(), now)),
            };
            // Any packet proves the server alive, not only PINGRESP.
            self.keep_alive.on_received();
            if let Err(e) = self.handle_packet(packet, now) {
                return Err(self.protocol_error(e, now));
            }
        }
        Ok(())
    }

    /// Ends the connection for a protocol error of the server; returns the error.
    fn protocol_error(&mut self, error: ProtocolError, now: Instant) -> ProtocolError {
        let reason_code = error.reason_code();
        if self.options.version.is_v5() {
            self.send(Packet::Disconnect(Disconnect::new(reason_code)), now);
        }
        self.end_connection();
        self.events.push_back(Event::Disconnected(Disconnected {
            reason_code,
            reason_string: Some(error.to_string().into()),
            server_reference: None,
            by_server: false,
        }));
        error
    }

    /// Reacts to one packet. On error nothing has changed, so the caller can report it faithfully.
    fn handle_packet(&mut self, packet: Packet, now: Instant) -> Result<(), ProtocolError> {
        if self.state == State::Connecting {
            return match packet {
                Packet::ConnAck(connack) => self.on_connack(connack, now),
                // A server must not send DISCONNECT before CONNACK ([MQTT-3.14.0-1]), but when one does, its
                // reason is worth more to the person watching than a protocol error of ours.
                Packet::Disconnect(disconnect) => {
                    self.on_disconnect(disconnect);
                    Ok(())
                }
                other => Err(ProtocolError::BeforeConnAck(other.packet_type())),
            };
        }
        match packet {
            Packet::ConnAck(_) => Err(ProtocolError::SecondConnAck),
            Packet::Publish(publish) => self.on_publish(publish, now),
            Packet::PubAck(ack) => self.on_puback(ack, now),
            Packet::PubRec(ack) => self.on_pubrec(ack, now),
            Packet::PubRel(ack) => {
                self.on_pubrel(ack, now);
                Ok(())
            }
            Packet::PubComp(ack) => self.on_pubcomp(ack, now),
            Packet::SubAck(ack) => {
                let packet_id = ack.packet_id;
                let event = self.subscriptions.on_suback(ack)?;
                self.packet_ids.release(packet_id);
                self.events.push_back(event);
                Ok(())
            }
            Packet::UnsubAck(ack) => {
                let packet_id = ack.packet_id;
                let event = self.subscriptions.on_unsuback(ack, self.options.version)?;
                self.packet_ids.release(packet_id);
                self.events.push_back(event);
                Ok(())
            }
            Packet::PingResp => Ok(()),
            Packet::Disconnect(disconnect) => {
                self.on_disconnect(disconnect);
                Ok(())
            }
            other @ (Packet::Connect(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq
            | Packet::Auth(_)) => Err(ProtocolError::UnexpectedPacket(other.packet_type())),
        }
    }

    /// An application message: resolve its topic alias, deliver it, acknowledge it ([MQTT-4.5.0-2]).
    fn on_publish(&mut self, mut publish: Publish, now: Instant) -> Result<(), ProtocolError> {
        let v5 = self.options.version.is_v5();
        if v5 {
            self.aliases.resolve(&mut publish)?;
        }
        match publish.qos_pid {
            QoSPid::AtMostOnce => self.events.push_back(Event::Message(publish)),
            QoSPid::AtLeastOnce(id) => {
                // [MQTT-4.3.2-4]: PUBACK once the message is ours, i.e. queued for the application. In order of
                // arrival ([MQTT-4.6.0-2]), as everything here is. With manual acknowledgements the application
                // sends it (`acknowledge`).
                self.events.push_back(Event::Message(publish));
                if !self.options.manual_acks {
                    self.send(Packet::PubAck(Ack::new(id)), now);
                }
            }
            QoSPid::ExactlyOnce(id) => {
                let receive_maximum = v5.then(|| self.options.receive_maximum_value());
                // [MQTT-4.3.3-10]: a repeat before PUBREL is acknowledged again but not delivered again.
                if self.inbound.on_publish(id, receive_maximum)? {
                    self.events.push_back(Event::Message(publish));
                    if self.options.manual_acks {
                        // PUBREC waits for `acknowledge`.
                        self.unacknowledged.insert(id);
                        return Ok(());
                    }
                } else if self.unacknowledged.contains(&id) {
                    // A repeat of a message the application has not acknowledged yet: its PUBREC comes then.
                    return Ok(());
                }
                // [MQTT-4.3.3-8], in order of arrival ([MQTT-4.6.0-3]).
                self.send(Packet::PubRec(Ack::new(id)), now);
            }
        }
        Ok(())
    }

    /// PUBREL for a QoS 2 message of the server: answer PUBCOMP and forget the identifier ([MQTT-4.3.3-11],
    /// [MQTT-4.3.3-12]). An unknown identifier (our PUBCOMP was lost with a connection) still gets its PUBCOMP,
    /// in MQTT 5 with Packet Identifier not found.
    fn on_pubrel(&mut self, ack: Ack, now: Instant) {
        let id = ack.packet_id;
        self.unacknowledged.remove(&id);
        let mut pubcomp = Ack::new(id);
        if !self.inbound.on_pubrel(id) && self.options.version.is_v5() {
            pubcomp.reason_code = ReasonCode::PacketIdentifierNotFound;
        }
        self.send(Packet::PubComp(pubcomp), now);
    }

    /// PUBACK: a QoS 1 publication is complete, successfully or not ([MQTT-4.4.0-2]); its quota is free
    /// ([MQTT-4.9.0-2]).
    fn on_puback(&mut self, ack: Ack, now: Instant) -> Result<(), ProtocolError> {
        self.outbound.on_puback(ack.packet_id)?;
        self.publication_done(ack);
        self.send_waiting(now);
        Ok(())
    }

    /// PUBREC: release a QoS 2 publication with PUBREL ([MQTT-4.3.3-4]), or end it on a failure code with no
    /// PUBREL ([MQTT-4.4.0-2]).
    fn on_pubrec(&mut self, ack: Ack, now: Instant) -> Result<(), ProtocolError> {
        let id = ack.packet_id;
        match self.outbound.on_pubrec(id, !ack.reason_code.is_error())? {
            // In order of the PUBRECs ([MQTT-4.6.0-4]).
            PubRecOutcome::Release => self.send(Packet::PubRel(Ack::new(id)), now),
            PubRecOutcome::Failed => {
                self.publication_done(ack);
                self.send_waiting(now);
            }
        }
        Ok(())
    }

    /// PUBCOMP: a QoS 2 publication is complete ([MQTT-4.3.3-5]).
    fn on_pubcomp(&mut self, ack: Ack, now: Instant) -> Result<(), ProtocolError> {
        self.outbound.on_pubcomp(ack.packet_id)?;
        self.publication_done(ack);
        self.send_waiting(now);
        Ok(())
    }

    /// Frees the identifier of a finished publication and tells the application how it ended.
    fn publication_done(&mut self, ack: Ack) {
        let packet_id = ack.packet_id;
        self.packet_ids.release(packet_id);
        let event = if ack.reason_code.is_error() {
            Event::PublishFailed {
                packet_id,
                reason: PublishFailure::Rejected {
                    reason_code: ack.reason_code,
                    reason_string: ack.properties.reason_string,
                },
            }
        } else {
            Event::Published {
                packet_id,
                reason_code: ack.reason_code,
            }
        };
        self.events.push_back(event);
    }

    /// The server ends the connection (MQTT 5). Nothing more is sent ([MQTT-3.14.4-1] binds the server, and
    /// the server closes the connection after it).
    fn on_disconnect(&mut self, disconnect: Disconnect) {
        self.end_connection();
        self.transmit.clear();
        self.events.push_back(Event::Disconnected(Disconnected {
            reason_code: disconnect.reason_code,
            reason_string: disconnect.properties.reason_string,
            server_reference: disconnect.properties.server_reference,
            by_server: true,
        }));
    }
}
