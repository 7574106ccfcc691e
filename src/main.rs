//! `sip-balancer` command line: parse arguments, load the configuration,
//! hand it to [`sip_balancer::runtime::run`] with the way to load it again
//! on SIGHUP or a change of the file. Nothing else happens here.
//!
//! Exit status: 0 on success, 1 if the runtime fails, 2 for a bad command
//! line or configuration (one line on stderr).

use std::path::PathBuf;
use std::process::exit;

use sip_balancer::config::{self, build, Config, ConfigError};
use sip_balancer::runtime::reload::Source;

const USAGE: &str = "\
Usage: sip-balancer [OPTIONS]

SIP / HTTP / SMPP load balancer (thread-per-core). Without --config it runs
the embedded default: loopback, external UDP 5060, internal UDP 5065.

Options:
  --config FILE, --config=FILE   YAML config, or an original lb.properties
  -mobicents-balancer-config=FILE  same (the original's flag)
  --check-config                 validate the configuration, print
                                 `config OK: <file>` and exit
  --cores N                      override `cores`: auto, a count, or 0,2,4
  --no-watch                     do not reload when the file changes
                                 (same as `watchConfig: false`)
  --print-config-reference       print the key tables of
                                 docs/config-reference.md and exit
  --version                      print the version and exit
  --help                         print this help and exit

Signals: SIGTERM/SIGINT stop; SIGHUP reloads nodes, algorithm and
  smpp.remoteServers from the same file (other keys need a restart).
  A change of the file reloads the same way, 200 ms after the last write.
Logging: RUST_LOG (default info), e.g. RUST_LOG=sip_balancer=debug.
Exit status: 0 ok, 1 runtime failure, 2 bad arguments or configuration.
Keys: docs/config-reference.md";

/// What the command line asks for.
#[derive(Debug, Default)]
struct Args {
    config: Option<PathBuf>,
    check: bool,
    cores: Option<String>,
    no_watch: bool,
}

fn main() {
    sip_balancer::runtime::init_logging();
    let args = parse_args(std::env::args().skip(1)).unwrap_or_else(|msg| fail(&msg));
    let (cfg, name) = load(&args).unwrap_or_else(|e| fail(&e.to_string()));
    if let Err(e) = sip_balancer::tls::TlsContext::for_config(&cfg) {
        fail(&format!("{name}: {e}"));
    }
    if let Err(e) = validate(&cfg, &name) {
        fail(&e);
    }
    if args.check {
        println!("config OK: {name}");
        return;
    }
    log::info!(
        "sip-balancer {}: {name}: {}",
        env!("CARGO_PKG_VERSION"),
        summary(&cfg)
    );
    let watch = match &args.config {
        Some(path) if cfg.watch_config && !args.no_watch => Some(path.clone()),
        _ => None,
    };
    let source = Source {
        name: name.clone(),
        watch,
        load: Box::new(move || {
            let (cfg, name) = load(&args).map_err(|e| e.to_string())?;
            validate(&cfg, &name).map(|()| cfg)
        }),
    };
    if let Err(e) = sip_balancer::runtime::run(cfg, source) {
        log::error!("{e}");
        exit(1);
    }
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value; see --help"))
        };
        match arg.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                exit(0);
            }
            "--version" | "-V" => {
                println!("sip-balancer {}", env!("CARGO_PKG_VERSION"));
                exit(0);
            }
            "--print-config-reference" => {
                print!("{}", config::reference::markdown());
                exit(0);
            }
            "--check-config" => args.check = true,
            "--no-watch" => args.no_watch = true,
            "--config" => args.config = Some(value("--config")?.into()),
            "--cores" => args.cores = Some(value("--cores")?),
            _ => {
                let file = arg
                    .strip_prefix("--config=")
                    .or_else(|| arg.strip_prefix("-mobicents-balancer-config="))
                    .ok_or_else(|| format!("unknown argument `{arg}`; see --help"))?;
                args.config = Some(file.into());
            }
        }
    }
    Ok(args)
}

/// What the loader does not check: the algorithm can be built.
fn validate(cfg: &Config, name: &str) -> Result<(), String> {
    sip_balancer::balancer::catalog::validate(&cfg.algorithm)
        .map_err(|e| format!("{name}: algorithmClass: {e}"))
}

/// The configuration and the name it is reported under.
fn load(args: &Args) -> Result<(Config, String), ConfigError> {
    let (mut cfg, name) = match &args.config {
        Some(path) => (config::load(path)?, path.display().to_string()),
        None => (Config::embedded_default(), config::EMBEDDED_NAME.to_owned()),
    };
    if let Some(cores) = &args.cores {
        cfg.cores = build::cores_from_str(cores)
            .map_err(|e| ConfigError::new("command line", None, "--cores", e.problem))?;
    }
    sip_balancer::runtime::resolve_names(&mut cfg);
    Ok((cfg, name))
}

fn summary(cfg: &Config) -> String {
    let leg = |l: &config::Leg| format!("{}{}", l.host, ports(&l.ports));
    let internal = cfg
        .sip
        .internal
        .as_ref()
        .map_or_else(|| "none (single entry point)".to_owned(), leg);
    let sip = if cfg.sip.enabled {
        format!("external {}, internal {internal}", leg(&cfg.sip.external))
    } else {
        "sip off".to_owned()
    };
    format!(
        "cores {:?}, {sip}, algorithm {:?}, static nodes {}, statistics {}",
        cfg.cores,
        cfg.algorithm.kind,
        cfg.registry.static_nodes.len(),
        cfg.stats
            .port
            .map_or_else(|| "off".to_owned(), |p| p.to_string()),
    )
}

fn ports(p: &config::Ports) -> String {
    [
        ("udp", p.udp),
        ("tcp", p.tcp),
        ("tls", p.tls),
        ("ws", p.ws),
        ("wss", p.wss),
    ]
    .iter()
    .filter_map(|(name, port)| port.map(|port| format!(" {name}/{port}")))
    .collect()
}

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    exit(2)
}
