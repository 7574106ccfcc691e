use super::*;

const BODY: &[u8] =
    b"5\r\nhello\r\n1a;ext=\"x y\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\n\r\n";

fn whole(buf: &[u8]) -> Result<(usize, bool), ChunkError> {
    Chunked::new().advance(buf)
}

#[test]
fn finds_the_end_and_leaves_the_next_message() {
    let mut b = BODY.to_vec();
    b.extend_from_slice(b"GET / HTTP/1.1\r\n");
    assert_eq!(whole(&b), Ok((BODY.len(), true)));
    assert_eq!(whole(b"0\r\n\r\n"), Ok((5, true)));
}

#[test]
fn every_split_gives_the_same_end() {
    for cut in 0..=BODY.len() {
        let mut c = Chunked::new();
        let (a, done_a) = c.advance(&BODY[..cut]).unwrap();
        assert_eq!(a, cut);
        assert_eq!(done_a, cut == BODY.len());
        let (b, done_b) = c.advance(&BODY[cut..]).unwrap();
        assert_eq!(a + b, BODY.len(), "cut {cut}");
        assert!(done_b || done_a);
    }
}

#[test]
fn byte_by_byte() {
    let mut c = Chunked::new();
    for (i, b) in BODY.iter().enumerate() {
        let (n, done) = c.advance(std::slice::from_ref(b)).unwrap();
        assert_eq!(n, 1);
        assert_eq!(done, i + 1 == BODY.len());
    }
    assert!(c.is_done());
}

#[test]
fn malformed_bodies_are_errors() {
    assert_eq!(whole(b"x\r\n"), Err(ChunkError::BadSize));
    assert_eq!(whole(b"\r\n"), Err(ChunkError::BadSize));
    assert_eq!(whole(b"5\nhello"), Err(ChunkError::BadSize));
    assert_eq!(whole(b"5\r\nhelloX"), Err(ChunkError::BadLineEnd));
    assert_eq!(whole(b"0\r\n\n"), Err(ChunkError::BadLineEnd));
    assert_eq!(
        whole(b"1000000000000000\r\n"),
        Err(ChunkError::SizeTooLarge)
    );
    let long = [b"1;".as_slice(), &[b'a'; 5000]].concat();
    assert_eq!(whole(&long), Err(ChunkError::LineTooLong));
    let trailers = [b"0\r\n".as_slice(), &[b'a'; 17000]].concat();
    assert_eq!(whole(&trailers), Err(ChunkError::TrailersTooLarge));
}

#[test]
fn large_chunk_is_skipped_in_bulk() {
    let mut c = Chunked::new();
    assert_eq!(c.advance(b"ffffff\r\n"), Ok((8, false)));
    let data = vec![0u8; 0xff_ffff];
    assert_eq!(c.advance(&data), Ok((data.len(), false)));
    assert_eq!(c.advance(b"\r\n0\r\n\r\n"), Ok((7, true)));
}
