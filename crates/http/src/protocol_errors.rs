//! hyper's own answers to unparseable requests, rewritten into the documented error envelope.
//!
//! hyper answers some malformed HTTP/1.1 requests itself, before any service runs: 400 for a
//! request line or header it cannot parse, 414 for a target too long, 431 for a head too large —
//! with empty bodies, and with no hook to change them (hyperium/hyper#3225). So that every answer
//! is JSON, this adapter sits between hyper and the socket and recognises exactly those automatic
//! answers as hyper writes them: an HTTP/1.1 status line of 400, 414 or 431, `content-length: 0`,
//! and nothing after the head. The application never answers those statuses without a JSON body
//! (every error carries the envelope), so nothing it writes can match. The adapter reports the
//! original bytes as written and puts the envelope on the wire instead; hyper closes the
//! connection after such an answer, and so does the envelope (`connection: close`).
//!
//! It asks hyper for flat (non-vectored) writes, so that an automatic answer always arrives as
//! one buffer.

use crate::error::ApiError;
use axum::http::StatusCode;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The socket seen through hyper's automatic answers.
pub(crate) struct EnvelopeIo<T> {
    inner: T,
    /// A replacement answer still to be written, and how much of it has been.
    pending: Vec<u8>,
    sent: usize,
}

impl<T> EnvelopeIo<T> {
    pub(crate) fn new(inner: T) -> Self {
        EnvelopeIo { inner, pending: Vec::new(), sent: 0 }
    }
}

/// What an automatic answer means, by status.
fn meaning(status: &[u8]) -> Option<ApiError> {
    Some(match status {
        b"400" => ApiError::new(
            StatusCode::BAD_REQUEST,
            "request_malformed",
            "the request line or a header could not be parsed",
        ),
        b"414" => ApiError::new(StatusCode::URI_TOO_LONG, "uri_too_long", "the request target is too long"),
        b"431" => ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            crate::server::headers_over_the_limit(),
        ),
        _ => return None,
    })
}

/// The envelope answer replacing `written`, if `written` is one of hyper's automatic answers.
fn replacement(written: &[u8]) -> Option<Vec<u8>> {
    // Cheap refusals first: this runs on every write.
    let status = written.strip_prefix(b"HTTP/1.1 ")?.get(..3)?;
    if !matches!(status, b"400" | b"414" | b"431") {
        return None;
    }
    // The whole write is one head and nothing else.
    let head_len = written.windows(4).position(|w| w == b"\r\n\r\n")?;
    if head_len + 4 != written.len() {
        return None;
    }
    let head = &written[..head_len];
    let mut lines = head.split(|b| *b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next()?;
    let mut empty = false;
    let mut date = None;
    for line in lines {
        let lower = line.to_ascii_lowercase();
        if lower == b"content-length: 0" {
            empty = true;
        } else if lower.starts_with(b"content-length:") || lower.starts_with(b"content-type:") {
            return None;
        } else if lower.starts_with(b"date:") {
            date = Some(line);
        }
    }
    if !empty {
        return None;
    }
    let body = serde_json::to_vec(&meaning(status)?.envelope()).ok()?;
    let mut out = Vec::with_capacity(160 + body.len());
    out.extend_from_slice(status_line);
    out.extend_from_slice(b"\r\ncontent-type: application/json\r\nconnection: close\r\n");
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    if let Some(date) = date {
        out.extend_from_slice(date);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    Some(out)
}

impl<T: AsyncWrite + Unpin> EnvelopeIo<T> {
    /// Writes out a pending replacement; ready once nothing is pending.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for EnvelopeIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for EnvelopeIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.drain(cx))?;
        if let Some(answer) = replacement(buf) {
            this.pending = answer;
            // What is not written now is written by the next write, flush or shutdown; hyper
            // flushes before it closes.
            if let Poll::Ready(Err(e)) = this.drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(answer: &[u8]) -> serde_json::Value {
        let at = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        serde_json::from_slice(&answer[at..]).unwrap()
    }

    #[test]
    fn hypers_automatic_answers_become_the_envelope() {
        for (status, reason) in [
            ("400 Bad Request", "request_malformed"),
            ("414 URI Too Long", "uri_too_long"),
            ("431 Request Header Fields Too Large", "headers_too_large"),
        ] {
            let written =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 15:00:00 GMT\r\n\r\n");
            let answer = replacement(written.as_bytes()).expect("recognised");
            let text = String::from_utf8_lossy(&answer);
            assert!(text.starts_with(&format!("HTTP/1.1 {status}\r\n")), "{text}");
            assert!(
                text.contains("\r\ncontent-type: application/json\r\n") && text.contains("\r\ndate: Wed"),
                "{text}"
            );
            let body = body_of(&answer);
            assert_eq!(body["error"]["reason"], reason);
            assert_eq!(body["success"], false);
            let length: usize =
                text.split("content-length: ").nth(1).unwrap().split("\r\n").next().unwrap().parse().unwrap();
            assert_eq!(length, answer.len() - text.find("\r\n\r\n").unwrap() - 4);
        }
    }

    #[test]
    fn application_answers_are_never_touched() {
        for written in [
            // The application's own 400: a JSON body.
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"[..],
            // A head written without its body in the same write.
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n",
            // Other statuses, and bodies.
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"{\"success\":false}",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\ntrailing",
            b"",
        ] {
            assert!(replacement(written).is_none(), "{}", String::from_utf8_lossy(written));
        }
    }
}
