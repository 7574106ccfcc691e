//! The frame decoder: header parsing, unmasking, reassembly of fragmented
//! messages, and the receiver-side checks of RFC 6455 §5 and §7.
//!
//! Resumable: the decoder consumes what it can of each input (whole frame
//! headers, then payload bytes as they come) and keeps the partial message
//! in a buffer it reuses, so the caller only ever keeps fewer than 14
//! unconsumed bytes (a partial frame header) between reads. A complete,
//! unmasked, unfragmented frame is handed out straight from the input
//! (no copy); anything else from the decoder's buffers, which stop
//! growing once they have held the largest message seen.

use super::{mask, valid_close_code, OpCode, WsError, MAX_CONTROL_PAYLOAD};

/// Which end of the connection the decoder serves; it fixes the masking
/// rule for incoming frames (RFC 6455 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We accepted the connection: every frame from the client must be masked.
    Server,
    /// We opened the connection: frames from the server must not be masked.
    Client,
}

/// What a call to [`Decoder::decode`] produced. The slices borrow the input
/// or the decoder, so handle the event before the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A complete text or binary message (all fragments joined, unmasked).
    /// For text, `payload` has been checked to be UTF-8.
    Message {
        /// Opcode text (true) or binary (false). SIP (RFC 7118) may use either.
        text: bool,
        /// The message payload.
        payload: &'a [u8],
    },
    /// A ping: answer with a pong carrying the same payload.
    Ping(&'a [u8]),
    /// A pong (unsolicited ones are allowed and mean nothing).
    Pong(&'a [u8]),
    /// A close frame: `code` is `None` when the frame had no payload. Echo
    /// a close and close the socket; the decoder discards all later input.
    Close {
        /// The close status, already checked to be one a peer may send.
        code: Option<u16>,
        /// The close reason (UTF-8, possibly empty).
        reason: &'a str,
    },
}

/// A frame header: everything before the payload.
#[derive(Clone, Copy, Debug)]
struct Header {
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    /// Payload length (checked against the limits before it becomes a usize).
    len: u64,
    /// Header length in bytes (2 to 14).
    size: usize,
}

/// A frame whose payload is arriving.
#[derive(Clone, Copy, Debug)]
struct Partial {
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    len: usize,
    done: usize,
}

/// Where a ready event's payload lies.
#[derive(Clone, Copy, Debug)]
enum Src {
    /// `input[start..end]` of the current call.
    Input(usize, usize),
    /// The reassembly buffer.
    Message,
    /// The control-frame buffer.
    Control,
}

/// An event found, before its payload is borrowed.
#[derive(Clone, Copy, Debug)]
enum Ready {
    Message { text: bool, src: Src },
    Ping(Src),
    Pong(Src),
    Close { code: Option<u16>, src: Src },
}

/// What one step of the decoding loop did, with the bytes it consumed.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Progress; go on with the rest of the input.
    Go(usize),
    /// The input is used up (or holds only part of a header).
    Need(usize),
    /// An event is ready.
    Ready(usize, Ready),
}

/// A resumable WebSocket frame decoder for one connection and one direction.
///
/// Call [`Decoder::decode`] with the bytes received and not yet consumed;
/// drop the first `consumed` bytes it reports; when it returns no event it
/// needs more bytes (keep the unconsumed rest, fewer than 14 bytes, and
/// append the next read to it).
#[derive(Debug)]
pub struct Decoder {
    role: Role,
    max_message: usize,
    /// The frame whose payload is arriving, if any.
    partial: Option<Partial>,
    /// `Some(text)` while a data message is being assembled in `message`.
    assembling: Option<bool>,
    /// Reassembly (and unmasking) buffer for data messages.
    message: Vec<u8>,
    /// Payload of the control frame being received (at most 125 bytes).
    control: Vec<u8>,
    closed: bool,
    failed: Option<WsError>,
}

impl Decoder {
    /// A decoder for the given role that refuses messages (all fragments
    /// together) over `max_message` bytes with [`WsError::TooBig`].
    pub fn new(role: Role, max_message: usize) -> Decoder {
        Decoder {
            role,
            max_message,
            partial: None,
            assembling: None,
            message: Vec::new(),
            control: Vec::with_capacity(MAX_CONTROL_PAYLOAD),
            closed: false,
            failed: None,
        }
    }

    /// The role given to [`Decoder::new`].
    pub fn role(&self) -> Role {
        self.role
    }

    /// True once a close frame has been decoded; later input is discarded.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// True while a frame or a fragmented message is partly received.
    pub fn in_message(&self) -> bool {
        self.partial.is_some() || self.assembling.is_some()
    }

