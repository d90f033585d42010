//! Why a connection ended, in sentences for a person: the status line shows them as they are.

use std::time::Duration;

use roost_codec::client::{Disconnected, Refused};
use roost_codec::{ReasonCode, TopicFilter};

/// A refused CONNACK: its reason code, and the broker's reason string and server reference if it sent them.
pub(super) fn refused(refused: &Refused) -> String {
    let mut why = format!("The broker refused the connection: {}", refused.reason_code);
    push_diagnostics(
        &mut why,
        refused.reason_string.as_deref(),
        refused.server_reference.as_deref(),
    );
    why
}

/// A DISCONNECT: the broker's, or the one the client sent because the broker broke the protocol (then the
/// client's reason string describes the broker's mistake).
pub(super) fn disconnected(disconnected: &Disconnected) -> String {
    let code = reason_words(disconnected.reason_code);
    let mut why = match (disconnected.by_server, disconnected.reason_string.as_deref()) {
        (true, _) => format!("The broker disconnected: {code}"),
        (false, Some(mistake)) => {
            return format!("The broker broke the protocol ({mistake}), so the dashboard disconnected: {code}.");
        }
        (false, None) => format!("The dashboard disconnected: {code}"),
    };
    push_diagnostics(
        &mut why,
        disconnected.reason_string.as_deref(),
        disconnected.server_reference.as_deref(),
    );
    why
}

/// No packet arrived within half the keep alive after our PINGREQ.
pub(super) fn ping_timeout(keep_alive_secs: u16) -> String {
    format!(
        "The broker did not answer PINGREQ within {} s, so the connection is taken as lost.",
        keep_alive_secs.div_ceil(2)
    )
}

/// No CONNACK within the connect timeout.
pub(super) fn connect_timeout(timeout: Duration) -> String {
    format!("The broker did not answer CONNECT within {} s.", timeout.as_secs())
}

/// The WebSocket closed before it opened: nothing listens, or the HTTP upgrade was refused.
pub(super) fn unreachable(code: u16) -> String {
    format!("Cannot reach the broker's WebSocket (close code {code}).")
}

/// The WebSocket closed while CONNECT waited for its CONNACK.
pub(super) fn closed_before_connack(code: u16) -> String {
    format!("The broker closed the connection before answering CONNECT (close code {code}).")
}

/// The WebSocket of an accepted connection closed, without a DISCONNECT.
pub(super) fn connection_closed(code: u16, reason: &str) -> String {
    if reason.is_empty() {
        format!("The connection was closed (close code {code}).")
    } else {
        format!("The connection was closed (close code {code}: {reason}).")
    }
}

/// [MQTT-6.0.0-1] MQTT travels in binary frames only; a text frame ends the connection.
pub(super) const TEXT_FRAME: &str = "The broker sent a text frame, which is not MQTT ([MQTT-6.0.0-1]).";

/// 0x00 in a DISCONNECT reads "Normal disconnection", not the codec's "Success".
fn reason_words(code: ReasonCode) -> String {
    if code == ReasonCode::NORMAL_DISCONNECTION {
        "Normal disconnection (0x00)".to_owned()
    } else {
        code.to_string()
    }
}

/// Ends `why` with the broker's diagnostics, if any, and a full stop.
fn push_diagnostics(why: &mut String, reason_string: Option<&str>, server_reference: Option<&str>) {
    if let Some(reason) = reason_string {
        why.push_str(": ");
        // The full stop is ours; a reason string that brings its own would make two.
        why.push_str(reason.trim_end_matches('.'));
    }
    why.push('.');
    if let Some(server) = server_reference {
        why.push_str(" The broker suggests another server: ");
        why.push_str(server);
        why.push('.');
    }
}

/// A sentence per filter the broker refused in a SUBACK (a reason code of 0x80 or above, [MQTT-3.9.3-1] gives
/// one per filter in order), with the broker's reason string if it sent one.
pub(super) fn refused_subscriptions(
    filters: &[TopicFilter],
    reason_codes: &[ReasonCode],
    reason_string: Option<&str>,
) -> Vec<String> {
    filters
        .iter()
        .zip(reason_codes)
        .filter(|(_, code)| code.is_error())
        .map(|(filter, code)| {
            let mut why = format!("The broker refused the subscription to {}: {code}", filter.as_str());
            push_diagnostics(&mut why, reason_string, None);
            why
        })
        .collect()
}
