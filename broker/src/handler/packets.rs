//! The packets a connected client sends: PUBLISH and its acknowledgements, SUBSCRIBE, UNSUBSCRIBE, PINGREQ,
//! DISCONNECT, and the protocol errors.

use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::Instant;

use roost_codec::{Ack, Packet, Properties, Publish, QoS, QoSPid, ReasonCode, SubAck, Subscribe, TopicName, UnsubAck};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Client, End, disconnect};
use crate::broker::Broker;
use crate::config::Config;
use crate::connection::{Connection, ConnectionError};
use crate::log_text::Clipped;
use crate::message::Message;
use crate::router::{Inbound, Routed};
use crate::store::Lsn;

/// Handles one packet from the client, queueing its reply (the caller flushes); `Some` when the connection ends.
pub(super) async fn handle_packet<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    client: &mut Client,
    broker: &Broker,
    packet: Packet,
) -> Result<Option<End>, ConnectionError> {
    let v5 = conn.version().is_v5();
    match packet {
        Packet::Publish(publish) => return handle_publish(conn, client, broker, publish).await,
        Packet::PubAck(_) | Packet::PubComp(_) => {
            broker.router().acknowledge(&client.session, &packet);
        }
        Packet::PubRec(_) => {
            let (reply, lsn) = broker.router().acknowledge(&client.session, &packet);
            if let Some(reply) = reply {
                conn.after_durable(lsn);
                conn.queue_packet(&reply)?;
            }
        }
        Packet::PubRel(ack) => {
            let (known, lsn) = broker.router().release(&client.session, ack.packet_id);
            conn.after_durable(lsn);
            let mut pubcomp = Ack::new(ack.packet_id);
            if !known && v5 {
                pubcomp.reason_code = ReasonCode::PacketIdentifierNotFound;
                pubcomp.properties.reason_string = Some(UNKNOWN_PACKET_ID.into());
            }
            conn.queue_packet(&Packet::PubComp(pubcomp))?;
        }
        Packet::Subscribe(subscribe) => {
            let first = subscribe
                .filters
                .first()
                .map(|(filter, _)| filter_text(filter))
                .unwrap_or("");
            tracing::debug!(first = %Clipped(first), filters = subscribe.filters.len(), "subscribing");
            let packet_id = subscribe.packet_id;
            let (reason_codes, lsn) = subscribe_checked(client, broker, subscribe);
            tracing::debug!(?reason_codes, "subscribed");
            conn.after_durable(lsn);
            let suback = SubAck {
                packet_id,
                properties: explain_filters(&reason_codes),
                reason_codes,
            };
            // [MQTT-3.8.4-1] SUBACK goes out before the retained messages it queued: they wait for the next
            // send_queued, which queues them behind it.
            conn.queue_packet(&Packet::SubAck(suback))?;
        }
        Packet::Unsubscribe(unsubscribe) => {
            let (reason_codes, lsn) = broker.router().unsubscribe(&client.session, &unsubscribe);
            conn.after_durable(lsn);
            let unsuback = UnsubAck {
                packet_id: unsubscribe.packet_id,
                properties: explain_filters(&reason_codes),
                reason_codes: if v5 { reason_codes } else { Vec::new() },
            };
            conn.queue_packet(&Packet::UnsubAck(unsuback))?;
        }
        Packet::PingReq => conn.queue_packet(&Packet::PingResp)?,
        Packet::Disconnect(disconnect) => {
            tracing::debug!(reason = %disconnect.reason_code, "client disconnected");
            if let Some(interval) = disconnect.properties.session_expiry_interval {
                if client.connect_expiry == 0 && interval != 0 {
                    tracing::info!(
                        client_id = %Clipped(&client.id),
                        "section 3.14.2.2.2: DISCONNECT sets a session expiry after CONNECT set 0"
                    );
                    let why = "DISCONNECT may not set a session expiry when CONNECT set none";
                    self::disconnect(conn, ReasonCode::ProtocolError, why).await?;
                    return Ok(Some(End::Abnormal));
                }
                let interval = interval.min(broker.config.max_session_expiry);
                broker
                    .router()
                    .set_expiry_interval(&client.session, client.connection_id, interval);
            }
            return Ok(Some(
                if disconnect.reason_code == ReasonCode::DisconnectWithWillMessage {
                    End::WithWill
                } else {
                    End::Normal
                },
            ));
        }
        Packet::Connect(_) => {
            tracing::info!(
                client_id = %Clipped(&client.id),
                "[MQTT-3.1.0-2] a second CONNECT is a protocol error"
            );
            disconnect(conn, ReasonCode::ProtocolError, "a second CONNECT").await?;
            return Ok(Some(End::Abnormal));
        }
        other => {
            // AUTH without an authentication method, or a packet only a server sends.
            tracing::info!(client_id = %Clipped(&client.id), packet = ?other.packet_type(), "protocol error: unexpected packet from a client");
            let why = format!("a client may not send {:?}", other.packet_type());
            disconnect(conn, ReasonCode::ProtocolError, &why).await?;
            return Ok(Some(End::Abnormal));
        }
    }
    Ok(None)
}

