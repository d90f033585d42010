//! TEMPORARY until roost-codec lands.
use crate::broker::Broker;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio_util::sync::CancellationToken;
pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    _id: u64,
    _b: Arc<Broker>,
    _s: CancellationToken,
) {
    let mut buf = [0u8; 64];
    while stream.read(&mut buf).await.map(|n| n > 0).unwrap_or(false) {}
}
