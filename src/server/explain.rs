//! Explained answers to request heads hyper refuses.
//!
//! hyper rejects a malformed request head (a bad header line, conflicting
//! or non-numeric `Content-Length`, a `Transfer-Encoding` it cannot
//! decode, an oversized head) before any service runs, and answers with a
//! bare `400`/`431`/`414` that has no body and no hook to change it. A
//! client then cannot tell what was wrong. [`ExplainParseErrors`] wraps
//! a connection's stream: it keeps the bytes of the request head being
//! read, and when hyper writes one of its bare error answers it writes in
//! its place the same status with a `text/plain` body that names the
//! problem (found by parsing those bytes again with `httparse`, the
//! parser hyper uses). Every other byte passes through untouched.
//!
//! Only header *names* and lengths are quoted back, never header values:
//! a malformed line may carry a token.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The limits named in the explanations (`server.limits`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeadLimits {
    pub max_headers: usize,
    pub max_header_bytes: usize,
}

/// A stream whose bare hyper error answers are replaced by explained ones.
#[derive(Debug)]
pub(crate) struct ExplainParseErrors<T> {
    inner: T,
    limits: HeadLimits,
    /// What was read since the last answer began: the head hyper is
    /// parsing (and whatever body follows it), up to `cap` bytes.
    head: Vec<u8>,
    /// Past `cap`: the head is too large to keep, or the connection speaks
    /// HTTP/2; nothing more is recorded until the next answer.
    stopped: bool,
    /// An answer began since the last read: the next read starts afresh.
    /// (Not cleared at once: pipelined requests read together with the
    /// answered one are still to be parsed.)
    answered: bool,
    /// An explained answer being written in place of `replaced` bytes of
    /// hyper's.
    pending: Option<Replacement>,
}

#[derive(Debug)]
struct Replacement {
    bytes: Vec<u8>,
    written: usize,
    replaced: usize,
}

impl<T> ExplainParseErrors<T> {
    pub(crate) fn new(inner: T, limits: HeadLimits) -> Self {
        ExplainParseErrors {
            inner,
            limits,
            head: Vec::new(),
            stopped: false,
            answered: false,
            pending: None,
        }
    }

    fn record(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.answered {
            self.answered = false;
            self.stopped = false;
            if self.head.capacity() > 4096 {
                self.head = Vec::new();
            } else {
                self.head.clear();
            }
        }
        if self.stopped {
            return;
        }
        if self.head.is_empty() && bytes.starts_with(b"PRI * HTTP/2.0") {
            // HTTP/2: hyper's HTTP/1 errors cannot happen.
            self.stopped = true;
            return;
        }
        // A head larger than this is refused with 431, which needs no
        // bytes to explain.
        let cap = self.limits.max_header_bytes.max(8192) + 1024;
        if self.head.len() + bytes.len() > cap {
            self.stopped = true;
            self.head = Vec::new();
            return;
        }
        self.head.extend_from_slice(bytes);
    }

    /// An answer begins: the request it answers has been read.
    fn answer_begins(&mut self) {
        self.answered = true;
    }

    /// Called with the first bytes of a write: `Some(answer)` when they
    /// are one of hyper's bare error answers.
    fn replacement_for(&mut self, first: &[u8]) -> Option<Vec<u8>> {
        if !first.starts_with(b"HTTP/1.") {
            return None;
        }
        let answer = bare_error(first).map(|(status, date)| {
            let why = match status {
                431 => format!(
                    "the request head is too large: at most {} header lines and {} bytes are accepted",
                    self.limits.max_headers, self.limits.max_header_bytes
                ),
                414 => "the request target (URI) is too long".to_owned(),
                _ => diagnose(&self.head[last_request_line(&self.head)..]),
            };
            explained(first, date, &why)
        });
        self.answer_begins();
        answer
    }
}

