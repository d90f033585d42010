//! Whole MQTT packets over a byte stream: buffering, decoding and encoding with roost-codec.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use roost_codec::{DecodeError, EncodeError, MAX_PACKET_SIZE, Packet, Properties, ProtocolVersion};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_util::sync::CancellationToken;

use crate::outgoing_aliases::OutgoingAliases;
use crate::store::{Lsn, Store, StoreError};
use crate::sys::Stats;

/// Bytes read per read call when no partial packet is buffered. They are read into the stack of that one call
/// and copied into an allocation of exactly their size, so a connection waiting for bytes holds no read buffer.
const READ_CHUNK: usize = 4 * 1024;

/// A write buffer that grew beyond this (a large packet, a long batch) is freed after the write, so one burst does
/// not pin its memory for the rest of the connection.
const KEEP_WRITE_CAPACITY: usize = 16 * 1024;

/// One connection's framing. Knows nothing about TCP or WebSocket: anything that reads and writes bytes will do.
#[derive(Debug)]
pub(crate) struct Connection<S> {
    stream: S,
    /// Received bytes not yet decoded; holds at most one partial packet after a decode. Empty, with no
    /// allocation, while the connection waits between packets: idle connections must cost little
    /// (see `poll_fill`).
    read_buf: BytesMut,
    /// Packets queued to go out together in one write (one WebSocket frame) at the next `flush`. Freed when a
    /// burst made it larger than [`KEEP_WRITE_CAPACITY`].
    write_buf: BytesMut,
    /// Packets, and PUBLISH packets among them, in `write_buf`: counted for `$SYS` once they are written.
    pending_packets: usize,
    pending_publishes: usize,
    /// Our limit on incoming packets, checked from the fixed header before the body is buffered.
    max_packet_size: u32,
    /// The client's limit on packets we send (MQTT 5 Maximum Packet Size), [MQTT-3.1.2-24].
    peer_max_packet_size: u32,
    /// The client's Request Problem Information (MQTT 5, default yes): when it is 0, Reason Strings and User
    /// Properties go only on PUBLISH, CONNACK and DISCONNECT ([MQTT-3.1.2-29]).
    problem_information: bool,
    /// How packets other than CONNECT are encoded and decoded. Fixed by CONNECT; until then only CONNECT is
    /// expected, and it carries its own version.
    version: ProtocolVersion,
    /// How long one write may take before the client counts as gone (set from its Keep Alive). A client that
    /// stops reading would otherwise hold its task in `write_all` forever, where keep alive is never checked.
    write_timeout: Option<Duration>,
    /// The broker's traffic counters (`$SYS`): packets and bytes are counted here, where they cross the wire.
    stats: Arc<Stats>,
    /// Topic aliases for the PUBLISHes we send (MQTT 5, when the client allows them): applied as each PUBLISH is
    /// queued, so they follow the wire order and die with this connection ([MQTT-3.3.2-7]).
    aliases: OutgoingAliases,
    /// The store, and the log position everything queued in `write_buf` depends on: `flush` writes nothing before
    /// the store says it is durable, so no PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK or CONNACK (nor a QoS 2
    /// PUBLISH whose packet id must survive a restart) leaves before what it acknowledges is on disk.
    store: Store,
    needs_lsn: Lsn,
    /// Sealed marks in `write_buf`, oldest first: its bytes before `end` wait for the store to be durable up to
    /// `lsn`. [`Connection::flush_ready`] writes the prefix that is durable and keeps the rest, so the session loop
    /// goes on reading (and routing) while acknowledgements wait for the disk: a PUBLISH that arrives during an
    /// fdatasync is forwarded at once instead of waiting in the socket for the sync to end.
    held: VecDeque<Held>,
}

/// A prefix of the write buffer that waits for the store ([`Connection::flush_ready`]).
#[derive(Debug, Clone, Copy)]
struct Held {
    /// Where it ends in `write_buf`.
    end: usize,
    /// The LSN it waits for.
    lsn: Lsn,
    /// `pending_packets` and `pending_publishes` up to `end`, counted for `$SYS` when it is written.
    packets: usize,
    publishes: usize,
}

