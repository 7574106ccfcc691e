//! The key table against the deserializer, the importer and the document.

use std::collections::BTreeSet;

use super::*;
use crate::config::file::FileConfig;
use crate::config::properties;

/// What a YAML path is to the deserializer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A value.
    Leaf,
    /// A section (a struct of keys).
    Section,
    /// A list of sections (`nodes`): its keys are `path[].key`.
    List,
}

/// A path as segments: (name, is a list of sections).
type Path = Vec<(String, bool)>;

fn render(path: &Path) -> String {
    let mut s = String::new();
    for (i, (name, list)) in path.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push_str(name);
        if *list && i + 1 < path.len() {
            s.push_str("[]");
        }
    }
    s
}

/// The keys serde accepts at `path`, if it is a section: from the error
/// for an unknown key there.
fn keys_at(path: &Path) -> Option<Vec<String>> {
    let mut yaml = "{__probe__: 1}".to_owned();
    for (name, list) in path.iter().rev() {
        yaml = if *list {
            format!("{{{name}: [{yaml}]}}")
        } else {
            format!("{{{name}: {yaml}}}")
        };
    }
    let err = serde_yaml::from_str::<FileConfig>(&yaml).err()?.to_string();
    let (_, expected) = err.split_once("unknown field `__probe__`, expected")?;
    let expected = expected.split(" at line ").next().unwrap_or(expected);
    Some(
        expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect(),
    )
}

/// Every path the YAML deserializer accepts, with its shape.
fn accepted() -> Vec<(String, Shape)> {
    fn walk(path: &Path, out: &mut Vec<(String, Shape)>) {
        for key in keys_at(path).unwrap_or_default() {
            let mut section = path.clone();
            section.push((key.clone(), false));
            let mut list = path.clone();
            list.push((key, true));
            if keys_at(&section).is_some() {
                out.push((render(&section), Shape::Section));
                walk(&section, out);
            } else if keys_at(&list).is_some() {
                out.push((render(&list), Shape::List));
                walk(&list, out);
            } else {
                out.push((render(&section), Shape::Leaf));
            }
        }
    }
    let mut out = Vec::new();
    walk(&Vec::new(), &mut out);
    out
}

/// The YAML paths an entry stands for (both legs, aliases).
fn names(key: &Key) -> Vec<String> {
    let paths: Vec<String> = if key.yaml.contains("<leg>") {
        ["external", "internal"]
            .iter()
            .map(|leg| key.yaml.replace("<leg>", leg))
            .collect()
    } else {
        vec![key.yaml.to_owned()]
    };
    let mut out = paths.clone();
    for p in &paths {
        let parent = p.rsplit_once('.').map_or("", |(parent, _)| parent);
        for alias in key.aliases {
            out.push(if parent.is_empty() {
                (*alias).to_owned()
            } else {
                format!("{parent}.{alias}")
            });
        }
    }
    out
}

