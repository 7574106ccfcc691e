//! The watcher against a real directory: what counts as a change, the
//! debounce, symlink swaps as Kubernetes does them.

use std::io::Write;
use std::os::unix::fs::symlink;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;

/// Longer than [`QUIET`] plus a [`TICK`]: a settled change has been seen.
const SETTLE: Duration = Duration::from_millis(600);

struct Lab {
    dir: PathBuf,
    count: Arc<AtomicUsize>,
    stop: Stop,
    watcher: Option<Watcher>,
}

impl Lab {
    /// A fresh directory; `setup` lays it out, then `watched` is watched.
    fn new(tag: &str, setup: impl FnOnce(&Path), watched: &str) -> Lab {
        let dir =
            std::env::temp_dir().join(format!("sip-balancer-watch-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        setup(&dir);
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        let stop = Stop::default();
        let watcher = start(&dir.join(watched), stop.clone(), move || {
            seen.fetch_add(1, Ordering::SeqCst);
        });
        assert!(watcher.is_some());
        Lab {
            dir,
            count,
            stop,
            watcher,
        }
    }

    /// Changes seen after the file has had time to settle.
    fn settled(&self) -> usize {
        std::thread::sleep(SETTLE);
        self.count.load(Ordering::SeqCst)
    }

    /// `lb.yaml` alone in its directory, watched.
    fn plain(tag: &str) -> Lab {
        Lab::new(
            tag,
            |d| std::fs::write(d.join("lb.yaml"), "a: 1\n").unwrap(),
            "lb.yaml",
        )
    }

    /// What the kubelet does on a ConfigMap update: the new version in
    /// directory `v`, then `..data` swapped to it by rename.
    fn swap_data(&self, v: &str, text: &str) {
        std::fs::create_dir(self.dir.join(v)).unwrap();
        std::fs::write(self.dir.join(v).join("lb.yaml"), text).unwrap();
        symlink(v, self.dir.join("..data_tmp")).unwrap();
        std::fs::rename(self.dir.join("..data_tmp"), self.dir.join("..data")).unwrap();
    }

    fn replace(&self, name: &str, text: &str) {
        let path = self.dir.join(name);
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop.trigger();
        if let Some(w) = self.watcher.take() {
            w.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn rename_over_and_write_in_place_each_count_once() {
    let lab = Lab::plain("rename");
    lab.replace("lb.yaml", "a: 2\n");
    assert_eq!(lab.settled(), 1, "rename over the file");
    std::fs::write(lab.dir.join("lb.yaml"), "a: 3\n").unwrap();
    assert_eq!(lab.settled(), 2, "written in place");
}

#[test]
fn a_burst_is_one_change_and_same_bytes_are_none() {
    let lab = Lab::plain("burst");
    for i in 0..5 {
        lab.replace("lb.yaml", &format!("a: {i}0\n"));
        std::thread::sleep(Duration::from_millis(30));
    }
    assert_eq!(lab.settled(), 1, "five writes 30 ms apart");
    lab.replace("lb.yaml", "a: 40\n");
    std::fs::write(lab.dir.join("other.yaml"), "b: 1\n").unwrap();
    assert_eq!(lab.settled(), 1, "same bytes again; another file");
}

#[test]
fn a_file_still_being_written_is_not_read() {
    let lab = Lab::plain("slow");
    let mut f = std::fs::File::create(lab.dir.join("lb.yaml")).unwrap();
    f.write_all(b"a: ").unwrap();
    f.flush().unwrap();
    assert_eq!(lab.settled(), 0, "open for writing, half written");
    f.write_all(b"2\n").unwrap();
    drop(f);
    assert_eq!(lab.settled(), 1, "closed");
}

#[test]
fn kubernetes_configmap_swap_is_followed() {
    // lb.yaml -> ..data/lb.yaml, ..data -> ..v1 (what the kubelet lays out).
    let lab = Lab::new(
        "k8s",
        |d| {
            std::fs::create_dir(d.join("..v1")).unwrap();
            std::fs::write(d.join("..v1/lb.yaml"), "a: 1\n").unwrap();
            symlink("..v1", d.join("..data")).unwrap();
            symlink("..data/lb.yaml", d.join("lb.yaml")).unwrap();
        },
        "lb.yaml",
    );
    lab.swap_data("..v2", "a: 2\n");
    lab.swap_data("..v3", "a: 3\n");
    assert_eq!(lab.settled(), 1, "two swaps in a burst");
    lab.swap_data("..v4", "a: 4\n");
    std::fs::remove_dir_all(lab.dir.join("..v1")).unwrap();
    assert_eq!(lab.settled(), 2, "another swap");
}

#[test]
fn a_symlink_into_another_directory_sees_its_target_change() {
    let lab = Lab::new(
        "link",
        |d| {
            std::fs::create_dir(d.join("real")).unwrap();
            std::fs::write(d.join("real/lb.yaml"), "a: 1\n").unwrap();
            std::fs::create_dir(d.join("etc")).unwrap();
            symlink("../real/lb.yaml", d.join("etc/lb.yaml")).unwrap();
        },
        "etc/lb.yaml",
    );
    lab.replace("real/lb.yaml", "a: 2\n");
    assert_eq!(lab.settled(), 1, "the target replaced");
}
