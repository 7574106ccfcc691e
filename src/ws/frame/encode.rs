//! Frame encoding: appends complete frames to the caller's output buffer.
//! A client must mask every frame (RFC 6455 §5.3) with a fresh key that the
//! caller supplies (no random source here); a server passes `None`.

use super::{mask, OpCode, WsError, MAX_CONTROL_PAYLOAD};

/// Appends one final (FIN) frame: a whole text or binary message, a ping,
/// a pong, or a close whose payload the caller built (see [`close_frame`]).
///
/// Errors: [`WsError::ControlTooLong`] for a control payload over 125
/// bytes (nothing is written).
pub fn encode(
    opcode: OpCode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
    out: &mut Vec<u8>,
) -> Result<(), WsError> {
    encode_frame(opcode, true, payload, mask, out)
}

/// Appends one frame with an explicit FIN bit, for sending a message in
/// fragments: the first with `Text`/`Binary`, the rest with
/// `Continuation`, FIN on the last.
///
/// Errors (nothing is written): [`WsError::ControlTooLong`],
/// [`WsError::ControlFragmented`] for a control frame without FIN.
pub fn encode_frame(
    opcode: OpCode,
    fin: bool,
    payload: &[u8],
    mask: Option<[u8; 4]>,
    out: &mut Vec<u8>,
) -> Result<(), WsError> {
    if opcode.is_control() {
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(WsError::ControlTooLong);
        }
        if !fin {
            return Err(WsError::ControlFragmented);
        }
    }
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    out.reserve(14 + payload.len());
    out.push(if fin { 0x80 } else { 0 } | opcode as u8);
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let start = out.len() + if mask.is_some() { 4 } else { 0 };
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    out.extend_from_slice(payload);
    if let (Some(key), Some(body)) = (mask, out.get_mut(start..)) {
        mask::apply(body, key, 0);
    }
    Ok(())
}

/// Appends a close frame with a status and a reason (at most 123 bytes of
/// UTF-8, so that the payload fits a control frame).
///
/// Errors: [`WsError::ControlTooLong`] for a longer reason (nothing is
/// written).
pub fn close_frame(
    code: u16,
    reason: &str,
    mask: Option<[u8; 4]>,
    out: &mut Vec<u8>,
) -> Result<(), WsError> {
    let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
    let len = 2 + reason.len();
    let Some(body) = payload.get_mut(..len) else {
        return Err(WsError::ControlTooLong);
    };
    let (status, text) = body.split_at_mut(2);
    status.copy_from_slice(&code.to_be_bytes());
    text.copy_from_slice(reason.as_bytes());
    encode(OpCode::Close, body, mask, out)
}