/// `(status, date line)` when `head` is a complete answer head with only
/// the headers hyper puts on its automatic error answers (`connection:
/// close`, `content-length: 0`, `date`); our own answers always carry
/// a body and more headers.
fn bare_error(head: &[u8]) -> Option<(u16, &[u8])> {
    // The status first: every answer passes here, and almost none is an
    // error, so the head is scanned only for the three statuses.
    let status = match head.get(9..12)? {
        b"400" => 400,
        b"414" => 414,
        b"431" => 431,
        _ => return None,
    };
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    if end + 4 != head.len() {
        return None;
    }
    let mut lines = head[..end].split(|&b| b == b'\n');
    lines.next()?;
    let mut date: &[u8] = b"";
    let mut empty_body = false;
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let lower = line.to_ascii_lowercase();
        if lower == b"content-length: 0" {
            empty_body = true;
        } else if lower.starts_with(b"date:") {
            date = line;
        } else if lower != b"connection: close" {
            return None;
        }
    }
    empty_body.then_some((status, date))
}

/// hyper's answer `bare` (its status line and date) with `why` as its body.
fn explained(bare: &[u8], date: &[u8], why: &str) -> Vec<u8> {
    let status_line = bare
        .split(|&b| b == b'\r')
        .next()
        .unwrap_or(b"HTTP/1.1 400 Bad Request");
    let body = format!("{why}\n");
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(status_line);
    out.extend_from_slice(b"\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n");
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    if !date.is_empty() {
        out.extend_from_slice(date);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    out
}

/// What is wrong with the request head at the start of `bytes`, in the
/// terms of RFC 9112.
pub(crate) fn diagnose(bytes: &[u8]) -> String {
    const UNKNOWN: &str = "the request head is not valid HTTP/1.1 (RFC 9112)";
    let mut headers = [httparse::EMPTY_HEADER; 256];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(bytes) {
        Err(e) => {
            let what = match e {
                httparse::Error::HeaderName => {
                    "a header line has no valid name: a name is a token (letters, digits and !#$%&'*+-.^_`|~) followed by a colon"
                }
                httparse::Error::HeaderValue => "a header value holds a control character",
                httparse::Error::Token => "the request method is not a token",
                httparse::Error::Version => "the request line does not end in HTTP/1.0 or HTTP/1.1",
                httparse::Error::NewLine => "a line of the request head does not end in CRLF",
                httparse::Error::TooManyHeaders => "the request head has too many header lines",
                httparse::Error::Status => UNKNOWN,
            };
            match first_bad_line(bytes) {
                Some(n)
                    if e == httparse::Error::HeaderName || e == httparse::Error::HeaderValue =>
                {
                    format!("{what} (line {n} of the request head)")
                }
                _ => what.to_owned(),
            }
        }
        Ok(httparse::Status::Partial) => "the request head is incomplete or malformed".to_owned(),
        Ok(httparse::Status::Complete(_)) => framing_problem(&req).unwrap_or_else(|| {
            if req.path.is_some_and(|p| p.parse::<http::Uri>().is_err()) {
                "the request target is not a valid URI".to_owned()
            } else {
                UNKNOWN.to_owned()
            }
        }),
    }
}

/// Where the last request line (`METHOD target HTTP/1.x`) in `bytes`
/// begins: the head hyper failed on when several were read at once.
fn last_request_line(bytes: &[u8]) -> usize {
    let mut last = 0;
    let mut start = 0;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let mut parts = text.split(|&b| b == b' ');
        let looks_like = matches!(
            (parts.next(), parts.next(), parts.next(), parts.next()),
            (Some(m), Some(t), Some(v), None)
                if !m.is_empty() && m.iter().all(|b| b.is_ascii_uppercase())
                    && !t.is_empty() && v.starts_with(b"HTTP/")
        );
        if looks_like {
            last = start;
        }
        start += line.len();
    }
    last
}