/// While this much waits in the write buffer for the store, the session loop stops reading from the client: the
/// client's Receive Maximum bounds what it may send unacknowledged, but not its QoS 0 PUBLISHes or deliveries to it.
pub(crate) const MAX_HELD_BYTES: usize = 256 * 1024;

/// Why a connection could not go on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectionError {
    /// The socket failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The peer sent bytes that are not a valid packet.
    #[error("bad packet: {0}")]
    Decode(#[from] DecodeError),
    /// We built a packet that cannot be encoded (a bug, or a packet over the client's size limit).
    #[error("cannot encode a packet: {0}")]
    Encode(#[from] EncodeError),
    /// The peer closed the connection in the middle of a packet.
    #[error("connection closed in the middle of a packet")]
    Truncated,
    /// The client did not take a write within its write timeout.
    #[error("the client did not read for {0:?}")]
    WriteTimeout(Duration),
    /// The store failed (or closed): what is queued acknowledges changes that are not durable, so it is never sent.
    #[error("{0}")]
    Storage(#[from] StoreError),
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Wraps a byte stream; `max_packet_size` bounds what the peer may send.
    pub(crate) fn new(stream: S, max_packet_size: u32, stats: Arc<Stats>, store: Store) -> Self {
        Connection {
            stream,
            read_buf: BytesMut::new(),
            write_buf: BytesMut::new(),
            pending_packets: 0,
            pending_publishes: 0,
            max_packet_size,
            peer_max_packet_size: MAX_PACKET_SIZE,
            problem_information: true,
            write_timeout: None,
            version: ProtocolVersion::V311,
            stats,
            aliases: OutgoingAliases::default(),
            store,
            needs_lsn: 0,
            held: VecDeque::new(),
        }
    }

    /// What is queued since the last flush, and from now on until the next one, goes out only once the store's log
    /// is durable up to `lsn` (and after everything queued before it).
    pub(crate) fn after_durable(&mut self, lsn: Lsn) {
        self.needs_lsn = self.needs_lsn.max(lsn);
    }

    /// Lets the PUBLISHes we send use up to `maximum` topic aliases (0, the default: none). Set from the client's
    /// Topic Alias Maximum ([MQTT-3.1.2-26], [MQTT-3.1.2-27]), before the first PUBLISH goes out.
    pub(crate) fn set_outgoing_topic_aliases(&mut self, maximum: u16) {
        self.aliases = OutgoingAliases::new(maximum);
    }

    /// Fixes the protocol version after CONNECT, and the client's Maximum Packet Size if it set one.
    pub(crate) fn set_version(&mut self, version: ProtocolVersion, peer_max_packet_size: Option<u32>) {
        self.version = version;
        self.peer_max_packet_size = peer_max_packet_size.unwrap_or(MAX_PACKET_SIZE);
    }

    /// Records the client's Request Problem Information (CONNECT, MQTT 5; absent means yes).
    pub(crate) fn set_problem_information(&mut self, wanted: bool) {
        self.problem_information = wanted;
    }

    /// `packet` as it may go to this client: without its Reason String and User Properties when the client asked
    /// for no problem information and the packet is not a PUBLISH, CONNACK or DISCONNECT ([MQTT-3.1.2-29]), or
    /// when they would take it over the client's Maximum Packet Size ([MQTT-3.2.2-19], [MQTT-3.2.2-20],
    /// [MQTT-3.4.2-2], [MQTT-3.4.2-3] and their twins for PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK and
    /// DISCONNECT): the packet is still sent, only what explains it is dropped. A PUBLISH is never changed: its
    /// user properties are the publisher's.
    fn trimmed<'a>(&self, packet: &'a Packet) -> Cow<'a, Packet> {
        let Some(properties) = diagnostics(packet) else {
            return Cow::Borrowed(packet);
        };
        let has_some = properties.reason_string.is_some() || !properties.user_properties.is_empty();
        let unwanted = !self.problem_information && !matches!(packet, Packet::ConnAck(_) | Packet::Disconnect(_));
        if !has_some || (!unwanted && self.fits(packet)) {
            return Cow::Borrowed(packet);
        }
        let mut packet = packet.clone();
        if let Some(properties) = diagnostics_mut(&mut packet) {
            properties.reason_string = None;
            properties.user_properties.clear();
        }
        Cow::Owned(packet)
    }

    /// The protocol version in force.
    pub(crate) fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Whether `packet` can be sent: it encodes in this version within the client's Maximum Packet Size.
    pub(crate) fn fits(&self, packet: &Packet) -> bool {
        packet
            .encoded_len(self.version)
            .is_ok_and(|len| len <= self.peer_max_packet_size as usize)
    }

    /// Reads the next packet; `Ok(None)` when the peer closed the connection cleanly between packets.
    ///
    /// Cancel safe: bytes already read stay buffered, so this can be raced against a timer or shutdown.
    pub(crate) async fn read_packet(&mut self) -> Result<Option<Packet>, ConnectionError> {
        loop {
            if let Some(packet) = self.buffered_packet()? {
                return Ok(Some(packet));
            }
            let read = std::future::poll_fn(|cx| self.poll_fill(cx)).await?;
            if read == 0 {
                return if self.read_buf.is_empty() {
                    Ok(None)
                } else {
                    Err(ConnectionError::Truncated)
                };
            }
            self.stats.bytes_received(read);
        }
    }

    /// Reads what the stream has into `read_buf`; `Ready(Ok(0))` at the end of the stream.
    ///
    /// A partial packet for which the decoder reserved room (it reserves up to 64 KiB ahead once the fixed header
    /// says how long the packet is) is read straight into `read_buf`. Otherwise the bytes land in a stack array
    /// that lives only for this call and are then copied into `read_buf`, which allocates just what arrived, so
    /// decoded payloads (shared zero-copy with every subscriber and the retained store) pin no spare capacity.
    /// When the stream has nothing and no partial packet is buffered, `read_buf`'s allocation is released: an
    /// idle connection holds no read buffer.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.read_buf.capacity() - self.read_buf.len() >= READ_CHUNK {
            return tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.read_buf);
        }
        let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut chunk = ReadBuf::uninit(&mut chunk);
        match Pin::new(&mut self.stream).poll_read(cx, &mut chunk) {
            Poll::Pending => {
                if self.read_buf.is_empty() {
                    self.read_buf = BytesMut::new();
                }
                Poll::Pending
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Ready(Ok(())) => {
                self.read_buf.extend_from_slice(chunk.filled());
                Poll::Ready(Ok(chunk.filled().len()))
            }
        }
    }

    /// Decodes the next packet if one is already whole in the buffer, without reading the socket. The session
    /// loop handles every buffered packet before it sends queued messages and flushes, so a burst of PUBLISHes or
    /// PUBACKs costs one write, not one per packet.
    ///
    /// The peer is always a client, so the rules of the client-to-server direction are checked here too
    /// ([`Packet::check_sent_by_client`], e.g. [MQTT-3.3.4-6]): a violation is a decode error like any other.
    pub(crate) fn buffered_packet(&mut self) -> Result<Option<Packet>, DecodeError> {
        let packet = Packet::decode(&mut self.read_buf, self.version, self.max_packet_size)?;
        if let Some(packet) = &packet {
            self.stats.packet_received(match packet {
                Packet::Publish(publish) => Some((publish.qos(), publish.payload.len())),
                _ => None,
            });
            packet.check_sent_by_client()?;
        }
        Ok(packet)
    }

    /// Encodes `packet` after what is already queued, to go out with the next [`Connection::flush`]. An encoding
    /// error queues nothing. A PUBLISH gets its topic alias here, when the client allows them.
    pub(crate) fn queue_packet(&mut self, packet: &Packet) -> Result<(), ConnectionError> {
        if let Packet::Publish(publish) = packet {
            let (version, max) = (self.version, self.peer_max_packet_size as usize);
            let fits = |p: &Packet| p.encoded_len(version).is_ok_and(|len| len <= max);
            if let Some(aliased) = self.aliases.apply(publish, fits) {
                return self.queue_encoded(&Packet::Publish(aliased));
            }
        }
        self.queue_encoded(packet)
    }

    /// [`Connection::queue_packet`] without topic aliases.
    fn queue_encoded(&mut self, packet: &Packet) -> Result<(), ConnectionError> {
        let before = self.write_buf.len();
        let encoded = self
            .trimmed(packet)
            .encode(self.version, &mut self.write_buf, self.peer_max_packet_size);
        if let Err(error) = encoded {
            self.write_buf.truncate(before);
            return Err(error.into());
        }
        self.pending_packets += 1;
        self.pending_publishes += usize::from(matches!(packet, Packet::Publish(_)));
        Ok(())
    }

    /// Queues `packet` and sends it with everything queued before it.
    ///
    /// The packet is encoded before this returns, and the future does not borrow it: a caller that builds the
    /// packet in a block, `{ let p = …; conn.write_packet(&p) }.await`, does not keep the ~450-byte `Packet` in its
    /// own state while the write waits. That matters in the connection task, whose state every idle connection
    /// carries.
    pub(crate) fn write_packet<'c>(
        &'c mut self,
        packet: &Packet,
    ) -> impl Future<Output = Result<(), ConnectionError>> + use<'c, S> {
        let queued = self.queue_packet(packet);
        async move {
            queued?;
            self.flush().await
        }
    }

    /// Queues several packets and sends them with everything queued before them.
    pub(crate) async fn write_packets(&mut self, packets: &[Packet]) -> Result<(), ConnectionError> {
        for packet in packets {
            self.queue_packet(packet)?;
        }
        self.flush().await
    }

    /// Bounds every write by `limit` from now on (`None`: unbounded).
    pub(crate) fn set_write_timeout(&mut self, limit: Option<Duration>) {
        self.write_timeout = limit;
    }

    /// Closes the open mark: what is queued so far waits for `needs_lsn`, what is queued later for the next one.
    /// A mark with nothing queued after the last one stays open, so it covers the packet queued next.
    fn seal(&mut self) {
        let sealed_end = self.held.back().map_or(0, |h| h.end);
        if self.needs_lsn > 0 && self.write_buf.len() > sealed_end {
            self.held.push_back(Held {
                end: self.write_buf.len(),
                lsn: self.needs_lsn,
                packets: self.pending_packets,
                publishes: self.pending_publishes,
            });
            self.needs_lsn = 0;
        }
    }

    /// The LSN the oldest held bytes wait for, if any wait: the session loop awaits [`Store::durable`] of it
    /// beside reading, then calls [`Connection::flush_ready`].
    pub(crate) fn held_lsn(&mut self) -> Option<Lsn> {
        self.seal();
        self.held.front().map(|h| h.lsn)
    }

    /// Whether so much waits for the store that reading from the client should pause ([`MAX_HELD_BYTES`]).
    pub(crate) fn is_backlogged(&self) -> bool {
        !self.held.is_empty() && self.write_buf.len() >= MAX_HELD_BYTES
    }

    /// A handle on the store, for awaiting [`Connection::held_lsn`] without borrowing the connection.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Sends what is queued and does not wait for the store (in order: nothing after bytes that still wait), in
    /// one write; keeps the rest for a later call. Never waits for the disk, only for the socket.
    pub(crate) async fn flush_ready(&mut self) -> Result<(), ConnectionError> {
        self.seal();
        let mut ready = None;
        while let Some(held) = self.held.front() {
            if !self.store.is_durable(held.lsn)? {
                break;
            }
            ready = Some(*held);
            self.held.pop_front();
        }
        if self.held.is_empty() {
            return self.flush().await;
        }
        let Some(ready) = ready else { return Ok(()) };
        let bytes = self.write_buf.split_to(ready.end);
        self.write_out(&bytes).await?;
        self.stats.sent(ready.packets, ready.publishes, bytes.len());
        self.pending_packets -= ready.packets;
        self.pending_publishes -= ready.publishes;
        for held in &mut self.held {
            held.end -= ready.end;
            held.packets -= ready.packets;
            held.publishes -= ready.publishes;
        }
        Ok(())
    }

    /// Writes `bytes` within the write timeout.
    async fn write_out(&mut self, bytes: &[u8]) -> Result<(), ConnectionError> {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match self.write_timeout {
            None => write.await?,
            Some(limit) => match tokio::time::timeout(limit, write).await {
                Ok(written) => written?,
                Err(_elapsed) => return Err(ConnectionError::WriteTimeout(limit)),
            },
        }
        Ok(())
    }

    /// Sends everything queued in one write (one WebSocket frame), within the write timeout, once the store is
    /// durable up to what it waits for.
    pub(crate) async fn flush(&mut self) -> Result<(), ConnectionError> {
        if self.write_buf.is_empty() {
            return Ok(());
        }
        self.seal();
        if let Some(held) = self.held.back() {
            // One wait for the whole batch: every acknowledgement in it shares the store's group commit.
            self.store.durable(held.lsn).await?;
            self.held.clear();
        }
        let write = async {
            self.stream.write_all(&self.write_buf).await?;
            self.stream.flush().await
        };
        match self.write_timeout {
            None => write.await?,
            Some(limit) => match tokio::time::timeout(limit, write).await {
                Ok(written) => written?,
                Err(_elapsed) => return Err(ConnectionError::WriteTimeout(limit)),
            },
        }
        self.stats
            .sent(self.pending_packets, self.pending_publishes, self.write_buf.len());
        (self.pending_packets, self.pending_publishes) = (0, 0);
        if self.write_buf.capacity() > KEEP_WRITE_CAPACITY {
            self.write_buf = BytesMut::new();
        } else {
            self.write_buf.clear();
        }
        Ok(())
    }

    /// Ends the connection so that the peer can read everything we sent, a DISCONNECT above all
    /// ([MQTT-4.13.2-1]): flushes, closes our side (a FIN on TCP, a close frame on WebSocket), then reads and
    /// discards what the peer still sends until it closes too, for at most `linger` or until `stop` fires.
    ///
    /// Closing a TCP socket with unread bytes in it sends a reset instead of an orderly close: a client still
    /// writing (PUBRELs, say) would get a broken pipe or a reset and might never read the DISCONNECT that says why.
    /// Errors are ignored: the connection is over.
    pub(crate) async fn close(&mut self, linger: Duration, stop: &CancellationToken) {
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
        let drain = async {
            loop {
                // The bytes are discarded; the buffer is on the heap, so this state adds nothing to the task's.
                self.read_buf.clear();
                self.read_buf.reserve(READ_CHUNK);
                match self.stream.read_buf(&mut self.read_buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        };
        tokio::select! {
            _ = tokio::time::timeout(linger, drain) => {}
            () = stop.cancelled() => {}
        }
    }
}

/// The properties of a packet the server sends that may carry a Reason String and User Properties to explain
/// itself; `None` for PUBLISH (whose properties are the message's) and packets without properties.
fn diagnostics(packet: &Packet) -> Option<&Properties> {
    match packet {
        Packet::ConnAck(p) => Some(&p.properties),
        Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => Some(&p.properties),
        Packet::SubAck(p) => Some(&p.properties),
        Packet::UnsubAck(p) => Some(&p.properties),
        Packet::Disconnect(p) => Some(&p.properties),
        Packet::Auth(p) => Some(&p.properties),
        _ => None,
    }
}

/// [`diagnostics`], to change.
fn diagnostics_mut(packet: &mut Packet) -> Option<&mut Properties> {
    match packet {
        Packet::ConnAck(p) => Some(&mut p.properties),
        Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => Some(&mut p.properties),
        Packet::SubAck(p) => Some(&mut p.properties),
        Packet::UnsubAck(p) => Some(&mut p.properties),
        Packet::Disconnect(p) => Some(&mut p.properties),
        Packet::Auth(p) => Some(&mut p.properties),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use futures_util::FutureExt as _;
    use roost_codec::{Ack, PacketId};
    use tokio::io::DuplexStream;

    use super::*;
    use crate::store::fs::FaultFs;
    use crate::store::{Record, StoreOptions};

    fn puback(id: u16) -> Packet {
        Packet::PubAck(Ack::new(PacketId::new(id).expect("not zero")))
    }

    /// What the client can read right now, without waiting.
    fn readable(client: &mut DuplexStream) -> Vec<u8> {
        let mut buf = [0; 64];
        match client.read(&mut buf).now_or_never() {
            Some(n) => buf[..n.expect("duplex read")].to_vec(),
            None => Vec::new(),
        }
    }

    fn submit(store: &Store) -> Lsn {
        store
            .submit(vec![Record::RetainedDelete { topic: "t".into() }])
            .expect("store open")
    }

    /// Acknowledgements wait in the write buffer for their LSN without blocking the connection, leave in order
    /// (nothing passes one that still waits), and each goes as soon as its own LSN is durable.
    #[tokio::test]
    async fn held_acknowledgements_leave_in_order_once_durable() {
        let fs = Arc::new(FaultFs::new());
        let (store, _) = Store::open_with(fs, Path::new("/data"), StoreOptions::default()).expect("open");
        let (mut client, server) = tokio::io::duplex(4096);
        let mut conn = Connection::new(server, MAX_PACKET_SIZE, Arc::new(Stats::default()), store.clone());
        // LSNs not submitted yet: they cannot be durable before the test submits them.
        let first = store.last_lsn() + 1;
        conn.after_durable(first);
        conn.queue_packet(&puback(1)).unwrap();
        conn.flush_ready().await.unwrap();
        assert_eq!(conn.held_lsn(), Some(first));
        conn.after_durable(first + 1);
        conn.queue_packet(&puback(2)).unwrap();
        // Queued with no LSN of its own, but behind PUBACK 2: it waits for it.
        conn.queue_packet(&puback(3)).unwrap();
        conn.flush_ready().await.unwrap();
        assert!(readable(&mut client).is_empty(), "nothing is durable yet");
        assert!(!conn.is_backlogged());

        assert_eq!(submit(&store), first);
        store.durable(first).await.unwrap();
        conn.flush_ready().await.unwrap();
        assert_eq!(readable(&mut client), [0x40, 2, 0, 1], "PUBACK 1 only");
        assert_eq!(conn.held_lsn(), Some(first + 1));

        assert_eq!(submit(&store), first + 1);
        store.durable(first + 1).await.unwrap();
        conn.flush_ready().await.unwrap();
        assert_eq!(readable(&mut client), [0x40, 2, 0, 2, 0x40, 2, 0, 3]);
        assert_eq!(conn.held_lsn(), None);
    }

    /// `flush` (used where the connection must not go on, e.g. before CONNACK or DISCONNECT) waits for everything.
    #[tokio::test]
    async fn flush_waits_for_the_last_held_lsn() {
        let fs = Arc::new(FaultFs::new());
        let (store, _) = Store::open_with(fs, Path::new("/data"), StoreOptions::default()).expect("open");
        let (mut client, server) = tokio::io::duplex(4096);
        let mut conn = Connection::new(server, MAX_PACKET_SIZE, Arc::new(Stats::default()), store.clone());
        let lsn = submit(&store);
        conn.after_durable(lsn);
        conn.queue_packet(&puback(1)).unwrap();
        conn.flush().await.unwrap();
        assert!(store.is_durable(lsn).unwrap());
        assert_eq!(readable(&mut client), [0x40, 2, 0, 1]);
    }
}
