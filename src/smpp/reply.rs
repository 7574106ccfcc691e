//! PDUs the balancer writes itself: error responses, `generic_nack`,
//! local `enquire_link_resp` / `unbind_resp`, its own `enquire_link` and
//! `unbind`, bind responses and the mux mode's `bind_transceiver`.
//!
//! Each builder appends one PDU to the caller's buffer and returns its range
//! there; nothing allocates once the buffer has grown.

use std::ops::Range;

use super::command::{CommandId, CommandStatus};
use super::header::{Header, HEADER_LEN};
use super::pdu::reader::put_cstr;
use super::pdu::tlv::{put_tlv, SC_INTERFACE_VERSION};

/// The SMPP version this balancer speaks (3.4).
pub const INTERFACE_VERSION: u8 = 0x34;

/// A header-only PDU.
pub fn header_only(out: &mut Vec<u8>, id: CommandId, status: u32, seq: u32) -> Range<usize> {
    let start = out.len();
    Header {
        command_length: HEADER_LEN as u32,
        command_id: id,
        command_status: status,
        sequence_number: seq,
    }
    .write(out);
    start..out.len()
}

/// `generic_nack` with `status` for the PDU numbered `seq`.
pub fn generic_nack(out: &mut Vec<u8>, status: u32, seq: u32) -> Range<usize> {
    header_only(out, CommandId::GENERIC_NACK, status, seq)
}

/// The response to `request` with an error `status` and no body (the spec
/// omits the body of error responses). Bind requests get a bind response
/// carrying `system_id` instead, see [`bind_resp`].
pub fn error_response(
    out: &mut Vec<u8>,
    request: CommandId,
    status: u32,
    seq: u32,
) -> Range<usize> {
    header_only(out, request.response(), status, seq)
}

/// `enquire_link_resp` (OK) to `seq`.
pub fn enquire_link_resp(out: &mut Vec<u8>, seq: u32) -> Range<usize> {
    header_only(
        out,
        CommandId::ENQUIRE_LINK_RESP,
        CommandStatus::ESME_ROK,
        seq,
    )
}

/// The balancer's own `enquire_link`.
pub fn enquire_link(out: &mut Vec<u8>, seq: u32) -> Range<usize> {
    header_only(out, CommandId::ENQUIRE_LINK, CommandStatus::ESME_ROK, seq)
}

/// `unbind_resp` (OK) to `seq`.
pub fn unbind_resp(out: &mut Vec<u8>, seq: u32) -> Range<usize> {
    header_only(out, CommandId::UNBIND_RESP, CommandStatus::ESME_ROK, seq)
}

/// The balancer's own `unbind`.
pub fn unbind(out: &mut Vec<u8>, seq: u32) -> Range<usize> {
    header_only(out, CommandId::UNBIND, CommandStatus::ESME_ROK, seq)
}

/// A bind response: the response id of `bind`, `system_id`, and the
/// `sc_interface_version` TLV when the ESME speaks 3.4 or later (as the
/// original does).
pub fn bind_resp(
    out: &mut Vec<u8>,
    bind: CommandId,
    status: u32,
    seq: u32,
    system_id: &[u8],
    esme_interface_version: u8,
) -> Range<usize> {
    let start = out.len();
    header_only(out, bind.response(), status, seq);
    put_cstr(out, system_id.get(..15).unwrap_or(system_id));
    if esme_interface_version >= INTERFACE_VERSION {
        put_tlv(out, SC_INTERFACE_VERSION, &[INTERFACE_VERSION]);
    }
    patch_length(out, start)
}

/// Credentials for a bind the balancer sends itself (mux mode).
#[derive(Debug, Clone, Copy)]
pub struct BindFields<'a> {
    /// `system_id`.
    pub system_id: &'a [u8],
    /// `password`.
    pub password: &'a [u8],
    /// `system_type`.
    pub system_type: &'a [u8],
}

/// A `bind_transceiver` with `fields`, interface version 3.4 and an empty
/// address range (the mux mode's provider bind).
pub fn bind_transceiver(out: &mut Vec<u8>, seq: u32, fields: &BindFields<'_>) -> Range<usize> {
    let start = out.len();
    header_only(
        out,
        CommandId::BIND_TRANSCEIVER,
        CommandStatus::ESME_ROK,
        seq,
    );
    put_cstr(out, fields.system_id);
    put_cstr(out, fields.password);
    put_cstr(out, fields.system_type);
    out.extend_from_slice(&[INTERFACE_VERSION, 0, 0]);
    put_cstr(out, b"");
    patch_length(out, start)
}

/// Writes the real `command_length` of the PDU that starts at `start`.
fn patch_length(out: &mut [u8], start: usize) -> Range<usize> {
    let len = u32::try_from(out.len() - start).unwrap_or(u32::MAX);
    if let Some(l) = out.get_mut(start..start + 4) {
        l.copy_from_slice(&len.to_be_bytes());
    }
    start..out.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smpp::pdu::{Body, Pdu};

    #[test]
    fn header_only_replies() {
        let mut out = Vec::new();
        let r = generic_nack(&mut out, CommandStatus::ESME_RINVCMDID, 9);
        assert_eq!(
            &out[r],
            &[0, 0, 0, 16, 0x80, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 9]
        );
        let r = error_response(&mut out, CommandId::SUBMIT_SM, 8, 5);
        assert_eq!(
            &out[r],
            &[0, 0, 0, 16, 0x80, 0, 0, 4, 0, 0, 0, 8, 0, 0, 0, 5]
        );
    }

    #[test]
    fn bind_resp_with_and_without_tlv() {
        let mut out = Vec::new();
        let r = bind_resp(
            &mut out,
            CommandId::BIND_TRANSMITTER,
            0,
            3,
            b"loadbalancer",
            0x34,
        );
        let want =
            b"\x00\x00\x00\x22\x80\x00\x00\x02\0\0\0\0\0\0\0\x03loadbalancer\0\x02\x10\x00\x01\x34";
        assert_eq!(&out[r.clone()], want);
        assert!(Pdu::decode(&out[r]).is_ok());
        let mut out = Vec::new();
        let r = bind_resp(&mut out, CommandId::BIND_RECEIVER, 8, 1, b"esme", 0x33);
        assert_eq!(
            &out[r][..],
            b"\x00\x00\x00\x15\x80\x00\x00\x01\0\0\0\x08\0\0\0\x01esme\0"
        );
    }

    #[test]
    fn provider_bind_decodes() {
        let mut out = vec![1, 2];
        let f = BindFields {
            system_id: b"sys",
            password: b"pw",
            system_type: b"",
        };
        let r = bind_transceiver(&mut out, 1, &f);
        let p = Pdu::decode(&out[r]).unwrap();
        let Body::BindTransceiver(b) = p.body else {
            panic!()
        };
        assert_eq!(
            (b.system_id, b.password, b.interface_version),
            (&b"sys"[..], &b"pw"[..], 0x34)
        );
        assert_eq!(p.sequence_number, 1);
    }
}
