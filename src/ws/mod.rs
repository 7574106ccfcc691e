//! WebSocket (RFC 6455) for SIP over WebSocket (RFC 7118): the opening
//! handshake and the frame codec, sans-IO.