/// An inbound PUBLISH: resolve its topic alias, route it, acknowledge it per its QoS.
async fn handle_publish<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    client: &mut Client,
    broker: &Broker,
    publish: Publish,
) -> Result<Option<End>, ConnectionError> {
    let v5 = conn.version().is_v5();
    let topic = match publish.properties.topic_alias.map(NonZeroU16::get) {
        None => publish.topic.clone(),
        // [MQTT-3.3.2-9] an alias above our Topic Alias Maximum is a protocol error, 0x94.
        Some(alias) if alias > broker.config.topic_alias_maximum => {
            disconnect(conn, ReasonCode::TopicAliasInvalid, "topic alias above the maximum").await?;
            return Ok(Some(End::Abnormal));
        }
        Some(alias) if !publish.topic.is_empty() => {
            client.topic_aliases.insert(alias, publish.topic.clone());
            publish.topic.clone()
        }
        Some(alias) => match client.topic_aliases.get(&alias) {
            Some(topic) => topic.clone(),
            None => {
                // Section 3.3.2.3.4: an empty topic with an alias never set up is a protocol error.
                tracing::info!(client_id = %Clipped(&client.id), alias, "protocol error: unknown topic alias");
                disconnect(conn, ReasonCode::ProtocolError, "unknown topic alias").await?;
                return Ok(Some(End::Abnormal));
            }
        },
    };
    let qos_pid = publish.qos_pid;
    if qos_pid.qos() > broker.config.maximum_qos {
        // Section 3.2.2.3.4: a PUBLISH above the Maximum QoS we announced ([MQTT-3.2.2-11] binds the client) is a
        // protocol error, DISCONNECT 0x9B. MQTT 3.x was told nothing, but the limit holds: closed.
        tracing::info!(qos = ?qos_pid.qos(), "protocol error: PUBLISH above the maximum QoS");
        disconnect(conn, ReasonCode::QoSNotSupported, "QoS above the server's maximum").await?;
        return Ok(Some(End::Abnormal));
    }
    // A PUBLISH the broker will not route: MQTT 5 is told why in its PUBACK/PUBREC (a QoS 0 one is dropped); MQTT
    // 3.x has no negative acknowledgement, so it gets a plain one (3.1.1 [MQTT-3.3.5-2] allows that).
    if let Some((reason, why)) = refusal(&topic, &publish, &broker.config) {
        tracing::debug!(topic = %Clipped(topic.as_str()), "not routed: {why}");
        let reason = if v5 { reason } else { ReasonCode::Success };
        return ack_publish(conn, qos_pid, reason, Some(why).filter(|_| v5)).map(|()| None);
    }
    if !broker.auth.can_publish(&client.identity, &client.id, topic.as_str()) {
        // MQTT 5 is told (PUBACK/PUBREC 0x87); MQTT 3.x has no negative acknowledgement, so it gets a plain one
        // and the message is dropped ([MQTT-3.3.5-2] 3.1.1), as Mosquitto does. QoS 0: dropped silently.
        tracing::debug!(%topic, user = client.identity.name().unwrap_or(""), "not routed: not authorised");
        let reason = if v5 {
            ReasonCode::NotAuthorized
        } else {
            ReasonCode::Success
        };
        return ack_publish(conn, qos_pid, reason, Some(NOT_AUTHORISED).filter(|_| v5)).map(|()| None);
    }
    let now = Instant::now();
    let mut message = Message::from_publish(publish, topic, client.id.clone(), now);
    match broker.router().memory().try_charge(message.size()) {
        Some(charge) => message.charge = charge,
        // A QoS 2 retransmission of a message already accepted costs nothing more: the router answers it as the
        // duplicate it is ([MQTT-4.3.3-10] the first copy was kept).
        None if qos_pid.qos() == QoS::ExactlyOnce
            && qos_pid
                .packet_id()
                .is_some_and(|id| broker.router().is_inbound_duplicate(&client.session, id)) => {}
        None => return refuse_for_memory(conn, qos_pid, v5, broker, client),
    }
    let message = Arc::new(message);
    match qos_pid.qos() {
        QoS::AtMostOnce => {
            let routed = broker.router().publish(message, now);
            wait_for(client, routed);
        }
        QoS::AtLeastOnce => {
            let routed = broker.router().publish(message, now);
            // PUBACK once the retained message and the queue entries of stored sessions are durable.
            conn.after_durable(routed.lsn);
            ack_publish(conn, qos_pid, routed.reason(v5), None)?;
            wait_for(client, routed);
        }
        QoS::ExactlyOnce => {
            let packet_id = qos_pid.packet_id().expect("QoS 2 has a packet id");
            let inbound = broker.router().publish_exactly_once(
                &client.session,
                packet_id,
                message,
                // 0 cannot be sent in CONNACK; it means 1 here as it does there. An MQTT 3.x client was never told
                // a Receive Maximum, so it is bound only by its 65,535 packet ids (it cannot have more awaiting
                // PUBREL); disconnecting it for a limit it could not know would lose its messages.
                if v5 {
                    broker.config.receive_maximum.max(1)
                } else {
                    u16::MAX
                },
                now,
            );
            let reason = match inbound {
                Inbound::Routed(routed) => {
                    let reason = routed.reason(v5);
                    // PUBREC once the message and its packet id are durable together.
                    conn.after_durable(routed.lsn);
                    wait_for(client, routed);
                    reason
                }
                Inbound::Duplicate(lsn) => {
                    conn.after_durable(lsn);
                    ReasonCode::Success
                }
                Inbound::ReceiveMaximumExceeded => {
                    let why = "more QoS 2 messages awaiting PUBREL than the receive maximum";
                    disconnect(conn, ReasonCode::ReceiveMaximumExceeded, why).await?;
                    return Ok(Some(End::Abnormal));
                }
            };
            ack_publish(conn, qos_pid, reason, None)?;
        }
    }
    Ok(None)
}

