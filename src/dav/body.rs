//! Response bodies: whole (`Full`) or produced while being sent (`Channel`),
//! so that a multistatus over thousands of members is never held in memory.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::mpsc;

/// Chunks a streaming producer may have in flight before it waits for the client.
const CHANNEL_DEPTH: usize = 8;
/// Size at which a streaming producer hands a chunk over.
pub const CHUNK_BYTES: usize = 32 * 1024;

pub enum Body {
    Full(Option<Bytes>),
    Channel(mpsc::Receiver<Bytes>),
}

impl Body {
    pub fn empty() -> Self {
        Body::Full(None)
    }

    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        if bytes.is_empty() { Body::Full(None) } else { Body::Full(Some(bytes)) }
    }

    /// A body fed through the returned sender; it ends when the sender is dropped.
    pub fn channel() -> (BodySender, Body) {
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        (BodySender { tx }, Body::Channel(rx))
    }
}

/// The producing end of a streamed body.
pub struct BodySender {
    tx: mpsc::Sender<Bytes>,
}

impl BodySender {
    /// Sends a chunk; `false` once the client has gone away.
    pub async fn send(&self, chunk: impl Into<Bytes>) -> bool {
        let chunk = chunk.into();
        if chunk.is_empty() {
            return true;
        }
        self.tx.send(chunk).await.is_ok()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            Body::Channel(rx) => rx.poll_recv(cx).map(|chunk| chunk.map(|c| Ok(Frame::data(c)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(d)) => SizeHint::with_exact(d.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Channel(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn channel_body_delivers_chunks_in_order_and_ends() {
        let (tx, body) = Body::channel();
        tokio::spawn(async move {
            for part in ["a", "", "b", "c"] {
                assert!(tx.send(part.to_owned()).await);
            }
        });
        let all = body.collect().await.unwrap().to_bytes();
        assert_eq!(&all[..], b"abc");
    }
}
