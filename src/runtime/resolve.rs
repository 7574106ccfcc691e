//! Host names of the configuration, resolved after a file is loaded (at
//! start and at each reload): the loader itself does no I/O.

use std::net::ToSocketAddrs;

use log::{info, warn};

use crate::config::Config;

/// Resolve `http.unavailableHost` when it is a name: its first address.
/// A name that does not resolve leaves no fallback (one warn line).
pub fn resolve_names(cfg: &mut Config) {
    let Some((name, port)) = cfg.http.unavailable_host_name.clone() else {
        return;
    };
    match (name.as_str(), port)
        .to_socket_addrs()
        .map(|mut a| a.next())
    {
        Ok(Some(addr)) => {
            info!("http.unavailableHost {name}:{port} is {addr}");
            cfg.http.unavailable_host = Some(addr);
        }
        Ok(None) => {
            warn!("http.unavailableHost {name}: no address; requests no node can take get 503")
        }
        Err(e) => warn!("http.unavailableHost {name}: {e}; requests no node can take get 503"),
    }
}