/// A PUBLISH that does not fit in `max_memory`: refused before anything is kept or acknowledged. MQTT 5 is told
/// 0x97 Quota exceeded in its PUBACK/PUBREC (section 3.4.2.1) and may try again; MQTT 3.x has no negative
/// acknowledgement, and a plain one would promise what was not kept, so a QoS 1/2 publisher is disconnected
/// unacknowledged and sends the message again when it reconnects ([MQTT-4.4.0-1]). QoS 0 is dropped.
fn refuse_for_memory<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    qos_pid: QoSPid,
    v5: bool,
    broker: &Broker,
    client: &Client,
) -> Result<Option<End>, ConnectionError> {
    static REFUSED: crate::log_text::Throttle = crate::log_text::Throttle::new();
    let memory = broker.router().memory();
    if let Some(refused) = REFUSED.hit() {
        tracing::warn!(
            client_id = %Clipped(&client.id),
            refused,
            used = memory.used(),
            limit = memory.limit(),
            "PUBLISH refused: the messages held in memory reached [limits] max_memory"
        );
    }
    if v5 {
        let why = "the broker's memory for messages is full (max_memory); try again later";
        return ack_publish(conn, qos_pid, ReasonCode::QuotaExceeded, Some(why)).map(|()| None);
    }
    if qos_pid.qos() == QoS::AtMostOnce {
        return Ok(None);
    }
    Ok(Some(End::Abnormal))
}

/// Why a well-formed PUBLISH to `topic` is not routed, if it is not:
/// - a `$SYS` topic: those are the broker's own status ([`is_reserved_for_the_broker`]); 0x90 Topic Name invalid
///   ("the Topic Name is not malformed, but is not accepted", 3.4.2.1);
/// - a topic deeper than `max_topic_levels`: 0x90 too;
/// - Payload Format Indicator 1 with a payload that is not UTF-8: 0x99 Payload format invalid (section 3.3.2.3.2
///   lets the receiver check and refuse it).
fn refusal(topic: &TopicName, publish: &Publish, config: &Config) -> Option<(ReasonCode, &'static str)> {
    if is_reserved_for_the_broker(topic) {
        Some((ReasonCode::TopicNameInvalid, "$SYS topics are the broker's own"))
    } else if config.too_many_levels(topic.as_str()) {
        Some((ReasonCode::TopicNameInvalid, "topic has too many levels"))
    } else if topic.as_str().len() > config.max_topic_length {
        Some((ReasonCode::TopicNameInvalid, "topic longer than max_topic_length"))
    } else if publish.properties.payload_format_indicator == Some(true)
        && std::str::from_utf8(&publish.payload).is_err()
    {
        Some((
            ReasonCode::PayloadFormatInvalid,
            "payload is not UTF-8 although its format indicator says it is",
        ))
    } else {
        None
    }
}

