//! Incremental framing of the chunked transfer coding (RFC 9112 §7.1).
//!
//! [`Chunked`] only finds where a chunked body ends: it is fed the bytes as
//! they arrive, in any split, and says how many of them belong to the body.
//! The bytes themselves are relayed unchanged by the caller; nothing is
//! decoded, buffered or rewritten here. Chunk data is skipped in bulk, only
//! size lines and trailers are looked at byte by byte.
//!
//! Strict where lenience lets a front and a back end disagree about the
//! end of a message (request smuggling): CRLF is required after every size
//! line, chunk and trailer line (a bare LF is an error), sizes are at most
//! 15 hex digits, size lines and trailers are bounded.

/// Longest chunk-size line (extensions included), bytes.
const MAX_SIZE_LINE: u32 = 4096;

/// Largest trailer section, bytes.
const MAX_TRAILERS: u32 = 16 * 1024;

/// Why a chunked body cannot be framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkError {
    /// Not a hex digit where the chunk size is, or an empty size.
    BadSize,
    /// More than 15 hex digits.
    SizeTooLarge,
    /// A line not ended by CRLF.
    BadLineEnd,
    /// A chunk-size line longer than 4 KiB.
    LineTooLong,
    /// Trailer fields longer than 16 KiB.
    TrailersTooLarge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk size.
    Size,
    /// Whitespace or chunk extensions after the size, up to CR.
    Extension,
    /// LF ending a size line.
    SizeLf,
    /// `remaining` bytes of chunk data.
    Data,
    /// CR after chunk data.
    DataCr,
    /// LF after chunk data.
    DataLf,
    /// Start of a trailer line or of the final CRLF.
    TrailerStart,
    /// Inside a trailer line, up to CR.
    Trailer,
    /// LF ending a trailer line.
    TrailerLf,
    /// LF of the final CRLF.
    FinalLf,
    /// The body ended.
    Done,
}

/// Where in a chunked body the stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunked {
    state: State,
    /// Size being read, then data bytes still to come.
    remaining: u64,
    /// Hex digits read of the current size.
    digits: u8,
    /// Bytes of the current size line, or of the trailers.
    count: u32,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked::new()
    }
}

// === impl Chunked ===

impl Chunked {
    /// At the start of a chunked body.
    pub fn new() -> Chunked {
        Chunked {
            state: State::Size,
            remaining: 0,
            digits: 0,
            count: 0,
        }
    }

    /// Whether the last chunk and trailers have been seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Takes the body bytes at the start of `buf`: returns how many belong
    /// to the body and whether it ended with them (the rest of `buf`, if
    /// any, is the next message).
    pub fn advance(&mut self, buf: &[u8]) -> Result<(usize, bool), ChunkError> {
        let mut i = 0;
        while i < buf.len() {
            if self.state == State::Data {
                let avail = (buf.len() - i) as u64;
                let take = self.remaining.min(avail);
                i += take as usize;
                self.remaining -= take;
                if self.remaining == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            let b = buf[i];
            i += 1;
            self.step(b)?;
            if self.state == State::Done {
                return Ok((i, true));
            }
        }
        Ok((i, self.state == State::Done))
    }

    /// One byte outside chunk data.
    fn step(&mut self, b: u8) -> Result<(), ChunkError> {
        self.state = match self.state {
            State::Size => self.size_byte(b)?,
            State::Extension => {
                self.count_line()?;
                match b {
                    b'\r' => State::SizeLf,
                    b'\t' => State::Extension,
                    b'\n' => return Err(ChunkError::BadLineEnd),
                    b if b < 0x20 || b == 0x7f => return Err(ChunkError::BadSize),
                    _ => State::Extension,
                }
            }
            State::SizeLf => match b {
                b'\n' if self.remaining == 0 => {
                    self.count = 0;
                    State::TrailerStart
                }
                b'\n' => State::Data,
                _ => return Err(ChunkError::BadLineEnd),
            },
            State::DataCr => expect(b, b'\r', State::DataLf)?,
            State::DataLf => {
                let next = expect(b, b'\n', State::Size)?;
                self.digits = 0;
                self.count = 0;
                next
            }
            State::TrailerStart => match b {
                b'\r' => State::FinalLf,
                _ => self.trailer_byte(b)?,
            },
            State::Trailer => self.trailer_byte(b)?,
            State::TrailerLf => expect(b, b'\n', State::TrailerStart)?,
            State::FinalLf => expect(b, b'\n', State::Done)?,
            State::Data | State::Done => self.state,
        };
        Ok(())
    }

    fn size_byte(&mut self, b: u8) -> Result<State, ChunkError> {
        self.count_line()?;
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            b';' | b' ' | b'\t' | b'\r' if self.digits == 0 => return Err(ChunkError::BadSize),
            b';' | b' ' | b'\t' => return Ok(State::Extension),
            b'\r' => return Ok(State::SizeLf),
            _ => return Err(ChunkError::BadSize),
        };
        if self.digits >= 15 {
            return Err(ChunkError::SizeTooLarge);
        }
        self.digits += 1;
        self.remaining = (self.remaining << 4) | u64::from(digit);
        Ok(State::Size)
    }

    fn trailer_byte(&mut self, b: u8) -> Result<State, ChunkError> {
        self.count += 1;
        if self.count > MAX_TRAILERS {
            return Err(ChunkError::TrailersTooLarge);
        }
        match b {
            b'\r' => Ok(State::TrailerLf),
            b'\n' => Err(ChunkError::BadLineEnd),
            _ => Ok(State::Trailer),
        }
    }

    fn count_line(&mut self) -> Result<(), ChunkError> {
        self.count += 1;
        if self.count > MAX_SIZE_LINE {
            return Err(ChunkError::LineTooLong);
        }
        Ok(())
    }
}

fn expect(b: u8, want: u8, next: State) -> Result<State, ChunkError> {
    if b == want {
        Ok(next)
    } else {
        Err(ChunkError::BadLineEnd)
    }
}

#[cfg(test)]
#[path = "chunked_tests.rs"]
mod tests;
