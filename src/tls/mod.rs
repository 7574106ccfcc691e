//! rustls server and client configurations built from the `ssl` settings,
//! and a sans-IO TLS session (ciphertext in, plaintext out) for the shards.
