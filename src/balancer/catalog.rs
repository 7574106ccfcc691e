//! Algorithm names → constructors: the built-in algorithms by
//! [`AlgorithmKind`], and custom ones registered in code by name.
//!
//! Custom algorithms are registered once, before the runtime builds its
//! shards (each shard builds its own instance with [`build`]); the list is
//! behind a mutex that only start-up touches, never the forwarding path.
//! See [`super::algorithm`] for an example.

use std::sync::Mutex;

use super::algorithm::{Algorithm, Setup};
use super::algorithms::{
    ActiveStandby, CallIdAffinity, ClusterSubdomainAffinity, HeaderConsistentHash,
    PersistentConsistentHash, UserBased,
};
use crate::config::{AlgorithmConfig, AlgorithmKind};

/// Builds one shard's instance of an algorithm.
pub type Factory = fn(&Setup<'_>) -> Box<dyn Algorithm>;

/// Custom algorithms by name.
static CUSTOM: Mutex<Vec<(String, Factory)>> = Mutex::new(Vec::new());

/// Register (or replace) a custom algorithm under `name`, selected with
/// `algorithmClass: custom:<name>`.
pub fn register(name: &str, factory: Factory) {
    let mut list = CUSTOM
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    list.retain(|(n, _)| n != name);
    list.push((name.to_owned(), factory));
}

/// Whether a custom algorithm of this name is registered.
pub fn is_registered(name: &str) -> bool {
    custom(name).is_some()
}

/// Check at start-up that the configured algorithm can be built.
pub fn validate(cfg: &AlgorithmConfig) -> Result<(), String> {
    match &cfg.kind {
        AlgorithmKind::Custom(name) if !is_registered(name) => Err(format!(
            "algorithm custom:{name} is not registered (balancer::catalog::register)"
        )),
        _ => Ok(()),
    }
}

/// One shard's instance of the configured algorithm. An unregistered
/// custom name falls back to Call-ID affinity with an error log (start-up
/// should have called [`validate`]).
pub fn build(setup: &Setup<'_>) -> Box<dyn Algorithm> {
    match &setup.config.kind {
        AlgorithmKind::CallIdAffinity => Box::new(CallIdAffinity::new(setup)),
        AlgorithmKind::HeaderConsistentHash => Box::new(HeaderConsistentHash::new()),
        AlgorithmKind::PureConsistentHash => Box::new(HeaderConsistentHash::pure()),
        AlgorithmKind::PersistentConsistentHash => Box::new(PersistentConsistentHash),
        AlgorithmKind::ClusterSubdomainAffinity => Box::new(ClusterSubdomainAffinity::new(setup)),
        AlgorithmKind::UserBased => Box::new(UserBased::new(setup)),
        AlgorithmKind::ActiveStandby => Box::new(ActiveStandby),
        AlgorithmKind::Custom(name) => match custom(name) {
            Some(factory) => factory(setup),
            None => {
                log::error!("algorithm custom:{name} is not registered: using callIdAffinity");
                Box::new(CallIdAffinity::new(setup))
            }
        },
    }
}

fn custom(name: &str) -> Option<Factory> {
    let list = CUSTOM
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    list.iter().find(|(n, _)| n == name).map(|(_, f)| *f)
}
