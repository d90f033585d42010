//! How `roost sub` prints a message: the payload alone, `-v` ("topic payload"), or a `-F` format string, with
//! mosquitto_sub's sequences (`%t`, `%p`, `%10.10t`, `@H`, `\n`, ...).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use roost_codec::Publish;

/// What to print for each message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Format {
    /// The payload.
    Payload,
    /// `-v`: "topic payload"; an empty payload prints as "(null)".
    Verbose,
    /// `-F`.
    Custom(String),
}

/// Appends `publish`, printed as `format`, to `out`; `newline` appends "\n" (not with `-N`).
pub(crate) fn write_message(format: &Format, publish: &Publish, now: SystemTime, newline: bool, out: &mut Vec<u8>) {
    match format {
        Format::Payload => out.extend_from_slice(&publish.payload),
        Format::Verbose => {
            out.extend_from_slice(publish.topic.as_str().as_bytes());
            out.push(b' ');
            if publish.payload.is_empty() {
                out.extend_from_slice(b"(null)");
            } else {
                out.extend_from_slice(&publish.payload);
            }
        }
        Format::Custom(f) => write_custom(f, publish, now, out),
    }
    if newline {
        out.push(b'\n');
    }
}

/// A `%` sequence's flags, width and maximum width.
#[derive(Debug, Default)]
struct Spec {
    zero: bool,
    left: bool,
    width: usize,
    max: Option<usize>,
}

impl Spec {
    /// Writes `value` padded to the width, zero padded if asked and `numeric`, cut to the maximum width.
    fn pad(&self, value: &[u8], numeric: bool, out: &mut Vec<u8>) {
        let value = match self.max {
            Some(max) if value.len() > max => &value[..max],
            _ => value,
        };
        let fill = self.width.saturating_sub(value.len());
        if self.left {
            out.extend_from_slice(value);
            out.resize(out.len() + fill, b' ');
        } else {
            let pad = if self.zero && numeric { b'0' } else { b' ' };
            out.resize(out.len() + fill, pad);
            out.extend_from_slice(value);
        }
    }
}

/// Interprets a `-F` format string for one message.
fn write_custom(format: &str, p: &Publish, now: SystemTime, out: &mut Vec<u8>) {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut chars = format.chars().peekable();
    let mut utf8 = [0; 4];
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                let mut spec = Spec::default();
                while let Some(&f) = chars.peek() {
                    match f {
                        '0' => spec.zero = true,
                        '-' => spec.left = true,
                        _ => break,
                    }
                    chars.next();
                }
                spec.width = digits(&mut chars).unwrap_or(0);
                if chars.peek() == Some(&'.') {
                    chars.next();
                    spec.max = Some(digits(&mut chars).unwrap_or(0));
                }
                let Some(conversion) = chars.next() else {
                    out.push(b'%');
                    break;
                };
                write_field(conversion, &spec, p, now, out);
            }
            '@' => match chars.next() {
                Some('@') => out.push(b'@'),
                Some('N') => out.extend_from_slice(format!("{:09}", since_epoch.subsec_nanos()).as_bytes()),
                Some(field) => out.extend_from_slice(strftime_field(field, since_epoch.as_secs()).as_bytes()),
                None => out.push(b'@'),
            },
            '\\' => match chars.next() {
                Some('\\') => out.push(b'\\'),
                Some('0') => out.push(0),
                Some('a') => out.push(0x07),
                Some('e') => out.push(0x1B),
                Some('n') => out.push(b'\n'),
                Some('r') => out.push(b'\r'),
                Some('t') => out.push(b'\t'),
                Some('v') => out.push(0x0B),
                Some(other) => {
                    out.push(b'\\');
                    out.extend_from_slice(other.encode_utf8(&mut utf8).as_bytes());
                }
                None => out.push(b'\\'),
            },
            other => out.extend_from_slice(other.encode_utf8(&mut utf8).as_bytes()),
        }
    }
}

/// One `%` conversion.
fn write_field(conversion: char, spec: &Spec, p: &Publish, now: SystemTime, out: &mut Vec<u8>) {
    let props = &p.properties;
    let text = |s: Option<&str>, out: &mut Vec<u8>| {
        if let Some(s) = s {
            spec.pad(s.as_bytes(), false, out);
        }
    };
    let number = |n: Option<u64>, out: &mut Vec<u8>| {
        if let Some(n) = n {
            spec.pad(n.to_string().as_bytes(), true, out);
        }
    };
    match conversion {
        '%' => out.push(b'%'),
        // The client resolves topic aliases and removes the property before the message reaches us.
        'A' => number(props.topic_alias.map(|a| u64::from(a.get())), out),
        'C' => text(props.content_type.as_deref(), out),
        'D' => {
            if let Some(data) = &props.correlation_data {
                out.extend_from_slice(data);
            }
        }
        'E' => number(props.message_expiry_interval.map(u64::from), out),
        'F' => number(props.payload_format_indicator.map(u64::from), out),
        'l' => number(Some(p.payload.len() as u64), out),
        'm' => number(Some(p.qos_pid.packet_id().map_or(0, |id| u64::from(id.get()))), out),
        'P' => {
            let pairs: Vec<String> = props.user_properties.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            out.extend_from_slice(pairs.join(" ").as_bytes());
        }
        'p' => out.extend_from_slice(&p.payload),
        'q' => out.push(b'0' + p.qos() as u8),
        'R' => text(props.response_topic.as_ref().map(|t| t.as_str()), out),
        'r' => out.push(if p.retain { b'1' } else { b'0' }),
        'S' => {
            let ids: Vec<String> = props.subscription_identifiers.iter().map(|i| i.to_string()).collect();
            spec.pad(ids.join(",").as_bytes(), true, out);
        }
        't' => text(Some(p.topic.as_str()), out),
        'x' => spec.pad(hex(&p.payload, false).as_bytes(), true, out),
        'X' => spec.pad(hex(&p.payload, true).as_bytes(), true, out),
        'I' => text(Some(&iso8601(now, false)), out),
        'U' => {
            let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
            out.extend_from_slice(format!("{}.{:09}", d.as_secs(), d.subsec_nanos()).as_bytes());
        }
        'j' | 'J' => out.extend_from_slice(json(p, now, conversion == 'J').as_bytes()),
        other => {
            out.push(b'%');
            let mut utf8 = [0; 4];
            out.extend_from_slice(other.encode_utf8(&mut utf8).as_bytes());
        }
    }
}

