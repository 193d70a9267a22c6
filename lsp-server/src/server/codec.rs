//! LSP's base-protocol framing (`Content-Length: N` header lines, a blank line, then
//! N bytes of JSON), read and written here only. Stdio frames both ways through it;
//! the WebSocket transport carries bare messages and meets framing only at
//! tower-lsp-server's own pipe, through the same two functions.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// Frames larger than this are skipped unread (a document is capped far lower).
pub const MAX_FRAME_BYTES: usize = 64 << 20;

/// Header lines longer than this mean the stream is not LSP framing.
const MAX_HEADER_LINE: usize = 8 << 10;

/// A frame that was read past but could not be used; the stream goes on after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Header lines without `Content-Length`.
    #[error("a message without Content-Length")]
    NoLength,
    /// A `Content-Length` that is not a number.
    #[error("bad Content-Length {0:?}")]
    BadLength(String),
    /// More than [`MAX_FRAME_BYTES`]; its body was skipped.
    #[error("a {0}-byte message exceeds the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
}

/// `body` with its header.
pub fn encode(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// Writes one frame and flushes it.
pub async fn write_frame<W: AsyncWrite + Unpin>(output: &mut W, body: &[u8]) -> std::io::Result<()> {
    output.write_all(&encode(body)).await?;
    output.flush().await
}

/// Reads frames from a byte stream, one at a time.
#[derive(Debug)]
pub struct FrameReader<R> {
    reader: BufReader<R>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads frames from `input`.
    pub fn new(input: R) -> FrameReader<R> {
        FrameReader { reader: BufReader::new(input) }
    }

    /// The next frame's body, or why the next frame is unusable (the stream goes on
    /// after it); None at the end of the stream, or where it stops being framing.
    pub async fn next(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        let mut length: Option<Result<usize, FrameError>> = None;
        let mut saw_header = false;
        loop {
            let mut line = Vec::new();
            let n = (&mut self.reader).take(MAX_HEADER_LINE as u64).read_until(b'\n', &mut line).await.ok()?;
            if n == 0 {
                return None;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            if text.is_empty() {
                if saw_header {
                    break;
                }
                continue; // blank lines between frames
            }
            saw_header = true;
            if let Some((name, value)) = text.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    length = Some(value.trim().parse::<usize>().map_err(|_| FrameError::BadLength(value.trim().to_string())));
                }
            }
        }
        let len = match length {
            None => return Some(Err(FrameError::NoLength)),
            Some(Err(e)) => return Some(Err(e)),
            Some(Ok(len)) => len,
        };
        if len > MAX_FRAME_BYTES {
            let skipped = tokio::io::copy(&mut (&mut self.reader).take(len as u64), &mut tokio::io::sink()).await.ok()?;
            return (skipped == len as u64).then_some(Err(FrameError::TooLarge(len)));
        }
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).await.ok()?;
        Some(Ok(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(bytes: &[u8]) -> Vec<Result<Vec<u8>, FrameError>> {
        let mut reader = FrameReader::new(bytes);
        let mut out = Vec::new();
        while let Some(frame) = reader.next().await {
            out.push(frame);
        }
        out
    }

    #[tokio::test]
    async fn frames_round_trip_and_bad_ones_are_skipped() {
        let mut stream = encode(br#"{"a":1}"#);
        stream.extend_from_slice(b"\r\n\r\ncontent-length: 2\r\nContent-Type: x\r\n\r\n{}");
        stream.extend_from_slice(b"Content-Type: nothing\r\n\r\n");
        stream.extend_from_slice(b"Content-Length: -1\r\n\r\n");
        stream.extend_from_slice(format!("Content-Length: {}\r\n\r\n", MAX_FRAME_BYTES + 1).as_bytes());
        stream.extend(std::iter::repeat_n(b' ', MAX_FRAME_BYTES + 1));
        stream.extend_from_slice(&encode(b"[]"));
        stream.extend_from_slice(b"Content-Length: 10\r\n\r\nshort");
        assert_eq!(
            read_all(&stream).await,
            vec![
                Ok(br#"{"a":1}"#.to_vec()),
                Ok(b"{}".to_vec()),
                Err(FrameError::NoLength),
                Err(FrameError::BadLength("-1".into())),
                Err(FrameError::TooLarge(MAX_FRAME_BYTES + 1)),
                Ok(b"[]".to_vec()),
            ]
        );
    }
}
