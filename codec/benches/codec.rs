//! Decode and encode throughput of typical packets: PUBLISH with a 64 B and a 1 KiB payload in 3.1.1 and 5.0, a
//! CONNECT with properties and a will, a SUBSCRIBE with ten filters. Run with
//! `cargo bench -p roost-codec --bench codec`; BENCHMARKS.md at the workspace root records a run.

// criterion needs a clock wasm32-unknown-unknown lacks: on wasm this is an empty program.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(native::benches);

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;
    use std::num::{NonZeroU16, NonZeroU32};

    use criterion::{BatchSize, Criterion, Throughput, criterion_group};
    use roost_codec::{
        ByteString, Bytes, BytesMut, Connect, MAX_PACKET_SIZE, Packet, PacketId, Properties, ProtocolVersion, Publish,
        QoS, QoSPid, RetainHandling, Subscribe, SubscriptionOptions, TopicFilter, TopicName, Will,
    };

    criterion_group!(benches, codec);

    fn publish(version: ProtocolVersion, payload: usize) -> Packet {
        let mut p = Publish::new(
            TopicName::new("sensors/kitchen/temperature").unwrap(),
            Bytes::from(vec![0x5A; payload]),
        );
        p.qos_pid = QoSPid::AtLeastOnce(PacketId::new(42).unwrap());
        if version.is_v5() {
            p.properties = Properties {
                payload_format_indicator: Some(false),
                message_expiry_interval: Some(3600),
                topic_alias: Some(NonZeroU16::new(3).unwrap()),
                ..Properties::default()
            };
        }
        Packet::Publish(p)
    }

    fn connect_v5() -> Packet {
        Packet::Connect(Box::new(Connect {
            keep_alive: 30,
            properties: Properties {
                session_expiry_interval: Some(3600),
                receive_maximum: Some(NonZeroU16::new(64).unwrap()),
                maximum_packet_size: Some(NonZeroU32::new(1 << 20).unwrap()),
                topic_alias_maximum: Some(16),
                request_problem_information: Some(true),
                user_properties: vec![(ByteString::from("client"), ByteString::from("roost-dashboard"))],
                ..Properties::default()
            },
            will: Some(Will {
                topic: TopicName::new("roost/clients/dashboard-1/status").unwrap(),
                payload: Bytes::from_static(b"offline"),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: Properties {
                    will_delay_interval: Some(5),
                    content_type: Some(ByteString::from("text/plain")),
                    ..Properties::default()
                },
            }),
            username: Some(ByteString::from("dashboard")),
            password: Some(Bytes::from_static(b"correct horse battery staple")),
            ..Connect::new(ProtocolVersion::V5, "dashboard-1")
        }))
    }

    fn subscribe_ten_v5() -> Packet {
        let filters = (0..10)
            .map(|i| {
                let filter = match i % 3 {
                    0 => format!("home/room{i}/+/temperature"),
                    1 => format!("home/room{i}/#"),
                    _ => format!("$share/dashboards/alerts/{i}"),
                };
                let options = SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    retain_handling: RetainHandling::SendIfNew,
                    ..SubscriptionOptions::default()
                };
                (Ok(TopicFilter::new(filter).unwrap()), options)
            })
            .collect();
        Packet::Subscribe(Subscribe {
            packet_id: PacketId::new(7).unwrap(),
            properties: Properties {
                subscription_identifiers: vec![NonZeroU32::new(12).unwrap()],
                ..Properties::default()
            },
            filters,
        })
    }

    fn codec(c: &mut Criterion) {
        use ProtocolVersion::{V5, V311};
        let cases = [
            ("publish_64B_v3.1.1", V311, publish(V311, 64)),
            ("publish_64B_v5", V5, publish(V5, 64)),
            ("publish_1KiB_v3.1.1", V311, publish(V311, 1024)),
            ("publish_1KiB_v5", V5, publish(V5, 1024)),
            ("connect_properties_will_v5", V5, connect_v5()),
            ("subscribe_10_filters_v5", V5, subscribe_ten_v5()),
        ];
        for (name, version, packet) in &cases {
            let mut bytes = BytesMut::new();
            packet.encode(*version, &mut bytes, MAX_PACKET_SIZE).unwrap();
            let mut group = c.benchmark_group(*name);
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            group.bench_function("decode", |b| {
                b.iter_batched(
                    || BytesMut::from(&bytes[..]),
                    |mut buf| Packet::decode(black_box(&mut buf), *version, MAX_PACKET_SIZE).unwrap(),
                    BatchSize::SmallInput,
                )
            });
            let mut out = BytesMut::with_capacity(bytes.len());
            group.bench_function("encode", |b| {
                b.iter(|| {
                    out.clear();
                    black_box(packet).encode(*version, &mut out, MAX_PACKET_SIZE).unwrap();
                    black_box(out.len())
                })
            });
            group.finish();
        }
    }
}
