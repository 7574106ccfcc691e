//! SMPP 3.4: PDU codec, session state machines and timers, sans-IO.
