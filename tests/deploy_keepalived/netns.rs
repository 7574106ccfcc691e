//! Network namespaces the test owns: created with `ip netns add` under a
//! name carrying the test's pid, deleted on drop (also when the test
//! panics). Sockets are made inside one by a short-lived thread that joins
//! it with `setns(2)`: a socket stays in the namespace it was created in,
//! whichever thread uses it later.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

/// Prefix of every namespace name this test creates.
const PREFIX: &str = "sbk-";

/// One network namespace, loopback up.
pub(crate) struct Netns {
    /// Its name under `/run/netns`.
    pub(crate) name: String,
}

impl Netns {
    /// `ip netns add sbk-<pid>-<tag>`, then `lo` up.
    pub(crate) fn new(tag: &str) -> Netns {
        Netns::try_new(tag).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As `new`; Err = ip's message when the namespace cannot be made.
    pub(crate) fn try_new(tag: &str) -> Result<Netns, String> {
        let name = format!("{PREFIX}{}-{tag}", std::process::id());
        let _ = run("ip", &["netns", "del", &name]);
        run("ip", &["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip("link set lo up");
        Ok(ns)
    }

    /// `ip -n <name> <args>`; panics with ip's message on failure.
    pub(crate) fn ip(&self, args: &str) {
        let mut argv = vec!["-n", self.name.as_str()];
        argv.extend(args.split_whitespace());
        run("ip", &argv).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Output of `ip -n <name> <args>`, or "" if it fails.
    pub(crate) fn ip_output(&self, args: &str) -> String {
        let mut argv = vec!["-n", self.name.as_str()];
        argv.extend(args.split_whitespace());
        run("ip", &argv).unwrap_or_default()
    }

    /// `ip netns exec <name> <program>`: a command to add arguments to.
    /// `ip netns exec` execs the program itself, so the child's pid is the
    /// program's.
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `f` on a thread that has joined this namespace; sockets and
    /// `/proc/sys/net` files it opens belong to the namespace.
    #[allow(unsafe_code)]
    pub(crate) fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
                // SAFETY: setns(2) on a namespace fd we just opened; it
                // changes only this (scoped, short-lived) thread.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// Writes a `/proc/sys` value inside this namespace (e.g.
    /// `net/ipv4/ip_nonlocal_bind`).
    pub(crate) fn sysctl(&self, key: &str, value: &str) {
        let path = format!("/proc/sys/{key}");
        self.run(|| std::fs::write(&path, value))
            .unwrap_or_else(|e| panic!("write {path} in {}: {e}", self.name));
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.name]);
    }
}

/// Deletes `sbk-<pid>-…` namespaces whose test process is gone (left
/// behind by a run that was killed before its drops ran).
pub(crate) fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(PREFIX).and_then(|r| r.split('-').next()) else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = run("ip", &["netns", "del", &name]);
        }
    }
}

/// Runs `program args`, returns stdout, or Err with the command and stderr.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program} {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
