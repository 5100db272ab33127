//! YAML reading with errors that name the file, line and column.
//!
//! Parsing is done by serde-saphyr (panic-free, fuzzed). Schema errors come back
//! rendered with a snippet of the offending line. Rules checked after parsing (a tp
//! that does not divide the heads, say) find their line with [`locate`], a small
//! indentation-aware scan of block-style YAML, so they point at the line too.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result, SourceLocation};

/// A YAML document kept with its name so that later rule checks can point into it.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file name as the user gave it, or `builtin:<path>` for embedded files.
    pub name: String,
    /// The whole text.
    pub text: String,
}

impl Source {
    /// Reads a file from disk.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Source {
            name: path.display().to_string(),
            text,
        })
    }

    /// Parses the text into `T`, rejecting unknown fields where `T` says so.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        serde_saphyr::from_str::<T>(&self.text).map_err(|e| {
            let location = e.location().map(|l| SourceLocation {
                file: self.name.clone(),
                line: l.line(),
                column: l.column(),
            });
            let opts = serde_saphyr::render_options! { source_name: Some(self.name.as_str()) };
            let report = serde_saphyr::miette::to_miette_report_with_options(
                &e, &self.text, &self.name, opts,
            );
            // First line: file:line:column and the message alone, greppable and readable
            // with colours and boxes stripped; then miette's snippet of the source.
            let rendered = match &location {
                Some(l) => format!("{l}: {report}\n{report:?}"),
                None => format!("{}: {report}\n{report:?}", self.name),
            };
            Error::Yaml { location, rendered }
        })
    }

    /// The location of a dotted key path (e.g. `["layout", "tp"]`) in this document.
    pub fn locate(&self, path: &[&str]) -> Option<SourceLocation> {
        locate(&self.text, path).map(|(line, column)| SourceLocation {
            file: self.name.clone(),
            line,
            column,
        })
    }
}

/// Finds `path` in block-style YAML: each key must appear, indented deeper than its
/// parent, before the parent's block ends. Returns the 1-based (line, column) of the
/// deepest key found; `None` if not even the first key is there. Flow-style maps
/// (`{tp: 8}`) resolve to their parent key, which is still the right line.
pub fn locate(text: &str, path: &[&str]) -> Option<(u64, u64)> {
    let mut best = None;
    let mut parent_indent: Option<usize> = None;
    let mut depth = 0;
    for (i, line) in text.lines().enumerate() {
        if depth >= path.len() {
            break;
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if let Some(p) = parent_indent {
            if indent <= p {
                // Left the parent's block without finding the child.
                break;
            }
        }
        let key = trimmed.trim_start_matches("- ");
        if let Some(rest) = key.strip_prefix(path[depth]) {
            if rest.trim_start().starts_with(':') {
                best = Some((i as u64 + 1, indent as u64 + 1));
                parent_indent = Some(indent);
                depth += 1;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_finds_nested_key() {
        let doc = "name: x\nlayout:\n  pp: 2\n  tp: 8\ntraining:\n  tp: 3\n";
        assert_eq!(locate(doc, &["layout", "tp"]), Some((4, 3)));
        assert_eq!(locate(doc, &["training", "tp"]), Some((6, 3)));
        // Missing child: the parent line is still the best place to point.
        assert_eq!(locate(doc, &["layout", "ep"]), Some((2, 1)));
        assert_eq!(locate(doc, &["pricing"]), None);
    }

    #[test]
    fn schema_error_names_file_line_column() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            a: u32,
        }
        let src = Source {
            name: "x.yaml".into(),
            text: "a: 1\nb: 2\n".into(),
        };
        let err = src.parse::<T>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("x.yaml:2:1"), "{msg}");
        assert!(msg.contains('b'), "{msg}");
    }
}
