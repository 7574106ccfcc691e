//! Java's EC private keys made usable: Java (keytool, and so PKCS#12 files
//! converted from JKS) writes PKCS#8 EC keys without the optional public
//! key of RFC 5915, and ring refuses those. The public key is in the leaf
//! certificate, so it is copied from there into the key.
//!
//! A small, total DER reader (tag, length, value) is all this needs; ring
//! then checks that the public key matches the private one.

/// DER tags used here.
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
/// `[0]` constructed: EC parameters in ECPrivateKey, version in a certificate.
const CONTEXT_0: u8 = 0xA0;
/// `[1]` constructed: the public key in ECPrivateKey.
const CONTEXT_1: u8 = 0xA1;

/// id-ecPublicKey, 1.2.840.10045.2.1.
const EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];

/// One DER element: its tag, its value, and the whole encoding.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    value: &'a [u8],
    whole: &'a [u8],
}

/// Reads consecutive DER elements; every failure is `None`.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(rest: &'a [u8]) -> Self {
        Reader { rest }
    }

    fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    fn next(&mut self) -> Option<Tlv<'a>> {
        let (&tag, after_tag) = self.rest.split_first()?;
        let (&first, mut after_len) = after_tag.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 3 {
                return None;
            }
            let (bytes, after) = after_len.split_at_checked(n)?;
            after_len = after;
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        };
        let (value, after) = after_len.split_at_checked(len)?;
        let whole_len = self.rest.len() - after.len();
        let whole = self.rest.get(..whole_len)?;
        self.rest = after;
        Some(Tlv { tag, value, whole })
    }

    fn expect(&mut self, tag: u8) -> Option<Tlv<'a>> {
        self.next().filter(|t| t.tag == tag)
    }
}

/// Appends `tag`, the DER length of `value`, and `value` to `out`.
fn push_tlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    let len = value.len();
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
        _ => out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(value);
}

/// If `pkcs8` is an EC key without its public key, the same key with the
/// public key of certificate `leaf` added; `None` when there is nothing to
/// do (another algorithm, the public key already there) or the input is
/// not what it should be (ring then reports the key as it is).
pub(crate) fn with_public_key(pkcs8: &[u8], leaf: &[u8]) -> Option<Vec<u8>> {
    let mut outer = Reader::new(Reader::new(pkcs8).expect(SEQUENCE)?.value);
    let version = outer.expect(INTEGER)?;
    let algorithm = outer.expect(SEQUENCE)?;
    if Reader::new(algorithm.value).expect(OID)?.value != EC_PUBLIC_KEY {
        return None;
    }
    let key = outer.expect(OCTET_STRING)?;
    let attributes = outer.rest;

    let mut ec = Reader::new(Reader::new(key.value).expect(SEQUENCE)?.value);
    let ec_version = ec.expect(INTEGER)?;
    let private = ec.expect(OCTET_STRING)?;
    let params = match ec.peek() {
        Some(CONTEXT_0) => Some(ec.next()?),
        _ => None,
    };
    if ec.peek() == Some(CONTEXT_1) {
        return None;
    }
    let public = spki_bit_string(leaf)?;

    let mut ec_body = Vec::with_capacity(key.value.len() + public.whole.len() + 4);
    ec_body.extend_from_slice(ec_version.whole);
    ec_body.extend_from_slice(private.whole);
    if let Some(p) = params {
        ec_body.extend_from_slice(p.whole);
    }
    push_tlv(&mut ec_body, CONTEXT_1, public.whole);
    let mut ec_key = Vec::with_capacity(ec_body.len() + 4);
    push_tlv(&mut ec_key, SEQUENCE, &ec_body);

    let mut body = Vec::with_capacity(pkcs8.len() + public.whole.len() + 8);
    body.extend_from_slice(version.whole);
    body.extend_from_slice(algorithm.whole);
    push_tlv(&mut body, OCTET_STRING, &ec_key);
    body.extend_from_slice(attributes);
    let mut out = Vec::with_capacity(body.len() + 4);
    push_tlv(&mut out, SEQUENCE, &body);
    Some(out)
}

/// The subjectPublicKey BIT STRING of an EC certificate.
fn spki_bit_string(cert: &[u8]) -> Option<Tlv<'_>> {
    let mut cert = Reader::new(Reader::new(cert).expect(SEQUENCE)?.value);
    let mut tbs = Reader::new(cert.expect(SEQUENCE)?.value);
    if tbs.peek() == Some(CONTEXT_0) {
        tbs.next()?;
    }
    tbs.expect(INTEGER)?; // serialNumber
    tbs.expect(SEQUENCE)?; // signature
    tbs.expect(SEQUENCE)?; // issuer
    tbs.expect(SEQUENCE)?; // validity
    tbs.expect(SEQUENCE)?; // subject
    let mut spki = Reader::new(tbs.expect(SEQUENCE)?.value);
    let algorithm = spki.expect(SEQUENCE)?;
    if Reader::new(algorithm.value).expect(OID)?.value != EC_PUBLIC_KEY {
        return None;
    }
    spki.expect(BIT_STRING)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key without its `[1]` public key, as Java writes it.
    fn strip_public_key(pkcs8: &[u8]) -> Vec<u8> {
        let mut outer = Reader::new(Reader::new(pkcs8).expect(SEQUENCE).unwrap().value);
        let version = outer.expect(INTEGER).unwrap();
        let algorithm = outer.expect(SEQUENCE).unwrap();
        let key = outer.expect(OCTET_STRING).unwrap();
        let mut ec = Reader::new(Reader::new(key.value).expect(SEQUENCE).unwrap().value);
        let mut ec_body = Vec::new();
        while let Some(t) = ec.next() {
            if t.tag != CONTEXT_1 {
                ec_body.extend_from_slice(t.whole);
            }
        }
        let mut ec_key = Vec::new();
        push_tlv(&mut ec_key, SEQUENCE, &ec_body);
        let mut body = [version.whole, algorithm.whole].concat();
        push_tlv(&mut body, OCTET_STRING, &ec_key);
        let mut out = Vec::new();
        push_tlv(&mut out, SEQUENCE, &body);
        out
    }

    #[test]
    fn restores_exactly_the_public_key_java_leaves_out() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["x.test".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let full = key.serialize_der();
        assert_eq!(with_public_key(&full, cert.der()), None, "already complete");
        let java = strip_public_key(&full);
        assert!(java.len() < full.len());
        assert_eq!(with_public_key(&java, cert.der()), Some(full));
    }

    #[test]
    fn truncated_or_foreign_input_is_none() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["x.test".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let java = strip_public_key(&key.serialize_der());
        for cut in 0..java.len() {
            assert_eq!(with_public_key(&java[..cut], cert.der()), None);
        }
        for cut in 0..cert.der().len() {
            assert_eq!(with_public_key(&java, &cert.der()[..cut]), None);
        }
        assert_eq!(
            with_public_key(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF], &[]),
            None
        );
    }

    #[test]
    fn long_lengths_round_trip() {
        for len in [0usize, 0x7F, 0x80, 0xFF, 0x100, 0x1_0000] {
            let value = vec![7u8; len];
            let mut enc = Vec::new();
            push_tlv(&mut enc, OCTET_STRING, &value);
            let t = Reader::new(&enc).next().unwrap();
            assert_eq!(
                (t.tag, t.value.len(), t.whole.len()),
                (OCTET_STRING, len, enc.len())
            );
        }
    }
}
