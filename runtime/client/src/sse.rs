//! A `text/event-stream` decoder (the WHATWG "server-sent events" parsing rules) and the
//! adapter from a response body to a stream of [`StreamPart`]s.
//!
//! The decoder takes bytes in chunks of any size: an event, a line, even a CRLF pair may be
//! split across chunks. Lines end with CRLF, LF or CR; `:` lines are comments (heartbeats);
//! fields are `event`, `data` (several `data` lines are joined with `\n`), `id` and `retry`;
//! an empty line dispatches the event. As the standard says, an event with no `data` line is
//! not dispatched, and an event left incomplete when the body ends is dropped.

use std::collections::VecDeque;
use std::pin::Pin;

use futures::{Stream, StreamExt};
use orrery_api::StreamPart;
use serde_json::Value;

use crate::error::{Error, Result};

/// One decoded event, before its data is parsed as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event` field; `message` when the event had none.
    pub event: String,
    /// The `data` lines joined with `\n`.
    pub data: String,
    /// The `id` field of this event, if it had one.
    pub id: Option<String>,
}

/// An incremental `text/event-stream` decoder.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of the line being read.
    line: Vec<u8>,
    /// The previous chunk ended with CR: a leading LF of the next one belongs to it.
    after_cr: bool,
    /// Still at the very start of the stream (a byte-order mark is skipped there).
    started: bool,
    event: String,
    data: String,
    id_in_event: Option<String>,
    last_event_id: Option<String>,
    retry_ms: Option<u64>,
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> SseDecoder {
        SseDecoder::default()
    }

    /// Feeds a chunk; complete events are appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        let mut bytes = chunk;
        if self.after_cr {
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
            if !chunk.is_empty() {
                self.after_cr = false;
            }
        }
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => {
                    self.line.extend_from_slice(&bytes[start..i]);
                    self.end_line(out);
                    i += 1;
                    start = i;
                }
                b'\r' => {
                    self.line.extend_from_slice(&bytes[start..i]);
                    self.end_line(out);
                    i += 1;
                    if i == bytes.len() {
                        self.after_cr = true;
                    } else if bytes[i] == b'\n' {
                        i += 1;
                    }
                    start = i;
                }
                _ => i += 1,
            }
        }
        self.line.extend_from_slice(&bytes[start..]);
    }

    /// The last `id` the stream set (it persists across events, as in the standard), for a
    /// reconnection's `Last-Event-ID`.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// The reconnection delay the server asked for with `retry`, in milliseconds.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let raw = std::mem::take(&mut self.line);
        let mut line: &str = &String::from_utf8_lossy(&raw);
        if !self.started {
            self.started = true;
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return; // a comment, e.g. `: heartbeat`
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => {
                self.last_event_id = Some(value.to_string());
                self.id_in_event = Some(value.to_string());
            }
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry_ms = value.parse().ok();
            }
            _ => {} // unknown fields are ignored
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = std::mem::take(&mut self.event);
        let id = self.id_in_event.take();
        if self.data.is_empty() {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        let event = if event.is_empty() { "message".to_string() } else { event };
        out.push(SseEvent { event, data, id });
    }
}

/// Parses an event's data as JSON (empty data is `null`).
pub fn to_part(e: SseEvent) -> Result<StreamPart> {
    let data = if e.data.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&e.data).map_err(|source| Error::Decode {
            what: format!("data of event '{}'", e.event),
            source,
        })?
    };
    Ok(StreamPart { event: e.event, data, id: e.id })
}

/// A boxed stream of parts, `Send` so it can cross tasks.
pub type PartStream = Pin<Box<dyn Stream<Item = Result<StreamPart>> + Send>>;