/// The 1-based number of the first header line (the request line is 1)
/// without a valid `name:` prefix or with a control character.
fn first_bad_line(bytes: &[u8]) -> Option<usize> {
    let head = bytes
        .split(|&b| b == b'\n')
        .take_while(|l| *l != b"\r" && !l.is_empty());
    for (i, line) in head.enumerate().skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let name_ok = match line.iter().position(|&b| b == b':') {
            Some(colon) if colon > 0 => line[..colon].iter().all(|&b| is_tchar(b)),
            _ => false,
        };
        let value_ok = line.iter().all(|&b| b == b'\t' || !(b < 0x20 || b == 0x7f));
        if !name_ok || !value_ok {
            return Some(i + 1);
        }
    }
    None
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A `Content-Length` / `Transfer-Encoding` problem (RFC 9112 §6).
fn framing_problem(req: &httparse::Request<'_, '_>) -> Option<String> {
    let mut length: Option<u64> = None;
    let mut chunked_last = None;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let text = String::from_utf8_lossy(h.value);
            for part in text.split(',') {
                let part = part.trim();
                let Ok(n) = part.parse::<u64>() else {
                    let shown: String = part.chars().take(40).collect();
                    return Some(format!("Content-Length {shown:?} is not a number of bytes"));
                };
                match length {
                    Some(m) if m != n => {
                        return Some(format!(
                            "conflicting Content-Length values {m} and {n}: a request has one length"
                        ));
                    }
                    _ => length = Some(n),
                }
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if req.version == Some(0) {
                return Some("an HTTP/1.0 request cannot use Transfer-Encoding".to_owned());
            }
            let text = String::from_utf8_lossy(h.value).to_ascii_lowercase();
            let last = text.rsplit(',').next().unwrap_or("").trim().to_owned();
            chunked_last = Some(last == "chunked");
        }
    }
    match chunked_last {
        Some(false) => Some(
            "Transfer-Encoding must end in chunked: no other coding is accepted on a request"
                .to_owned(),
        ),
        _ => None,
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ExplainParseErrors<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let filled = buf.filled();
        let new = &filled[before..];
        this.record(new);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> ExplainParseErrors<T> {
    /// Writes the pending replacement; `Ready(n)` with the number of
    /// hyper's bytes it stands for once all of it is written.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(p) = &mut self.pending else {
            return Poll::Ready(Ok(0));
        };
        while p.written < p.bytes.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &p.bytes[p.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            p.written += n;
        }
        let replaced = p.replaced;
        self.pending = None;
        Poll::Ready(Ok(replaced))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ExplainParseErrors<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.is_none()
            && let Some(bytes) = this.replacement_for(buf)
        {
            this.pending = Some(Replacement {
                bytes,
                written: 0,
                replaced: buf.len(),
            });
        }
        if this.pending.is_some() {
            return this.poll_pending(cx);
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.is_none()
            && let Some(first) = bufs.iter().find(|b| !b.is_empty())
            && let Some(bytes) = this.replacement_for(first)
        {
            this.pending = Some(Replacement {
                bytes,
                written: 0,
                replaced: first.len(),
            });
        }
        if this.pending.is_some() {
            return this.poll_pending(cx);
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_and_syntax_problems_are_named() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n",
                "conflicting content-length values 5 and 7",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n",
                "conflicting content-length values 5 and 6",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                "content-length \"abc\" is not a number",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                "must end in chunked",
            ),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                "http/1.0 request cannot use transfer-encoding",
            ),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                "no valid name: a name is a token",
            ),
            (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", "line 3"),
            (b"GET / HTTP/9.9\r\n\r\n", "http/1.0 or http/1.1"),
            (b"G{}T / HTTP/1.1\r\n\r\n", "method is not a token"),
        ];
        for (head, words) in cases {
            let why = diagnose(head).to_lowercase();
            assert!(
                why.contains(words),
                "{:?}: {why:?} lacks {words:?}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn the_last_of_pipelined_heads_is_diagnosed() {
        let read = b"GET /compute/ HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        let why = diagnose(&read[last_request_line(read)..]);
        assert!(
            why.contains("conflicting Content-Length values 1 and 2"),
            "{why}"
        );
    }

    #[test]
    fn values_are_never_quoted_back() {
        let why = diagnose(b"GET / HTTP/1.1\r\nX-Auth-Token: se\x01cret\r\n\r\n");
        assert!(why.contains("control character"), "{why}");
        assert!(!why.contains("se"), "{why}");
    }

    #[test]
    fn only_hypers_bare_answers_are_replaced() {
        let bare = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Sun, 29 Nov 2026 09:39:02 GMT\r\n\r\n";
        let (status, date) = bare_error(bare).expect("bare");
        assert_eq!(status, 400);
        assert!(date.starts_with(b"date:"));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nserver: snf-occi\r\ncontent-length: 0\r\n\r\n";
        assert!(bare_error(ours).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(bare_error(ok).is_none());
        let answer = String::from_utf8(explained(bare, date, "why")).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{answer}"
        );
        assert!(answer.contains("content-length: 4\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nwhy\n"), "{answer}");
    }
}
