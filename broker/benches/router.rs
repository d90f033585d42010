//! The routing core without sockets: does routing scale with threads, and does its cost stay flat as filters are
//! added? Each thread publishes 64-byte QoS 0 messages to a topic of its own with a subscriber of its own (the
//! shape of unrelated devices), so any slowdown with more threads is contention inside the router.
//!
//! `cargo bench -p roost-broker --bench router`; figures are per message (criterion's throughput is messages).

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use roost_broker::router_bench::RouterBench;

const PER_THREAD: usize = 20_000;

fn disjoint_topics(c: &mut Criterion) {
    let mut group = c.benchmark_group("router/disjoint-topics");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    for idle_filters in [0, 10_000] {
        for threads in [1, 2, 4] {
            let bench = RouterBench::new(threads, idle_filters);
            group.throughput(Throughput::Elements((threads * PER_THREAD) as u64));
            let id = BenchmarkId::new(format!("{idle_filters}-idle-filters"), format!("{threads}-threads"));
            group.bench_function(id, |b| {
                b.iter_custom(|iterations| (0..iterations).map(|_| bench.publish_disjoint(PER_THREAD)).sum())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, disjoint_topics);
criterion_main!(benches);
