//! Writing handshake messages: one message per write. (Reading a handshake and putting back bytes read
//! too early are gost-transport's [`Stream::read_more`](gost_transport::Stream::read_more) and
//! [`Stream::prepend`](gost_transport::Stream::prepend), shared with the connectors.)

use std::io;

use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Writes one protocol message in a single write and flushes it, so it never shares a segment, TLS record or
/// smux frame with later data (upstream clients drop bytes that arrive together with a reply).
pub(crate) async fn send<W: AsyncWrite + Unpin + ?Sized>(w: &mut W, msg: &[u8]) -> io::Result<()> {
    w.write_all(msg).await?;
    w.flush().await
}
