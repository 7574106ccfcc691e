//! SMPP 3.4 framing and PDU decoding (`smpp::framer::frame`,
//! `smpp::pdu::Pdu::decode`): total over arbitrary bytes; a framed PDU
//! lies within the buffer and the limit; a PDU that decodes encodes back
//! to bytes that decode to the same PDU (every field and TLV kept).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_balancer::smpp::framer::{frame, Frame, DEFAULT_MAX_PDU_LEN};
use sip_balancer::smpp::pdu::Pdu;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    // A stream of PDUs, as a connection frames them.
    while let Ok(Frame::Complete { len }) = frame(rest, DEFAULT_MAX_PDU_LEN) {
        assert!(len >= 16 && len <= rest.len(), "{len} of {}", rest.len());
        let (one, more) = rest.split_at(len);
        if let Ok(pdu) = Pdu::decode(one) {
            let mut out = Vec::new();
            pdu.encode(&mut out);
            let again = Pdu::decode(&out);
            assert_eq!(again, Ok(pdu), "re-encoded PDU decodes differently");
        }
        rest = more;
    }
});