/// Whether `topic` is one of the broker's own (`$SYS` and below), which clients may not publish to, nor use as a
/// will topic. Other `$` topics are the clients' to use: section 4.7.2 only keeps them from wildcards at the first
/// level ([MQTT-4.7.2-1], the matcher's job), and cloud brokers people bridge to use `$aws/...`, `$iothub/...`,
/// `$devices/...`. Mosquitto draws the same line.
pub(super) fn is_reserved_for_the_broker(topic: &TopicName) -> bool {
    let topic = topic.as_str();
    topic
        .strip_prefix("$SYS")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Remembers the sessions a routed message reached at their high-water mark: the session loop reads nothing more
/// from this client until they have room (flow control).
fn wait_for(client: &mut Client, routed: Routed) {
    for cell in routed.wait_for {
        if !client.wait_for.iter().any(|c| Arc::ptr_eq(c, &cell)) {
            client.wait_for.push(cell);
        }
    }
}

/// SUBSCRIBE with the edge's own per-filter refusals: a filter longer than `max_topic_length` gets 0x8F Topic
/// Filter invalid, one the ACL does not allow 0x87 Not authorized (3.x SUBACK: 0x80 for both), each on its own as
/// for an invalid filter ([MQTT-3.8.4-5], [MQTT-3.8.4-6]). The router is asked once, for the rest only, so it
/// neither stores a refused filter nor sends its retained messages; the reason codes are merged back in the order
/// of the SUBSCRIBE ([MQTT-3.9.3-1]).
fn subscribe_checked(client: &Client, broker: &Broker, mut subscribe: Subscribe) -> (Vec<ReasonCode>, Lsn) {
    if client.bridge {
        // A 3.x bridge cannot ask for these options; Mosquitto gives them to every subscription of a client whose
        // CONNECT carried the bridge mark: No Local ([MQTT-3.8.3-3]: not back to its publisher) and Retain As
        // Published ([MQTT-3.3.1-12]), so a bridge in each direction does not loop and retained stays retained.
        for (filter, options) in &mut subscribe.filters {
            // Not on a shared subscription, which may not have No Local ([MQTT-3.8.3-4]).
            options.no_local = filter.as_ref().is_ok_and(|f| f.shared().is_none());
            options.retain_as_published = true;
        }
    }
    let max = broker.config.max_topic_length;
    let policy = broker.auth.policy();
    let refusals: Vec<Option<ReasonCode>> = subscribe
        .filters
        .iter()
        .map(|(filter, _)| match filter {
            _ if filter_text(filter).len() > max => Some(ReasonCode::TopicFilterInvalid),
            // A shared subscription is checked for the filter it shares; an invalid filter is the router's to refuse.
            Ok(filter) if !policy.can_subscribe(client.identity.name(), &client.id, filter.matching_part()) => {
                Some(ReasonCode::NotAuthorized)
            }
            _ => None,
        })
        .collect();
    let mut refused = refusals.iter();
    subscribe
        .filters
        .retain(|_| refused.next().is_some_and(Option::is_none));
    let (served, lsn) = if subscribe.filters.is_empty() {
        (Vec::new(), 0)
    } else {
        broker.router().subscribe(&client.session, &subscribe, Instant::now())
    };
    let mut served = served.into_iter();
    let reasons = refusals
        .into_iter()
        .map(|refusal| refusal.unwrap_or_else(|| served.next().unwrap_or(ReasonCode::UnspecifiedError)))
        .collect();
    (reasons, lsn)
}

/// A filter as received, valid or not.
fn filter_text(filter: &Result<roost_codec::TopicFilter, roost_codec::InvalidFilter>) -> &str {
    match filter {
        Ok(filter) => filter.as_str(),
        Err(invalid) => invalid.as_str(),
    }
}

/// The Reason String of an acknowledgement refusing what the ACL does not allow.
const NOT_AUTHORISED: &str = "not authorised";

/// The Reason String of a PUBCOMP or PUBREL answering a packet id nobody is waiting for.
pub(crate) const UNKNOWN_PACKET_ID: &str = "unknown packet identifier";

/// A SUBACK's or UNSUBACK's properties: a Reason String when a filter was refused as invalid. One string covers
/// the packet; the reason codes say which filters.
fn explain_filters(reason_codes: &[ReasonCode]) -> Properties {
    let mut properties = Properties::default();
    if reason_codes.contains(&ReasonCode::TopicFilterInvalid) {
        properties.reason_string = Some("invalid topic filter".into());
    } else if reason_codes.contains(&ReasonCode::NotAuthorized) {
        properties.reason_string = Some(NOT_AUTHORISED.into());
    }
    properties
}

/// Queues PUBACK (QoS 1) or PUBREC (QoS 2) with `reason` and, for a refusal, `why` as its Reason String; nothing for
/// QoS 0.
fn ack_publish<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    qos_pid: QoSPid,
    reason: ReasonCode,
    why: Option<&str>,
) -> Result<(), ConnectionError> {
    let Some(packet_id) = qos_pid.packet_id() else {
        return Ok(());
    };
    let mut ack = Ack {
        reason_code: reason,
        ..Ack::new(packet_id)
    };
    ack.properties.reason_string = why.map(Into::into);
    let packet = match qos_pid.qos() {
        QoS::ExactlyOnce => Packet::PubRec(ack),
        _ => Packet::PubAck(ack),
    };
    conn.queue_packet(&packet)
}