#[test]
fn every_key_the_deserializer_accepts_has_an_entry_and_back() {
    let accepted = accepted();
    assert!(accepted.len() > 100, "the walk found {}", accepted.len());
    let rows: Vec<(String, &Key)> = all_keys()
        .flat_map(|k| names(k).into_iter().map(move |n| (n, k)))
        .collect();
    let row = |path: &str| rows.iter().find(|(n, _)| n == path).map(|(_, k)| *k);
    let mut missing = Vec::new();
    for (path, shape) in &accepted {
        if *shape != Shape::Leaf || row(path).is_some() {
            continue;
        }
        // A key of a list item may be described by the list's own entry.
        let described = path.split_once("[].").is_some_and(|(list, key)| {
            row(list).is_some_and(|k| k.kind.contains(key) || k.doc.contains(key))
        });
        if !described {
            missing.push(path.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "keys the YAML loader accepts with no entry in src/config/reference/keys.rs: {missing:?}"
    );
    let known: BTreeSet<&str> = accepted.iter().map(|(p, _)| p.as_str()).collect();
    let unknown: Vec<&str> = rows
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !known.contains(n))
        .collect();
    assert!(
        unknown.is_empty(),
        "entries for keys the YAML loader refuses: {unknown:?}"
    );
}

#[test]
fn every_properties_name_is_known_to_the_importer() {
    let mut unknown = Vec::new();
    for key in all_keys() {
        let names = key.properties.split('`').skip(1).step_by(2);
        for name in names.filter(|n| !n.contains('…')) {
            match properties::import(&format!("{name}=\n"), "t.properties") {
                Ok(im) if im.warnings.is_empty() && im.ignored.is_empty() => {}
                other => unknown.push(format!("{} → {name}: {other:?}", key.yaml)),
            }
        }
    }
    assert!(unknown.is_empty(), "{unknown:#?}");
}

#[test]
fn live_keys_are_the_reload_live_set() {
    let live: Vec<&str> = all_keys()
        .filter(|k| reload::live(k.yaml).is_some())
        .map(|k| k.yaml)
        .collect();
    assert!(live.contains(&"algorithm.algorithmClass"), "{live:?}");
    assert!(live.contains(&"nodes[].ip"), "{live:?}");
    assert!(live.contains(&"smpp.remoteServers"), "{live:?}");
    assert_eq!(reload::live("smpp.remoteServersX"), None);
    assert_eq!(reload::live("sip.external.udpPort"), None);
}

#[test]
fn config_reference_md_is_generated_from_the_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/config-reference.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let want = update_markdown(&doc).unwrap();
    if std::env::var_os("REGENERATE_CONFIG_REFERENCE").is_some() {
        std::fs::write(path, &want).unwrap();
        return;
    }
    assert!(
        doc == want,
        "docs/config-reference.md's generated tables differ from src/config/reference/keys.rs; \
         regenerate with `REGENERATE_CONFIG_REFERENCE=1 cargo test --release --lib config::reference` \
         (edit the table in code, not the generated regions)"
    );
}

#[test]
fn update_markdown_keeps_prose_and_refuses_bad_markers() {
    let mut doc = String::from("intro\n");
    for s in SECTIONS {
        doc += &format!(
            "{BEGIN}{} -->\nstale\n{END}{} -->\nprose {}\n",
            s.id, s.id, s.id
        );
    }
    let out = update_markdown(&doc).unwrap();
    assert!(out.starts_with("intro\n") && out.contains("prose ssl\n"));
    assert!(!out.contains("stale"));
    assert!(out.contains("| `sip.isSendTrying` |"), "{out}");
    assert_eq!(update_markdown(&out).unwrap(), out, "idempotent");
    assert!(update_markdown("intro\n").is_err(), "regions missing");
    let unclosed = doc.replace(&format!("{END}ssl -->"), "");
    assert!(update_markdown(&unclosed).is_err());
}

/// The literal a default names, when the whole default is one: "`8400`",
/// "`0` (off)", "`[]` = both"; `None` for prose ("none", "the IP", …).
fn literal_default(key: &Key) -> Option<&str> {
    let rest = key.default.strip_prefix('`')?;
    let (value, tail) = rest.split_once('`')?;
    let tail = tail.trim();
    let plain = tail.is_empty() || tail.starts_with('(') || tail.starts_with('=');
    plain.then_some(value)
}

/// YAML setting the dotted `path` to `value` (a flow mapping per level).
fn yaml_setting(path: &str, value: &str) -> String {
    let value = if value.contains(", ") && !value.starts_with('[') {
        format!("[{value}]")
    } else {
        value.to_owned()
    };
    path.rsplit('.')
        .fold(value, |inner, name| format!("{{{name}: {inner}}}"))
}

/// Every literal default in the table is the loader's real default: a
/// file that sets the key to it builds the same config as one without it.
#[test]
fn every_documented_default_is_the_loaders_default() {
    let build = |yaml: &str| crate::config::from_yaml_str(yaml, "t.yaml");
    let base = build("{}").unwrap();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for key in all_keys() {
        let Some(value) = literal_default(key) else {
            continue;
        };
        if key.yaml.contains('<') || key.yaml.contains("[]") {
            continue;
        }
        let yaml = yaml_setting(key.yaml, value);
        match build(&yaml) {
            Ok(cfg) if cfg == base => checked += 1,
            Ok(_) => wrong.push(format!("{}: `{value}` is not the default", key.yaml)),
            Err(e) => wrong.push(format!("{}: `{yaml}` does not load: {e}", key.yaml)),
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(checked > 50, "only {checked} defaults checked");
}
