//! kill -9 of a process writing to the store: everything it was told is durable is there after recovery, in every
//! sync mode (nothing waits in a user-space buffer when `durable` resolves), and the state is exactly a prefix of
//! what it submitted.
//!
//! The writer is this test binary itself, started again with `ROOST_STORE_CHILD` set: it opens the store, submits
//! numbered retained messages and prints `acked N` once each is durable; the parent kills it (SIGKILL, by its own
//! child handle) after a number of acknowledgements and recovers the directory.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use roost_broker::store::{Record, Store, StoreOptions, StoredMessage, SyncMode};
use roost_codec::{Bytes, QoS};

const CHILD: &str = "ROOST_STORE_CHILD";

fn record(i: u64) -> Record {
    Record::RetainedSet {
        message: StoredMessage {
            topic: format!("t/{}", i % 50).into(),
            payload: Bytes::from(i.to_string()),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Bytes::new(),
            expires_at_ms: None,
            publisher: None,
        },
    }
}

fn mode(name: &str) -> SyncMode {
    match name {
        "always" => SyncMode::Always,
        "interval" => SyncMode::Interval(Duration::from_millis(50)),
        _ => SyncMode::Never,
    }
}

fn options(sync: SyncMode) -> StoreOptions {
    StoreOptions {
        sync,
        // Small, so the writer is also compacting when it is killed.
        snapshot_min_bytes: 64 * 1024,
        snapshot_factor: 1,
        ..StoreOptions::default()
    }
}

/// The writer: runs until killed.
fn child(dir: &str, sync: &str) {
    let (store, _) = Store::open(dir.as_ref(), options(mode(sync))).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for i in 1.. {
        let lsn = store.submit(vec![record(i)]).unwrap();
        assert_eq!(lsn, i);
        runtime.block_on(store.durable(lsn)).unwrap();
        println!("acked {i}");
    }
}

#[test]
fn kill_9_loses_nothing_acknowledged_in_any_sync_mode() {
    if let (Ok(dir), Ok(sync)) = (std::env::var(CHILD), std::env::var("ROOST_STORE_SYNC")) {
        return child(&dir, &sync);
    }
    for sync in ["always", "interval", "never"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        for round in 0..3 {
            let mut writer = Command::new(std::env::current_exe().unwrap())
                .args([
                    "kill_9_loses_nothing_acknowledged_in_any_sync_mode",
                    "--exact",
                    "--nocapture",
                ])
                .env(CHILD, &dir)
                .env("ROOST_STORE_SYNC", sync)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut lines = BufReader::new(writer.stdout.take().unwrap()).lines();
            let deadline = Instant::now() + Duration::from_secs(60);
            let target = 300 + 200 * round;
            let mut acked = 0u64;
            while acked < target {
                assert!(
                    Instant::now() < deadline,
                    "{sync}: writer too slow ({acked} acknowledged)"
                );
                let line = lines.next().expect("writer exited early").unwrap();
                if let Some(n) = line.strip_prefix("acked ") {
                    acked = n.parse().unwrap();
                }
            }
            writer.kill().unwrap(); // SIGKILL: no destructor, no flush
            writer.wait().unwrap();
            let (store, recovered) = Store::open(&dir, options(SyncMode::Always)).unwrap();
            let last = recovered.report.last_lsn;
            assert!(last >= acked, "{sync}: acknowledged {acked}, recovered up to {last}");
            assert!(recovered.report.is_clean(), "{sync}: {}", recovered.report);
            // Exactly the prefix: each of the 50 topics holds the last value written up to `last`.
            assert_eq!(recovered.state.retained.len(), 50.min(last as usize));
            for (topic, message) in &recovered.state.retained {
                let t: u64 = topic.strip_prefix("t/").unwrap().parse().unwrap();
                let expected = (1..=last).rev().find(|i| i % 50 == t).unwrap();
                assert_eq!(message.payload, expected.to_string(), "{sync}: {topic}");
            }
            // Each round starts from an empty directory: the writer numbers its messages by LSN.
            store.close().unwrap();
            drop(store);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
