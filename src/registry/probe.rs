//! Active SIP OPTIONS probing of static nodes.