/// The parts of an SSE response body. A body that breaks off yields one [`Error::Transport`]
/// and ends; an event whose data is not JSON yields one [`Error::Decode`] and the stream goes
/// on.
pub(crate) fn parts(resp: reqwest::Response, method: &str, url: String) -> PartStream {
    struct State {
        body: Pin<Box<dyn Stream<Item = reqwest::Result<Vec<u8>>> + Send>>,
        decoder: SseDecoder,
        ready: VecDeque<SseEvent>,
        done: bool,
        method: String,
        url: String,
    }
    let body = resp.bytes_stream().map(|r| r.map(|b| b.to_vec()));
    let state = State {
        body: Box::pin(body),
        decoder: SseDecoder::new(),
        ready: VecDeque::new(),
        done: false,
        method: method.to_string(),
        url,
    };
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(e) = st.ready.pop_front() {
                return Some((to_part(e), st));
            }
            if st.done {
                return None;
            }
            match st.body.next().await {
                Some(Ok(chunk)) => {
                    let mut out = Vec::new();
                    st.decoder.feed(&chunk, &mut out);
                    st.ready.extend(out);
                }
                Some(Err(source)) => {
                    st.done = true;
                    let err = Error::Transport {
                        method: std::mem::take(&mut st.method),
                        url: std::mem::take(&mut st.url),
                        source,
                    };
                    return Some((Err(err), st));
                }
                None => st.done = true,
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_chunks(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            d.feed(c, &mut out);
        }
        out
    }

    fn ev(event: &str, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent { event: event.into(), data: data.into(), id: id.map(Into::into) }
    }

    const GOLDEN: &str = "event: metadata\r\ndata: {\"run_id\":\"r1\",\"attempt\":1}\r\n\r\n: heartbeat\r\n\r\nevent: values\r\ndata: {\"messages\":[]}\r\nid: 1795599328855-0\r\n\r\n";

    #[test]
    fn langgraph_framing() {
        let got = decode_chunks(&[GOLDEN.as_bytes()]);
        assert_eq!(
            got,
            vec![
                ev("metadata", r#"{"run_id":"r1","attempt":1}"#, None),
                ev("values", r#"{"messages":[]}"#, Some("1795599328855-0")),
            ]
        );
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let whole = decode_chunks(&[GOLDEN.as_bytes()]);
        let bytes = GOLDEN.as_bytes();
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let got = decode_chunks(&[&bytes[..i], &bytes[i..j], &bytes[j..]]);
                assert_eq!(got, whole, "split at {i} and {j}");
            }
        }
    }

    #[test]
    fn byte_at_a_time_with_multibyte_text() {
        let text = "event: custom\ndata: {\"t\":\"héllo ☃\"}\n\n";
        let chunks: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
        assert_eq!(decode_chunks(&chunks), vec![ev("custom", "{\"t\":\"héllo ☃\"}", None)]);
    }

    #[test]
    fn lf_cr_and_crlf_line_ends() {
        let got = decode_chunks(&[b"data: a\n\ndata: b\r\rdata: c\r\n\r\n"]);
        assert_eq!(
            got,
            vec![ev("message", "a", None), ev("message", "b", None), ev("message", "c", None)]
        );
        // A CR at the end of a chunk followed by LF in the next is one line end, not two.
        let got = decode_chunks(&[b"data: x\r", b"\n", b"data: y\r", b"\n\r", b"\n"]);
        assert_eq!(got, vec![ev("message", "x\ny", None)]);
    }

    #[test]
    fn multi_line_data_fields_and_comments() {
        let got = decode_chunks(&[
            b": comment\nevent: values\ndata: {\"a\":\ndata:1}\nretry: 2500\nid: 7\nfoo: bar\nretry: x\n\n",
        ]);
        assert_eq!(got, vec![ev("values", "{\"a\":\n1}", Some("7"))]);
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.feed(b"retry: 2500\nid: 7\ndata: z\n\ndata: w\n\n", &mut out);
        assert_eq!(d.retry_ms(), Some(2500));
        assert_eq!(d.last_event_id(), Some("7"));
        // The id persists for reconnection but is reported only on the event that set it.
        assert_eq!(out, vec![ev("message", "z", Some("7")), ev("message", "w", None)]);
    }

    #[test]
    fn no_data_no_dispatch_and_incomplete_tail_dropped() {
        let got = decode_chunks(&[b"event: x\n\nid: 3\n\ndata\n\nevent: y\ndata: 1"]);
        // `data` without a colon is a data line with an empty value.
        assert_eq!(got, vec![ev("message", "", None)]);
    }

    #[test]
    fn field_without_space_and_bom() {
        let got = decode_chunks(&[b"\xEF\xBB\xBFevent:values\ndata:{}\n\n"]);
        assert_eq!(got, vec![ev("values", "{}", None)]);
    }

    #[test]
    fn parts_parse_json() {
        let p = to_part(ev("values", r#"{"x":1}"#, Some("1-0"))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.data["x"], 1);
        assert_eq!(p.id.as_deref(), Some("1-0"));
        assert!(matches!(to_part(ev("values", "{", None)), Err(Error::Decode { .. })));
        assert_eq!(to_part(ev("end", "", None)).map(|p| p.data).ok(), Some(Value::Null));
    }
}
