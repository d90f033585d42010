//! The router driven without sockets, for `benches/router.rs`: several threads publishing at once, each to a
//! topic of its own with a subscriber of its own, the way unrelated devices load a house's broker. Not part of
//! the broker's API; public only so the criterion bench (a crate of its own) can reach the router.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use bytestring::ByteString;
use roost_codec::{PacketId, ProtocolVersion, Publish, QoS, Subscribe, SubscriptionOptions, TopicFilter, TopicName};

use crate::config::Config;
use crate::message::Message;
use crate::router::Router;
use crate::session::{Attached, Mailbox, SessionCell};

/// A router with one subscriber per publishing thread, plus idle filters that never match.
#[derive(Debug)]
pub struct RouterBench {
    router: Router,
    /// Per thread: its topic and its subscriber's session.
    lanes: Vec<(TopicName, Arc<SessionCell>)>,
}

impl RouterBench {
    /// `threads` lanes (topic `lane/<i>/state`, each with its own subscriber) and `idle_filters` other
    /// subscriptions, half exact and half with `+`, that no lane's topic matches.
    pub fn new(threads: usize, idle_filters: usize) -> Self {
        let router = Router::new(&Config::default());
        let now = Instant::now();
        let mut next_connection = 0;
        let mut session = |router: &Router, name: String| {
            next_connection += 1;
            let attached = Attached {
                connection_id: next_connection,
                mailbox: Arc::new(Mailbox::default()),
                user: None,
                info: None,
            };
            let id = ByteString::from(name);
            router.connect(&id, ProtocolVersion::V5, true, 0, attached, now).1
        };
        let subscribe = |router: &Router, cell: &Arc<SessionCell>, filter: String| {
            let subscribe = Subscribe {
                packet_id: PacketId::new(1).expect("not 0"),
                properties: Default::default(),
                filters: vec![(
                    Ok(TopicFilter::new(filter).expect("a valid filter")),
                    SubscriptionOptions::qos(QoS::AtMostOnce),
                )],
            };
            router.subscribe(cell, &subscribe, now);
        };
        let idle = session(&router, "idle".into());
        for i in 0..idle_filters {
            let filter = if i % 2 == 0 {
                format!("device/{i}/state")
            } else {
                format!("device/{i}/+")
            };
            subscribe(&router, &idle, filter);
        }
        let lanes = (0..threads)
            .map(|i| {
                let cell = session(&router, format!("sub-{i}"));
                subscribe(&router, &cell, format!("lane/{i}/state"));
                (TopicName::new(format!("lane/{i}/state")).expect("a valid topic"), cell)
            })
            .collect();
        RouterBench { router, lanes }
    }

    /// Every lane's thread publishes `per_thread` QoS 0 messages of 64 bytes to its own topic at once, taking
    /// them off its subscriber's queue every 64 messages as that subscriber's connection would; returns the time
    /// from the start signal to the last thread's end.
    pub fn publish_disjoint(&self, per_thread: usize) -> Duration {
        let barrier = Barrier::new(self.lanes.len() + 1);
        std::thread::scope(|scope| {
            for (connection, (topic, cell)) in self.lanes.iter().enumerate() {
                let barrier = &barrier;
                let router = &self.router;
                scope.spawn(move || {
                    let publisher = ByteString::from(format!("pub-{connection}"));
                    barrier.wait();
                    let now = Instant::now();
                    for i in 0..per_thread {
                        let publish = Publish::new(topic.clone(), vec![b'x'; 64]);
                        let message = Message::from_publish(publish, topic.clone(), publisher.clone(), now);
                        router.publish(Arc::new(message), now);
                        if i % 64 == 63 {
                            let drained = router.outgoing(cell, connection as u64 + 2, 64, 64, now, |_| true);
                            assert!(drained.is_some_and(|(packets, _, _)| packets.len() == 64));
                        }
                    }
                });
            }
            barrier.wait();
            let started = Instant::now();
            // The scope joins every thread before returning.
            started
        })
        .elapsed()
    }
}
