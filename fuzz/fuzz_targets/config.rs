//! Config loading (`config::from_yaml_str`, `config::properties::import`):
//! arbitrary text gives a config or a `ConfigError`, never a panic, and
//! the error names the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_balancer::config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = config::from_yaml_str(text, "fuzz.yaml") {
        assert!(e.to_string().contains("fuzz.yaml"), "{e}");
    }
    if let Err(e) = config::properties::import(text, "fuzz.properties") {
        assert!(e.to_string().contains("fuzz.properties"), "{e}");
    }
});