/// A run of decimal digits, if any.
fn digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
        chars.next();
    }
    n
}

/// The payload in hex.
fn hex(bytes: &[u8], upper: bool) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = if upper {
            write!(s, "{b:02X}")
        } else {
            write!(s, "{b:02x}")
        };
    }
    s
}

/// The civil UTC date and time of `secs` since the epoch: (year, month, day, hour, minute, second).
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem / 60 % 60) as u32,
        (rem % 60) as u32,
    )
}

/// ISO 8601 in UTC, as mosquitto_sub's `%I` prints it in a UTC time zone (`2016-08-10T09:47:38+0000`);
/// `micros` adds the microseconds `%j` prints.
fn iso8601(now: SystemTime, micros: bool) -> String {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (y, mo, da, h, mi, s) = civil(d.as_secs());
    if micros {
        format!(
            "{y:04}-{mo:02}-{da:02}T{h:02}:{mi:02}:{s:02}.{:06}Z+0000",
            d.subsec_micros()
        )
    } else {
        format!("{y:04}-{mo:02}-{da:02}T{h:02}:{mi:02}:{s:02}+0000")
    }
}

/// The common strftime fields, in UTC; others print as themselves.
fn strftime_field(field: char, secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    match field {
        'Y' => format!("{y:04}"),
        'm' => format!("{mo:02}"),
        'd' => format!("{d:02}"),
        'H' => format!("{h:02}"),
        'M' => format!("{mi:02}"),
        'S' => format!("{s:02}"),
        's' => secs.to_string(),
        'F' => format!("{y:04}-{mo:02}-{d:02}"),
        'T' => format!("{h:02}:{mi:02}:{s:02}"),
        'z' => "+0000".into(),
        'Z' => "UTC".into(),
        other => format!("@{other}"),
    }
}

/// `%j` / `%J`: the message as one JSON object, like mosquitto_sub's.
fn json(p: &Publish, now: SystemTime, raw_payload: bool) -> String {
    let mut s = format!(
        "{{\"tst\":\"{}\",\"topic\":\"{}\",\"qos\":{},\"retain\":{},\"payloadlen\":{}",
        iso8601(now, true),
        escape(p.topic.as_str()),
        p.qos() as u8,
        u8::from(p.retain),
        p.payload.len()
    );
    if let Some(id) = p.qos_pid.packet_id() {
        let _ = write!(s, ",\"mid\":{id}");
    }
    let payload = String::from_utf8_lossy(&p.payload);
    if raw_payload {
        let _ = write!(s, ",\"payload\":{payload}}}");
    } else {
        let _ = write!(s, ",\"payload\":\"{}\"}}", escape(&payload));
    }
    s
}

/// A JSON string's contents.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use roost_codec::{PacketId, QoSPid, TopicName};

    use super::*;

    fn message() -> Publish {
        let mut p = Publish::new(TopicName::new("b/1").unwrap(), "hi");
        p.qos_pid = QoSPid::new(roost_codec::QoS::AtLeastOnce, PacketId::new(7).unwrap());
        p.retain = true;
        p.properties.user_properties.push(("k".into(), "v".into()));
        p.properties.user_properties.push(("k2".into(), "v2".into()));
        p
    }

    fn show(format: &Format, newline: bool) -> String {
        let now = UNIX_EPOCH + Duration::new(1_470_822_458, 123_456_789);
        let mut out = Vec::new();
        write_message(format, &message(), now, newline, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn payload_and_verbose() {
        assert_eq!(show(&Format::Payload, true), "hi\n");
        assert_eq!(show(&Format::Verbose, false), "b/1 hi");
    }

    #[test]
    fn custom_sequences_match_mosquitto_sub() {
        let f = |s: &str| show(&Format::Custom(s.into()), false);
        assert_eq!(
            f("%m|%5t|%-5t|%.2t|%05l|%x|\\t|@@|%%"),
            "7|  b/1|b/1  |b/|00002|6869|\t|@|%"
        );
        assert_eq!(f("%t %p %q %r %l %X %P"), "b/1 hi 1 1 2 6869 k:v k2:v2");
        assert_eq!(f("%I"), "2016-08-10T09:47:38+0000");
        assert_eq!(f("@Y-@m-@d @H:@M:@S.@N"), "2016-08-10 09:47:38.123456789");
        assert_eq!(f("%U"), "1470822458.123456789");
        assert_eq!(
            f("%j"),
            r#"{"tst":"2016-08-10T09:47:38.123456Z+0000","topic":"b/1","qos":1,"retain":1,"payloadlen":2,"mid":7,"payload":"hi"}"#
        );
        assert_eq!(f("%C%R%E%"), "%");
        assert_eq!(f("a\\0b"), "a\0b");
    }
}