    /// Decodes from `input` until one event is ready or the input runs out.
    ///
    /// Returns the number of bytes consumed (always all of them, except a
    /// trailing partial frame header) and the event, if one is ready. With
    /// `None`, more bytes are needed. After an event, call again with the
    /// rest of the input: more frames may follow. After `Event::Close` the
    /// decoder consumes and ignores everything. An error is final: the
    /// decoder returns it again on every later call.
    pub fn decode<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<Event<'a>>), WsError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        if self.closed {
            return Ok((input.len(), None));
        }
        match self.step(input) {
            Ok((used, ready)) => Ok((used, ready.map(|r| self.event(r, input)))),
            Err(err) => {
                log::debug!("websocket frame refused: {err}");
                self.failed = Some(err);
                Err(err)
            }
        }
    }

    /// The decoding loop, without borrows in its result.
    fn step(&mut self, input: &[u8]) -> Result<(usize, Option<Ready>), WsError> {
        let mut pos = 0;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            let step = match self.partial {
                None => self.header(rest, pos, input)?,
                Some(frame) => self.payload(frame, rest)?,
            };
            match step {
                Step::Go(used) => pos += used,
                Step::Need(used) => return Ok((pos + used, None)),
                Step::Ready(used, ready) => return Ok((pos + used, Some(ready))),
            }
        }
    }

    /// At a frame boundary: reads the header at the start of `rest`
    /// (`input[pos..]`); a complete unmasked frame may be ready at once.
    fn header(&mut self, rest: &[u8], pos: usize, input: &[u8]) -> Result<Step, WsError> {
        let Some(header) = parse_header(rest, self.role)? else {
            return Ok(Step::Need(0));
        };
        let len = self.admit(&header)?;
        let body = rest.get(header.size..).unwrap_or_default();
        if header.mask.is_none() && body.len() >= len {
            if let Some(ready) = self.whole(&header, pos + header.size, len, input)? {
                return Ok(Step::Ready(header.size + len, ready));
            }
        }
        self.begin(&header, len);
        Ok(Step::Go(header.size))
    }

    /// Inside a frame: copies (and unmasks) what `rest` holds of its payload.
    fn payload(&mut self, mut frame: Partial, rest: &[u8]) -> Result<Step, WsError> {
        let take = (frame.len - frame.done).min(rest.len());
        let chunk = rest.get(..take).unwrap_or_default();
        let buf = if frame.opcode.is_control() {
            &mut self.control
        } else {
            &mut self.message
        };
        let start = buf.len();
        buf.extend_from_slice(chunk);
        if let (Some(key), Some(added)) = (frame.mask, buf.get_mut(start..)) {
            mask::apply(added, key, frame.done);
        }
        frame.done += take;
        if frame.done < frame.len {
            self.partial = Some(frame);
            return Ok(Step::Need(take));
        }
        self.partial = None;
        Ok(match self.complete(&frame)? {
            Some(ready) => Step::Ready(take, ready),
            None => Step::Go(take),
        })
    }

    /// Checks a header against the message in progress and the size
    /// limit; returns the payload length as a usize.
    fn admit(&self, header: &Header) -> Result<usize, WsError> {
        let held = match (header.opcode, self.assembling) {
            (OpCode::Continuation, None) => return Err(WsError::UnexpectedContinuation),
            (OpCode::Continuation, Some(_)) => self.message.len(),
            (OpCode::Text | OpCode::Binary, Some(_)) => return Err(WsError::ExpectedContinuation),
            _ => 0,
        };
        let room = self.max_message.saturating_sub(held) as u64;
        if !header.opcode.is_control() && header.len > room {
            return Err(WsError::TooBig);
        }
        usize::try_from(header.len).map_err(|_| WsError::TooBig)
    }

    /// The no-copy path for a complete unmasked frame: an unfragmented
    /// message or a control frame straight from the input. `None` for a
    /// fragment, which must go through the reassembly buffer.
    fn whole(
        &mut self,
        header: &Header,
        start: usize,
        len: usize,
        input: &[u8],
    ) -> Result<Option<Ready>, WsError> {
        let end = start + len;
        let payload = input.get(start..end).unwrap_or_default();
        let src = Src::Input(start, end);
        let ready = match header.opcode {
            OpCode::Text | OpCode::Binary if header.fin => {
                let text = header.opcode == OpCode::Text;
                if text && std::str::from_utf8(payload).is_err() {
                    return Err(WsError::BadUtf8);
                }
                Ready::Message { text, src }
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => return Ok(None),
            OpCode::Ping => Ready::Ping(src),
            OpCode::Pong => Ready::Pong(src),
            OpCode::Close => {
                let code = parse_close(payload)?;
                self.closed = true;
                Ready::Close { code, src }
            }
        };
        Ok(Some(ready))
    }

    /// Starts receiving a frame's payload into the decoder's buffers.
    fn begin(&mut self, header: &Header, len: usize) {
        match header.opcode {
            OpCode::Text | OpCode::Binary => {
                self.message.clear();
                self.assembling = Some(header.opcode == OpCode::Text);
            }
            OpCode::Continuation => {}
            OpCode::Close | OpCode::Ping | OpCode::Pong => self.control.clear(),
        }
        self.partial = Some(Partial {
            opcode: header.opcode,
            fin: header.fin,
            mask: header.mask,
            len,
            done: 0,
        });
    }

    /// A frame's payload is all in the buffers: the event it completes, if any.
    fn complete(&mut self, frame: &Partial) -> Result<Option<Ready>, WsError> {
        let ready = match frame.opcode {
            OpCode::Ping => Ready::Ping(Src::Control),
            OpCode::Pong => Ready::Pong(Src::Control),
            OpCode::Close => {
                let code = parse_close(&self.control)?;
                self.closed = true;
                Ready::Close {
                    code,
                    src: Src::Control,
                }
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if !frame.fin {
                    return Ok(None);
                }
                let text = self.assembling.take().unwrap_or(false);
                if text && std::str::from_utf8(&self.message).is_err() {
                    return Err(WsError::BadUtf8);
                }
                Ready::Message {
                    text,
                    src: Src::Message,
                }
            }
        };
        Ok(Some(ready))
    }

    /// Borrows a ready event's payload.
    fn event<'a>(&'a self, ready: Ready, input: &'a [u8]) -> Event<'a> {
        let bytes = |src: Src| -> &'a [u8] {
            match src {
                Src::Input(start, end) => input.get(start..end).unwrap_or_default(),
                Src::Message => &self.message,
                Src::Control => &self.control,
            }
        };
        match ready {
            Ready::Message { text, src } => Event::Message {
                text,
                payload: bytes(src),
            },
            Ready::Ping(src) => Event::Ping(bytes(src)),
            Ready::Pong(src) => Event::Pong(bytes(src)),
            Ready::Close { code, src } => {
                let reason = bytes(src).get(2..).unwrap_or_default();
                Event::Close {
                    code,
                    reason: std::str::from_utf8(reason).unwrap_or_default(),
                }
            }
        }
    }
}

