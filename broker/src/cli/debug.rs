//! `-d`: one line per packet sent or received, worded like libmosquitto's debug log
//! (`Client <id> sending PUBLISH (d0, q1, r0, m1, 'a', ... (2 bytes))`).

use roost_codec::Packet;

/// How a packet reads in the debug log (everything after "sending " / "received ").
pub(crate) fn describe(packet: &Packet) -> String {
    match packet {
        Packet::Connect(_) => "CONNECT".into(),
        Packet::ConnAck(c) => format!("CONNACK ({})", c.reason_code.as_u8()),
        Packet::Publish(p) => {
            let mid = p.qos_pid.packet_id().map_or(0, |id| id.get());
            format!(
                "PUBLISH (d{}, q{}, r{}, m{mid}, '{}', ... ({} bytes))",
                u8::from(p.dup),
                p.qos() as u8,
                u8::from(p.retain),
                p.topic,
                p.payload.len()
            )
        }
        Packet::PubAck(a) => format!("PUBACK (Mid: {}, RC:{})", a.packet_id, a.reason_code.as_u8()),
        Packet::PubRec(a) => format!("PUBREC (Mid: {}, RC:{})", a.packet_id, a.reason_code.as_u8()),
        Packet::PubRel(a) => format!("PUBREL (Mid: {})", a.packet_id),
        Packet::PubComp(a) => format!("PUBCOMP (Mid: {}, RC:{})", a.packet_id, a.reason_code.as_u8()),
        Packet::Subscribe(s) => {
            let filters: Vec<String> = s
                .filters
                .iter()
                .map(|(f, o)| {
                    let f = f.as_ref().map_or_else(|invalid| invalid.as_str(), |f| f.as_str());
                    let options = u8::from(o.no_local) << 2
                        | u8::from(o.retain_as_published) << 3
                        | (o.retain_handling as u8) << 4;
                    format!("Topic: {f}, QoS: {}, Options: 0x{options:02x}", o.qos as u8)
                })
                .collect();
            format!("SUBSCRIBE (Mid: {}, {})", s.packet_id, filters.join("; "))
        }
        Packet::SubAck(s) => {
            let codes: Vec<String> = s.reason_codes.iter().map(|c| c.as_u8().to_string()).collect();
            format!("SUBACK (Mid: {}, {})", s.packet_id, codes.join(", "))
        }
        Packet::Unsubscribe(u) => format!("UNSUBSCRIBE (Mid: {})", u.packet_id),
        Packet::UnsubAck(u) => format!("UNSUBACK (Mid: {})", u.packet_id),
        Packet::PingReq => "PINGREQ".into(),
        Packet::PingResp => "PINGRESP".into(),
        Packet::Disconnect(d) => format!("DISCONNECT ({})", d.reason_code.as_u8()),
        Packet::Auth(_) => "AUTH".into(),
    }
}
