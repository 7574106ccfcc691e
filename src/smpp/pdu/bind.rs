//! Session management bodies: the three binds, their responses, `outbind`.

use super::reader::{put_cstr, Reader};
use super::tlv::Tlvs;
use super::DecodeError;

/// Body of `bind_transmitter`, `bind_receiver` and `bind_transceiver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bind<'a> {
    /// Identifies the ESME (C-octet string, ≤ 15 chars).
    pub system_id: &'a [u8],
    /// Password (≤ 8 chars).
    pub password: &'a [u8],
    /// Type of ESME (≤ 12 chars).
    pub system_type: &'a [u8],
    /// SMPP version the ESME speaks (0x34 for 3.4).
    pub interface_version: u8,
    /// Type of number of `address_range`.
    pub addr_ton: u8,
    /// Numbering plan of `address_range`.
    pub addr_npi: u8,
    /// Addresses served by the ESME (≤ 40 chars).
    pub address_range: &'a [u8],
    /// TLVs after the mandatory fields (none in 3.4; kept if a peer sends them).
    pub tlvs: Tlvs<'a>,
}

impl<'a> Bind<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<Bind<'a>, DecodeError> {
        let system_id = r.cstr(16)?;
        let password = r.cstr(9)?;
        let system_type = r.cstr(13)?;
        let interface_version = r.u8()?;
        let addr_ton = r.u8()?;
        let addr_npi = r.u8()?;
        let address_range = r.cstr(41)?;
        Ok(Bind {
            system_id,
            password,
            system_type,
            interface_version,
            addr_ton,
            addr_npi,
            address_range,
            tlvs: super::tlvs_rest(r)?,
        })
    }

    /// Decodes a bind body (the bytes after the header).
    pub fn parse(body: &'a [u8]) -> Result<Bind<'a>, DecodeError> {
        Bind::decode(&mut Reader::new(body))
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_cstr(out, self.system_id);
        put_cstr(out, self.password);
        put_cstr(out, self.system_type);
        out.extend_from_slice(&[self.interface_version, self.addr_ton, self.addr_npi]);
        put_cstr(out, self.address_range);
        out.extend_from_slice(self.tlvs.as_bytes());
    }
}

/// Body of the three bind responses. The spec omits the body of an error
/// response; `system_id` is then `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindResp<'a> {
    /// The SMSC's id; `None` when the PDU had no body.
    pub system_id: Option<&'a [u8]>,
    /// TLVs (`sc_interface_version`).
    pub tlvs: Tlvs<'a>,
}

impl<'a> BindResp<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<BindResp<'a>, DecodeError> {
        if r.is_empty() {
            return Ok(BindResp {
                system_id: None,
                tlvs: Tlvs::default(),
            });
        }
        let system_id = Some(r.cstr(16)?);
        Ok(BindResp {
            system_id,
            tlvs: super::tlvs_rest(r)?,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        if let Some(s) = self.system_id {
            put_cstr(out, s);
        }
        out.extend_from_slice(self.tlvs.as_bytes());
    }
}

/// Body of `outbind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outbind<'a> {
    /// The SMSC's id.
    pub system_id: &'a [u8],
    /// Password.
    pub password: &'a [u8],
}

impl<'a> Outbind<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<Outbind<'a>, DecodeError> {
        Ok(Outbind {
            system_id: r.cstr(16)?,
            password: r.cstr(9)?,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_cstr(out, self.system_id);
        put_cstr(out, self.password);
    }
}