/// Parses a frame header from the start of `input`: `None` while it is
/// incomplete. Every check that the first two bytes allow is made before
/// the rest of the header arrives.
fn parse_header(input: &[u8], role: Role) -> Result<Option<Header>, WsError> {
    let [b0, b1, rest @ ..] = input else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(WsError::ReservedBits);
    }
    let opcode = OpCode::from_bits(b0 & 0x0F).ok_or(WsError::UnknownOpcode(b0 & 0x0F))?;
    let fin = b0 & 0x80 != 0;
    let masked = b1 & 0x80 != 0;
    match (role, masked) {
        (Role::Server, false) => return Err(WsError::Unmasked),
        (Role::Client, true) => return Err(WsError::Masked),
        _ => {}
    }
    let len7 = b1 & 0x7F;
    if opcode.is_control() {
        if !fin {
            return Err(WsError::ControlFragmented);
        }
        if usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(WsError::ControlTooLong);
        }
    }
    let (len, rest) = match len7 {
        126 => match rest {
            [a, b, rest @ ..] => (u64::from(u16::from_be_bytes([*a, *b])), rest),
            _ => return Ok(None),
        },
        127 => match rest.split_first_chunk::<8>() {
            Some((bytes, rest)) => (u64::from_be_bytes(*bytes), rest),
            None => return Ok(None),
        },
        n => (u64::from(n), rest),
    };
    if len >> 63 != 0 {
        return Err(WsError::LengthOverflow);
    }
    let mask = match (masked, rest.first_chunk::<4>()) {
        (false, _) => None,
        (true, Some(key)) => Some(*key),
        (true, None) => return Ok(None),
    };
    let ext = match len7 {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let size = 2 + ext + if masked { 4 } else { 0 };
    Ok(Some(Header {
        opcode,
        fin,
        mask,
        len,
        size,
    }))
}

/// The status of a close payload (already unmasked), checked with its
/// reason: `None` for an empty payload.
fn parse_close(payload: &[u8]) -> Result<Option<u16>, WsError> {
    let Some((code, reason)) = payload.split_first_chunk::<2>() else {
        return if payload.is_empty() {
            Ok(None)
        } else {
            Err(WsError::BadClosePayload)
        };
    };
    let code = u16::from_be_bytes(*code);
    if !valid_close_code(code) {
        return Err(WsError::BadCloseCode(code));
    }
    std::str::from_utf8(reason).map_err(|_| WsError::BadUtf8)?;
    Ok(Some(code))
}
