//! The store under faults: power cuts that lose unsynced writes, writes torn at every byte, failing fsyncs,
//! corruption in the middle of the log; group commit counted through the fault layer; and a property test that
//! replays random histories cut at random points.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use proptest::prelude::*;
use roost_codec::QoS;

use super::fs::FaultFs;
use super::log;
use super::*;

const DIR: &str = "/data";

fn dir() -> &'static Path {
    Path::new(DIR)
}

fn opts(sync: SyncMode) -> StoreOptions {
    StoreOptions {
        sync,
        ..StoreOptions::default()
    }
}

fn open(fs: &FaultFs, options: StoreOptions) -> (Store, Recovered) {
    Store::open_with(Arc::new(fs.clone()), dir(), options).expect("open never fails on a listable directory")
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn retained(topic: &str, payload: &str) -> Record {
    Record::RetainedSet {
        message: StoredMessage {
            topic: topic.into(),
            payload: Bytes::copy_from_slice(payload.as_bytes()),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Bytes::new(),
            expires_at_ms: None,
            publisher: Some("p".into()),
        },
    }
}

/// The state `submits` leave, as recovery would build it.
fn model(submits: &[Vec<Record>]) -> State {
    let mut state = State::default();
    for records in submits {
        for record in records {
            state.apply(record.clone());
        }
    }
    state.collect_garbage();
    state
}

/// Submits each entry, waiting for each to be durable.
fn submit_all(store: &Store, submits: &[Vec<Record>]) -> Lsn {
    let mut lsn = 0;
    for records in submits {
        lsn = store.submit(records.clone()).unwrap();
    }
    block_on(store.durable(lsn)).unwrap();
    lsn
}

/// Submits each entry and waits for it before the next: one frame per submit.
fn submit_each(store: &Store, submits: &[Vec<Record>]) -> Lsn {
    let mut lsn = 0;
    for records in submits {
        lsn = store.submit(records.clone()).unwrap();
        block_on(store.durable(lsn)).unwrap();
    }
    lsn
}

/// The length of the first frame in a segment's `data`.
fn first_frame_len(data: &[u8]) -> usize {
    let at = log::FILE_HEADER;
    log::HEADER + u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize
}

fn history(n: usize) -> Vec<Vec<Record>> {
    (0..n)
        .map(|i| vec![retained(&format!("t/{}", i % 7), &format!("value {i}"))])
        .collect()
}

#[test]
fn what_was_acknowledged_survives_reopen_and_a_power_cut() {
    let fs = FaultFs::new();
    let (store, recovered) = open(&fs, opts(SyncMode::Always));
    assert_eq!(recovered.report.last_lsn, 0);
    let submits = history(20);
    let lsn = submit_all(&store, &submits);
    // The acknowledgement point: a power cut now keeps everything up to `lsn`.
    let crashed = fs.fork();
    crashed.power_cut();
    let (_, recovered) = open(&crashed, opts(SyncMode::Always));
    assert_eq!(recovered.report.last_lsn, lsn);
    assert_eq!(recovered.state, model(&submits));
    assert!(recovered.report.is_clean(), "{}", recovered.report);
    drop(store);
    let (_, again) = open(&fs, opts(SyncMode::Always));
    assert_eq!(again.state, model(&submits));
}

/// Every cut of the unsynced tail (a write torn at each byte, or lost altogether) recovers exactly the whole
/// entries before the cut: never a partial entry, never an error.
#[test]
fn a_write_torn_at_every_byte_recovers_the_entries_before_it() {
    let fs = FaultFs::new();
    let synced = history(3);
    let (store, _) = open(&fs, opts(SyncMode::Always));
    submit_all(&store, &synced);
    drop(store);
    // `never`: written, not synced: a power cut may keep any prefix of these.
    let (store, _) = open(&fs, opts(SyncMode::Never));
    let unsynced: Vec<Vec<Record>> = (0..3)
        .map(|i| vec![retained("t/x", &format!("late {i}")), retained(&format!("u/{i}"), "y")])
        .collect();
    // One frame per submit (each written before the next is submitted), measured in the new segment.
    let segment = dir().join(log::segment_name(4));
    let mut sizes = Vec::new();
    let mut len = fs.contents(&segment).unwrap().len();
    assert_eq!(len, log::FILE_HEADER);
    for records in &unsynced {
        submit_each(&store, std::slice::from_ref(records));
        let now = fs.contents(&segment).unwrap().len();
        sizes.push(now - len);
        len = now;
    }
    let total: usize = log::FILE_HEADER + sizes.iter().sum::<usize>();
    for keep in 0..=total {
        let crashed = fs.fork();
        crashed.power_cut_with(|_, unsynced_len| {
            assert!(
                unsynced_len == 0 || unsynced_len == total,
                "only the new segment (header and frames) is unsynced"
            );
            keep.min(unsynced_len)
        });
        let (_, recovered) = open(&crashed, opts(SyncMode::Always));
        // A torn header is a segment with nothing in it; after the header, whole frames count.
        let frames_kept = keep.saturating_sub(log::FILE_HEADER);
        let whole = sizes.iter().scan(0, |sum, s| {
            *sum += s;
            Some(*sum)
        });
        let entries = whole.take_while(|end| *end <= frames_kept).count();
        let mut expected = synced.clone();
        expected.extend_from_slice(&unsynced[..entries]);
        assert_eq!(recovered.state, model(&expected), "keep {keep}");
        assert_eq!(recovered.report.last_lsn, 3 + entries as u64);
        assert!(
            recovered.report.is_clean(),
            "a torn tail is not corruption: {}",
            recovered.report
        );
        let torn = frames_kept - sizes[..entries].iter().sum::<usize>();
        assert_eq!(recovered.report.torn_bytes, torn as u64, "keep {keep}");
        // Whatever was cut, the store goes on from there and the next start is clean.
        let (store, _) = open(&crashed, opts(SyncMode::Always));
        let lsn = submit_all(&store, &[vec![retained("after", "crash")]]);
        assert_eq!(lsn, 4 + entries as u64);
        drop(store);
        let (_, next) = open(&crashed, opts(SyncMode::Always));
        expected.push(vec![retained("after", "crash")]);
        assert_eq!(next.state, model(&expected));
        assert_eq!(next.report.torn_bytes, 0);
    }
    drop(store);
}

#[test]
fn a_truncated_tail_is_cut_and_reported_in_one_line() {
    let fs = FaultFs::new();
    let (store, _) = open(&fs, opts(SyncMode::Always));
    let submits = history(5);
    submit_each(&store, &submits);
    drop(store);
    let segment = fs
        .names(dir())
        .into_iter()
        .find(|n| n.starts_with("wal-") && fs.contents(&dir().join(n)).unwrap().len() > log::FILE_HEADER)
        .unwrap();
    let path = dir().join(&segment);
    let mut data = fs.contents(&path).unwrap();
    data.truncate(data.len() - 3);
    fs.set_contents(&path, data);
    let (_, recovered) = open(&fs, opts(SyncMode::Always));
    assert_eq!(recovered.state, model(&submits[..4]));
    let line = recovered.report.to_string();
    assert!(!line.contains('\n'));
    assert!(
        line.contains("up to LSN 4") && line.contains("cut a torn tail of"),
        "{line}"
    );
}

#[test]
fn corruption_before_the_tail_is_set_aside_and_the_prefix_kept() {
    let fs = FaultFs::new();
    let first = history(4);
    let (store, _) = open(&fs, opts(SyncMode::Always));
    submit_each(&store, &first);
    drop(store);
    let second: Vec<Vec<Record>> = vec![vec![retained("z", "1")], vec![retained("z", "2")]];
    let (store, _) = open(&fs, opts(SyncMode::Always));
    submit_each(&store, &second);
    drop(store);
    // Flip a byte inside the second frame of the first segment: frames 3, 4 and the whole next segment follow.
    let first_segment = dir().join(log::segment_name(1));
    let mut data = fs.contents(&first_segment).unwrap();
    let at = log::FILE_HEADER + first_frame_len(&data) + log::HEADER + 3;
    data[at] ^= 0x40;
    fs.set_contents(&first_segment, data);
    let (store, recovered) = open(&fs, opts(SyncMode::Always));
    assert_eq!(
        recovered.state,
        model(&first[..1]),
        "only the prefix before the bad entry"
    );
    assert_eq!(recovered.report.last_lsn, 1);
    let line = recovered.report.to_string();
    assert!(
        line.contains("CORRUPT, set aside") && line.contains("bad CRC"),
        "{line}"
    );
    assert_eq!(
        recovered.report.set_aside.len(),
        2,
        "the bad segment and the one after it"
    );
    let names = fs.names(dir());
    assert!(
        names.iter().filter(|n| n.ends_with(".corrupt")).count() == 2,
        "{names:?}"
    );
    // The recovered prefix was made durable again by a snapshot, and the store goes on after it.
    let lsn = submit_all(&store, &[vec![retained("new", "1")]]);
    assert_eq!(lsn, 2);
    drop(store);
    fs.power_cut();
    let (_, again) = open(&fs, opts(SyncMode::Always));
    assert!(again.report.is_clean(), "{}", again.report);
    let mut expected = first[..1].to_vec();
    expected.push(vec![retained("new", "1")]);
    assert_eq!(again.state, model(&expected));
}

#[test]
fn a_corrupt_snapshot_is_set_aside_and_an_older_state_used() {
    let fs = FaultFs::new();
    let small = StoreOptions {
        snapshot_min_bytes: 0,
        snapshot_factor: 1,
        ..opts(SyncMode::Always)
    };
    let (store, _) = open(&fs, small);
    // One frame each: in one frame, overwrites of a topic would cancel out and leave too little log to compact.
    submit_each(&store, &history(10));
    drop(store);
    let snapshot = fs
        .names(dir())
        .into_iter()
        .rfind(|n| n.starts_with("snapshot-"))
        .unwrap();
    let path = dir().join(&snapshot);
    let mut data = fs.contents(&path).unwrap();
    let n = data.len();
    data[n / 2] ^= 1;
    fs.set_contents(&path, data);
    let (_, recovered) = open(&fs, small);
    assert!(!recovered.report.is_clean());
    assert!(recovered.report.to_string().contains(&snapshot), "{}", recovered.report);
}

#[test]
fn a_failing_fsync_stops_acknowledging() {
    let fs = FaultFs::new();
    let (store, _) = open(&fs, opts(SyncMode::Always));
    submit_all(&store, &history(2));
    fs.fail_sync_after(0);
    let lsn = store.submit(history(1).remove(0)).unwrap();
    let error = block_on(store.durable(lsn)).unwrap_err();
    assert!(matches!(error, StoreError::Failed(_)), "{error}");
    assert!(error.to_string().contains("fdatasync failed"), "{error}");
    assert!(matches!(store.submit(history(1).remove(0)), Err(StoreError::Failed(_))));
    assert!(store.failure().is_some());
    // Earlier acknowledgements stay valid; nothing later is ever reported durable.
    block_on(store.durable(lsn - 1)).unwrap();
    assert!(store.close().is_err());
}

#[test]
fn group_commit_shares_one_fsync_among_many_waiters() {
    let fs = FaultFs::new();
    let (store, _) = open(&fs, opts(SyncMode::Always));
    fs.set_sync_latency(Duration::from_millis(2));
    let before = fs.file_syncs();
    let (tasks, each) = (64, 10);
    block_on(async {
        let mut handles = Vec::new();
        for t in 0..tasks {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                for i in 0..each {
                    let lsn = store.submit(vec![retained(&format!("c/{t}"), &i.to_string())]).unwrap();
                    store.durable(lsn).await.unwrap();
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    let syncs = fs.file_syncs() - before;
    let submits = tasks * each;
    assert!(
        syncs * 8 <= submits,
        "{syncs} fsyncs for {submits} acknowledged submits"
    );
    assert_eq!(store.stats().durable_lsn, submits);
}

#[test]
fn snapshots_compact_the_log_and_round_trip() {
    let fs = FaultFs::new();
    let small = StoreOptions {
        snapshot_min_bytes: 4096,
        snapshot_factor: 2,
        ..opts(SyncMode::Always)
    };
    let (store, _) = open(&fs, small);
    let submits = history(2000);
    // One frame each: in one frame, overwrites of a topic would cancel out and leave too little log to compact.
    submit_each(&store, &submits);
    // Closing waits for the committer, so its last snapshot is counted.
    store.close().unwrap();
    let stats = store.stats();
    assert!(stats.snapshots >= 2, "{stats:?}");
    let names = fs.names(dir());
    assert_eq!(
        names.iter().filter(|n| n.starts_with("snapshot-")).count(),
        1,
        "{names:?}"
    );
    assert!(names.iter().filter(|n| n.starts_with("wal-")).count() <= 2, "{names:?}");
    drop(store);
    fs.power_cut();
    let (_, recovered) = open(&fs, small);
    assert!(recovered.report.snapshot_lsn.is_some());
    assert_eq!(recovered.state, model(&submits));
    assert_eq!(recovered.state.live_bytes(), recovered.state.recount());
}

#[test]
fn the_size_cap_refuses_growth_but_never_deletes() {
    let fs = FaultFs::new();
    let capped = StoreOptions {
        max_bytes: 1000,
        ..opts(SyncMode::Always)
    };
    let (store, _) = open(&fs, capped);
    let big = retained("big", &"x".repeat(600));
    store.admit(big.growth()).unwrap();
    submit_all(&store, &[vec![big.clone()]]);
    assert!(matches!(
        store.admit(big.growth()),
        Err(StoreError::Full { max_bytes: 1000 })
    ));
    submit_all(&store, &[vec![Record::RetainedDelete { topic: "big".into() }]]);
    store.admit(big.growth()).unwrap();
}

#[test]
fn the_memory_store_is_durable_at_once() {
    let store = Store::memory();
    assert!(store.is_memory());
    let lsn = store.submit(history(1).remove(0)).unwrap();
    block_on(store.durable(lsn)).unwrap();
    store.admit(u64::MAX).unwrap();
    assert_ne!(store.message_id(), store.message_id());
    store.close().unwrap();
}

/// Operations over a small key space, so sets, replacements and deletes collide.
fn op() -> impl Strategy<Value = Vec<Record>> {
    let client = (0..3u8).prop_map(|c| ByteString::from(format!("c{c}")));
    let entry = |id: u64| QueueEntry {
        message: MessageId(id),
        qos: QoS::AtLeastOnce,
        retain: false,
        subscription_ids: vec![1],
    };
    prop_oneof![
        (0..5u8, any::<u8>()).prop_map(|(t, v)| vec![retained(&format!("t{t}"), &"v".repeat(usize::from(v)))]),
        (0..5u8).prop_map(|t| vec![Record::RetainedDelete {
            topic: format!("t{t}").into()
        }]),
        (client.clone(), 0..4u64, 1..1_000_000u64, any::<bool>()).prop_map(move |(c, seq, id, twice)| {
            let mut records = vec![
                Record::MessagePut {
                    id: MessageId(id),
                    message: record::tests::message("m", b"payload"),
                },
                Record::QueueAppend {
                    client_id: c.clone(),
                    seq,
                    entry: entry(id),
                },
            ];
            if twice {
                records.push(Record::InflightOutSet {
                    client_id: "c0".into(),
                    packet_id: (seq + 1) as u16,
                    state: OutState::Publish(entry(id)),
                });
            }
            records
        }),
        (client.clone(), 0..4u64).prop_map(|(c, seq)| vec![Record::QueueRemove { client_id: c, seq }]),
        (client.clone(), 1..4u16).prop_map(|(c, p)| vec![Record::InflightOutSet {
            client_id: c,
            packet_id: p,
            state: OutState::PubRel
        }]),
        (client.clone(), 1..4u16).prop_map(|(c, p)| vec![Record::InflightOutDelete {
            client_id: c,
            packet_id: p
        }]),
        (client.clone(), 1..4u16, any::<bool>()).prop_map(|(c, p, set)| vec![if set {
            Record::InboundQos2Set {
                client_id: c,
                packet_id: p,
            }
        } else {
            Record::InboundQos2Delete {
                client_id: c,
                packet_id: p,
            }
        }]),
        (client.clone(), 0..3u8, any::<bool>()).prop_map(|(c, f, set)| vec![if set {
            Record::SubscriptionSet {
                client_id: c,
                filter: format!("f/{f}/#").into(),
                subscription: StoredSubscription {
                    options: 1,
                    identifier: Some(u32::from(f)),
                },
            }
        } else {
            Record::SubscriptionDelete {
                client_id: c,
                filter: format!("f/{f}/#").into(),
            }
        }]),
        (client.clone(), any::<u32>()).prop_map(|(c, expiry)| vec![Record::SessionUpsert {
            client_id: c,
            meta: SessionMeta {
                protocol_version: 5,
                expiry_interval: expiry,
                disconnected_at_ms: None,
                will: None,
                user: None,
            },
        }]),
        client.prop_map(|c| vec![Record::SessionDelete { client_id: c }]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random histories, some acknowledged, cut by a crash at a random moment and a random torn length: what
    /// recovers is always the state after some LSN L (a prefix of the log, never a mix), with L at least every
    /// acknowledged LSN — after a power cut in `always` mode, and after kill -9 (no power cut) in every mode.
    #[test]
    fn replay_is_the_state_at_a_durable_prefix(
        ops in prop::collection::vec(op(), 1..60),
        acked_every in 1..10usize,
        never in any::<bool>(),
        power_cut in any::<bool>(),
        torn in any::<prop::sample::Index>(),
        snapshot_small in any::<bool>(),
    ) {
        let fs = FaultFs::new();
        let options = StoreOptions {
            sync: if never { SyncMode::Never } else { SyncMode::Always },
            snapshot_min_bytes: if snapshot_small { 256 } else { 1 << 20 },
            snapshot_factor: 1,
            ..StoreOptions::default()
        };
        let (store, _) = open(&fs, options);
        let mut acked = 0;
        for (i, records) in ops.iter().enumerate() {
            let lsn = store.submit(records.clone()).unwrap();
            if i % acked_every == 0 {
                block_on(store.durable(lsn)).unwrap();
                acked = lsn;
            }
        }
        // The crash image is taken while the committer may still be writing.
        let crashed = fs.fork();
        if power_cut {
            crashed.power_cut_with(|_, unsynced| torn.index(unsynced + 1));
        }
        let (_, recovered) = open(&crashed, options);
        let last = recovered.report.last_lsn as usize;
        prop_assert!(last <= ops.len());
        prop_assert_eq!(&recovered.state, &model(&ops[..last]));
        if !power_cut || !never {
            prop_assert!(last as u64 >= acked, "acknowledged {} but recovered only up to {}", acked, last);
        }
        prop_assert!(recovered.report.is_clean(), "{}", recovered.report);
        drop(store);
    }
}

#[test]
fn interval_mode_acknowledges_after_the_write_and_syncs_soon_after() {
    let fs = FaultFs::new();
    let (store, _) = open(&fs, opts(SyncMode::Interval(Duration::from_millis(20))));
    let before = fs.file_syncs();
    let lsn = store.submit(history(1).remove(0)).unwrap();
    block_on(store.durable(lsn)).unwrap();
    // Acknowledged once written: a kill -9 (no power cut) keeps it.
    let killed = fs.fork();
    let (_, recovered) = open(&killed, opts(SyncMode::Always));
    assert_eq!(recovered.report.last_lsn, lsn);
    // With nothing more submitted, the committer still syncs within the interval (bounded wait, 5 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while fs.file_syncs() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no fdatasync within 5 s of an interval of 20 ms"
        );
        std::thread::yield_now();
    }
    let crashed = fs.fork();
    crashed.power_cut();
    let (_, recovered) = open(&crashed, opts(SyncMode::Always));
    assert_eq!(recovered.report.last_lsn, lsn, "synced by the interval");
}

/// A sync failing at any point (log batches, segment rotation, snapshots, directory syncs): whatever was
/// acknowledged before still survives a power cut, nothing is acknowledged after, and the store never panics.
#[test]
fn a_sync_failing_anywhere_never_loses_an_acknowledgement() {
    let small = StoreOptions {
        snapshot_min_bytes: 300,
        snapshot_factor: 1,
        segment_max_bytes: 500,
        ..opts(SyncMode::Always)
    };
    for fail_after in 0..40 {
        let fs = FaultFs::new();
        let (store, _) = open(&fs, small);
        fs.fail_sync_after(fail_after);
        let submits = history(60);
        let mut acked = 0;
        for records in &submits {
            let Ok(lsn) = store.submit(records.clone()) else { break };
            match block_on(store.durable(lsn)) {
                Ok(()) => acked = lsn,
                Err(StoreError::Failed(_)) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(
            acked < 60,
            "the sync after {fail_after} failed, yet everything was acknowledged"
        );
        let crashed = fs.fork();
        crashed.power_cut();
        let (_, recovered) = open(&crashed, small);
        assert!(
            recovered.report.last_lsn >= acked,
            "fail after {fail_after}: acknowledged {acked}, recovered {}",
            recovered.report.last_lsn
        );
        assert_eq!(recovered.state, model(&submits[..recovered.report.last_lsn as usize]));
    }
}

/// The real file system: reopen, a torn tail cut on disk, a snapshot, and a corrupt segment set aside.
#[test]
fn the_real_file_system_recovers_torn_and_corrupt_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let small = StoreOptions {
        snapshot_min_bytes: 2048,
        snapshot_factor: 1,
        ..StoreOptions::default()
    };
    let (store, recovered) = Store::open(&dir, small).unwrap();
    assert!(recovered.report.is_clean());
    let submits = history(200);
    for chunk in submits.chunks(10) {
        submit_all(&store, chunk);
    }
    store.close().unwrap();
    assert!(store.stats().snapshots >= 1);
    drop(store);
    // From here on no compaction, so the entries written stay in the log to be damaged.
    let small = StoreOptions::default();
    let (store, recovered) = Store::open(&dir, small).unwrap();
    assert_eq!(recovered.state, model(&submits));
    assert!(recovered.report.snapshot_lsn.is_some());
    // A torn write at the end of the newest segment.
    let extra = vec![retained("t/1", "torn away")];
    submit_all(&store, std::slice::from_ref(&extra));
    drop(store);
    let newest = |dir: &Path| {
        let mut segments: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.to_string_lossy().ends_with(".log") && std::fs::metadata(p).unwrap().len() > log::FILE_HEADER as u64
            })
            .collect();
        segments.sort();
        segments.pop().unwrap()
    };
    let segment = newest(&dir);
    let len = std::fs::metadata(&segment).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let (store, recovered) = Store::open(&dir, small).unwrap();
    assert_eq!(
        recovered.state,
        model(&submits),
        "the torn entry is gone, the rest is there"
    );
    assert!(recovered.report.torn_bytes > 0 && recovered.report.is_clean());
    submit_each(&store, &[vec![retained("t/2", "a")], vec![retained("t/3", "b")]]);
    drop(store);
    // A flipped byte in the first of the two frames just written: set aside, the state before it kept.
    let segment = newest(&dir);
    let mut data = std::fs::read(&segment).unwrap();
    data[log::FILE_HEADER + log::HEADER + 2] ^= 0xFF;
    std::fs::write(&segment, data).unwrap();
    let (_, recovered) = Store::open(&dir, small).unwrap();
    assert_eq!(recovered.state, model(&submits));
    assert_eq!(recovered.report.set_aside.len(), 1, "{}", recovered.report);
    assert!(recovered.report.set_aside[0].0.exists());
}

#[test]
fn what_expired_while_stopped_is_dropped_at_start() {
    let fs = FaultFs::new();
    let (store, _) = open(&fs, opts(SyncMode::Always));
    let now = super::committer::now_ms();
    let session = |id: &str, disconnected_ago_ms: u64| Record::SessionUpsert {
        client_id: id.into(),
        meta: SessionMeta {
            protocol_version: 5,
            expiry_interval: 10,
            disconnected_at_ms: Some(now - disconnected_ago_ms),
            will: Some(StoredWill {
                message: record::tests::message("will", b"gone"),
                delay: 5,
            }),
            user: None,
        },
    };
    let mut stale = record::tests::message("old", b"x");
    stale.expires_at_ms = Some(now - 1);
    let mut fresh = record::tests::message("new", b"y");
    fresh.expires_at_ms = Some(now + 3_600_000);
    submit_all(
        &store,
        &[vec![
            session("expired", 20_000),
            session("alive", 1_000),
            Record::RetainedSet { message: stale },
            Record::RetainedSet { message: fresh },
        ]],
    );
    drop(store);
    let (_, recovered) = open(&fs, opts(SyncMode::Always));
    assert_eq!(recovered.report.expired, 2, "{}", recovered.report);
    assert_eq!(recovered.state.sessions.keys().collect::<Vec<_>>(), ["alive"]);
    let alive = &recovered.state.sessions["alive"];
    assert_eq!(
        alive.meta.as_ref().unwrap().will.as_ref().unwrap().delay,
        5,
        "the will survives"
    );
    assert_eq!(recovered.state.retained.keys().collect::<Vec<_>>(), ["new"]);
}

/// One QoS 1 message to a persistent subscriber, as the router submits it: put and queued; sent (in flight, out of
/// the queue); acknowledged.
fn delivery(id: u64, seq: u64, packet_id: u16) -> Vec<Vec<Record>> {
    let entry = QueueEntry {
        message: MessageId(id),
        qos: QoS::AtLeastOnce,
        retain: false,
        subscription_ids: vec![],
    };
    let c: ByteString = "subscriber".into();
    vec![
        vec![
            Record::MessagePut {
                id: MessageId(id),
                message: record::tests::message("sensors/1", &[7; 64]),
            },
            Record::QueueAppend {
                client_id: c.clone(),
                seq,
                entry: entry.clone(),
            },
        ],
        vec![
            Record::InflightOutSet {
                client_id: c.clone(),
                packet_id,
                state: OutState::Publish(entry),
            },
            Record::QueueRemove {
                client_id: c.clone(),
                seq,
            },
        ],
        vec![Record::InflightOutDelete {
            client_id: c,
            packet_id,
        }],
    ]
}

/// Deliveries completed within one group-commit batch write almost nothing, their LSNs are durable like any, and
/// a crash tearing that batch anywhere recovers the state before it or after it, never a part.
#[test]
fn a_batch_that_cancels_out_is_recovered_whole_or_not_at_all() {
    let fs = FaultFs::new();
    let (store, _) = open(&fs, opts(SyncMode::Always));
    let setup = vec![vec![Record::SessionUpsert {
        client_id: "subscriber".into(),
        meta: SessionMeta {
            protocol_version: 5,
            expiry_interval: 300,
            disconnected_at_ms: None,
            will: None,
            user: None,
        },
    }]];
    submit_each(&store, &setup);
    drop(store);
    // `never`: the batch is written, not synced, so a power cut can tear it at any byte.
    let (store, _) = open(&fs, opts(SyncMode::Never));
    let segment = dir().join(log::segment_name(2));
    let before = fs.contents(&segment).unwrap().len();
    let mut batch = delivery(1, 1, 1);
    batch.extend(delivery(2, 2, 2));
    // The third message is still in flight at the end of the batch: its put and in-flight entry stay.
    batch.extend(delivery(3, 3, 3).into_iter().take(2));
    batch.push(vec![retained("r", "kept")]);
    let lsn = store.submit_batch(batch.clone());
    assert_eq!(lsn, 1 + batch.len() as u64);
    block_on(store.durable(lsn)).unwrap();
    let frame = fs.contents(&segment).unwrap().len() - before;
    let mut all = Vec::new();
    for records in &batch {
        for record in records {
            record.encode(&mut all, &mut record::Encoder::default());
        }
    }
    assert!(
        frame * 3 < all.len(),
        "the frame ({frame} bytes) holds the third message and the retained one, not all {} bytes",
        all.len()
    );
    let mut expected = setup.clone();
    expected.extend(batch.iter().cloned());
    // Unsynced: the new segment's header and the frame.
    let unsynced = before + frame;
    for keep in 0..=unsynced {
        let crashed = fs.fork();
        crashed.power_cut_with(|_, tail| {
            assert!(tail == 0 || tail == unsynced, "only the new segment is unsynced");
            keep.min(tail)
        });
        let (_, recovered) = open(&crashed, opts(SyncMode::Always));
        if keep == unsynced {
            assert_eq!(recovered.report.last_lsn, lsn);
            assert_eq!(recovered.state, model(&expected));
            assert!(recovered.state.sessions["subscriber"].inflight_out.contains_key(&3));
        } else {
            assert_eq!(recovered.report.last_lsn, 1, "keep {keep} of {frame}");
            assert_eq!(recovered.state, model(&setup), "keep {keep} of {frame}");
        }
        assert!(recovered.report.is_clean(), "{}", recovered.report);
    }
    drop(store);
}

/// A data directory of the first storage format (no file headers) is refused with an error that says what to do,
/// not set aside as corrupt (which would start empty and lose what an older roost acknowledged).
#[test]
fn an_older_format_is_refused_with_a_clear_error() {
    let fs = FaultFs::new();
    // Format 1: an entry `len | crc | lsn | records` from the file's first byte.
    let mut old = Vec::new();
    old.extend_from_slice(&5u32.to_le_bytes());
    old.extend_from_slice(&[0xAB; 4]);
    old.extend_from_slice(&1u64.to_le_bytes());
    old.extend_from_slice(&[2, 0, 1, b't', 0]);
    {
        use super::fs::Fs as _;
        fs.create_dir_all(dir()).unwrap();
        fs.open_append(&dir().join(log::segment_name(1)))
            .unwrap()
            .append(&old)
            .unwrap();
    }
    let error = Store::open_with(Arc::new(fs.clone()), dir(), opts(SyncMode::Always)).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, StoreError::Open { .. }) && message.contains("older roost") && message.contains("move"),
        "{message}"
    );
    // Nothing was renamed or removed: the directory is as it was.
    assert_eq!(fs.names(dir()), vec![log::segment_name(1)]);
    assert_eq!(fs.contents(&dir().join(log::segment_name(1))), Some(old));
}
