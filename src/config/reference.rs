//! The configuration reference's key tables, generated from one table in
//! code ([`SECTIONS`], data in `reference/keys.rs`): YAML path, properties
//! name, type, default, what a reload does with it ([`super::reload::live`],
//! the classification [`super::reload::Diff`] applies) and a note.
//!
//! `docs/config-reference.md` holds each table between
//! `<!-- BEGIN GENERATED: id -->` and `<!-- END GENERATED: id -->`; the
//! prose around them is written by hand. [`update_markdown`] rewrites the
//! marked regions; `sip-balancer --print-config-reference` prints every
//! table. Tests (`reference/tests.rs`) keep the three in step:
//! - every key the YAML deserializer accepts (asked of serde itself, by
//!   the "unknown field, expected one of …" list of each section) has an
//!   entry, and every entry is a key it accepts;
//! - every properties name of an entry is one the importer knows;
//! - the document's generated regions are what [`update_markdown`] makes
//!   (`REGENERATE_CONFIG_REFERENCE=1 cargo test --lib config::reference`
//!   rewrites them).
//!
//! Pure: strings in, strings out.

use std::fmt::Write as _;

mod keys;

use super::reload;

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// YAML path: `sip.isSendTrying`; `sip.<leg>.udpPort` for both legs;
    /// `nodes[].ip` for a field of every list item.
    pub yaml: &'static str,
    /// Other YAML names accepted for it.
    pub aliases: &'static [&'static str],
    /// `lb.properties` name(s), Markdown (`—`: YAML only).
    pub properties: &'static str,
    /// Type and range, Markdown.
    pub kind: &'static str,
    /// Default, Markdown.
    pub default: &'static str,
    /// One line more, Markdown (may be empty).
    pub doc: &'static str,
}

/// One table of the reference.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    /// Marker id in the document (`<!-- BEGIN GENERATED: id -->`).
    pub id: &'static str,
    /// Heading for [`markdown`].
    pub title: &'static str,
    /// Its keys, in order.
    pub keys: &'static [Key],
}

/// Every table, in the document's order.
pub const SECTIONS: &[Section] = &[
    Section {
        id: "top",
        title: "Top level",
        keys: keys::TOP,
    },
    Section {
        id: "sip",
        title: "`sip`",
        keys: keys::SIP,
    },
    Section {
        id: "leg",
        title: "Leg keys (`<leg>` = `external` or `internal`)",
        keys: keys::LEG,
    },
    Section {
        id: "algorithm",
        title: "`algorithm`",
        keys: keys::ALGORITHM,
    },
    Section {
        id: "nodes",
        title: "`nodes`",
        keys: keys::NODES,
    },
    Section {
        id: "probe",
        title: "`probe`",
        keys: keys::PROBE,
    },
    Section {
        id: "health",
        title: "`health`",
        keys: keys::HEALTH,
    },
    Section {
        id: "http",
        title: "`http`",
        keys: keys::HTTP,
    },
    Section {
        id: "smpp",
        title: "`smpp`",
        keys: keys::SMPP,
    },
    Section {
        id: "ssl",
        title: "`ssl`",
        keys: keys::SSL,
    },
];

/// Every key of every section.
pub fn all_keys() -> impl Iterator<Item = &'static Key> {
    SECTIONS.iter().flat_map(|s| s.keys.iter())
}

/// The "on reload" cell of `key`.
pub fn on_reload(key: &Key) -> String {
    match reload::live(key.yaml) {
        Some("") => "live".to_owned(),
        Some(condition) => format!("live, {condition}"),
        None => "restart".to_owned(),
    }
}

/// One section's table, Markdown, ending in a newline.
pub fn table(section: &Section) -> String {
    let notes = section.keys.iter().any(|k| !k.doc.is_empty());
    let mut out = String::from("| YAML | properties | type | default | on reload |");
    out.push_str(if notes { " notes |\n" } else { "\n" });
    out.push_str("|---|---|---|---|---|");
    out.push_str(if notes { "---|\n" } else { "\n" });
    for k in section.keys {
        let mut yaml = format!("`{}`", k.yaml);
        for alias in k.aliases {
            let _ = write!(yaml, " (alias `{alias}`)");
        }
        let _ = write!(
            out,
            "| {yaml} | {} | {} | {} | {} |",
            k.properties,
            k.kind,
            k.default,
            on_reload(k)
        );
        if notes {
            let _ = write!(out, " {} |", k.doc);
        }
        out.push('\n');
    }
    out
}

/// Every table with its heading (`--print-config-reference`).
pub fn markdown() -> String {
    let mut out = String::new();
    for s in SECTIONS {
        let _ = write!(out, "## {}\n\n{}\n", s.title, table(s));
    }
    out
}

/// `doc` with every marked region replaced by its section's table. Err
/// names a marker that is missing, unclosed or unknown.
pub fn update_markdown(doc: &str) -> Result<String, String> {
    let mut out = String::with_capacity(doc.len());
    let mut rest = doc;
    let mut seen = Vec::new();
    while let Some(at) = rest.find(BEGIN) {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let line_end = from
            .find('\n')
            .ok_or("a BEGIN marker at the end of the file")?;
        let (begin_line, body) = from.split_at(line_end + 1);
        let id = begin_line
            .trim()
            .strip_prefix(BEGIN)
            .and_then(|s| s.strip_suffix("-->"))
            .map(str::trim)
            .ok_or_else(|| format!("malformed marker `{}`", begin_line.trim()))?;
        let section = SECTIONS
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| format!("unknown section `{id}`"))?;
        let end = format!("{END}{id} -->");
        let stop = body
            .find(&end)
            .ok_or_else(|| format!("`{id}`: no `{end}`"))?;
        out.push_str(begin_line);
        out.push_str(&table(section));
        out.push_str(&end);
        rest = body.get(stop + end.len()..).unwrap_or_default();
        seen.push(id);
    }
    out.push_str(rest);
    match SECTIONS.iter().find(|s| !seen.contains(&s.id)) {
        Some(s) => Err(format!("no `{BEGIN}{} -->` region", s.id)),
        None => Ok(out),
    }
}

/// Start of a generated region: `<!-- BEGIN GENERATED: id -->`.
const BEGIN: &str = "<!-- BEGIN GENERATED: ";

/// End of one: `<!-- END GENERATED: id -->`.
const END: &str = "<!-- END GENERATED: ";

#[cfg(test)]
mod tests;
