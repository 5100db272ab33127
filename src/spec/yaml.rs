//! YAML reading with errors that name the file, line and column.
//!
//! Parsing is done by serde-saphyr (panic-free, fuzzed). Schema errors come back
//! rendered with a snippet of the offending line. Rules checked after parsing (a tp
//! that does not divide the heads, say) find their line with [`locate`], a small
//! indentation-aware scan of block-style YAML, so they point at the line too.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::check;
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
        let text = crate::input::read_text(path)?;
        Ok(Source {
            name: path.display().to_string(),
            text,
        })
    }

    /// Parses the text into `T`, rejecting unknown fields where `T` says so.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        serde_saphyr::from_str::<T>(&self.text).map_err(|e| {
            let mut root = &e;
            while let serde_saphyr::Error::WithSnippet { error, .. }
            | serde_saphyr::Error::AliasError { error, .. } = root
            {
                root = error;
            }
            if let serde_saphyr::Error::Budget { breach, .. } = root {
                return Error::Usage(format!("{}: {}", self.name, budget_words(breach)));
            }
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
            // miette's snippet pads to the column with a format width, which panics past
            // 65,535 ("Formatting argument out of range"): far along a line, no snippet.
            let rendered = match &location {
                Some(l) if l.column > MAX_SNIPPET_COLUMN => format!("{l}: {report}"),
                Some(l) => format!("{l}: {report}\n{report:?}"),
                None => format!("{}: {report}\n{report:?}", self.name),
            };
            Error::Yaml { location, rendered }
        })
    }

    /// Parses like [`Source::parse`]; when that fails, checks the whole document against
    /// `T`'s JSON Schema and reports every problem it finds, each at its line, instead of
    /// the first one only.
    pub fn parse_checked<T: DeserializeOwned + JsonSchema>(&self) -> Result<T> {
        self.parse().map_err(|first| {
            let Ok(doc) = serde_saphyr::from_str::<serde_json::Value>(&self.text) else {
                return first;
            };
            let mut found: Vec<(Option<SourceLocation>, Error)> = check::check::<T>(&doc)
                .into_iter()
                .map(|i| {
                    let keys: Vec<&str> = i.path.iter().map(String::as_str).collect();
                    let at = match i.kind {
                        check::IssueKind::Missing => &keys[..keys.len().saturating_sub(1)],
                        _ => &keys[..],
                    };
                    let mut loc = self.locate(at);
                    if i.kind == check::IssueKind::Value {
                        loc = loc.map(|l| self.value_column(l));
                    }
                    let loc = loc.or_else(|| {
                        Some(SourceLocation {
                            file: self.name.clone(),
                            line: 1,
                            column: 1,
                        })
                    });
                    (
                        loc.clone(),
                        Error::invalid(i.path.join("."), i.message).at(loc),
                    )
                })
                .collect();
            found.sort_by_key(|(l, _)| l.as_ref().map(|l| (l.line, l.column)));
            Error::collect(found.into_iter().map(|(_, e)| e).collect()).unwrap_or(first)
        })
    }

    /// Moves a key's location to the start of its value on the same line, when there is
    /// one (`seq_len: eight` points at `eight`).
    fn value_column(&self, l: SourceLocation) -> SourceLocation {
        let line = self.text.lines().nth(l.line as usize - 1).unwrap_or("");
        let from = (l.column as usize).saturating_sub(1);
        let Some(colon) = line.get(from..).and_then(|r| r.find(':')) else {
            return l;
        };
        let after = from + colon + 1;
        let rest = &line[after..];
        let value = rest.trim_start();
        if value.is_empty() || value.starts_with('#') {
            return l;
        }
        SourceLocation {
            column: (after + rest.len() - value.len() + 1) as u64,
            ..l
        }
    }

    /// Where this document sets the key path itself (`None` when it is left to its
    /// default); see [`locate_exact`].
    pub fn locate_exact(&self, path: &[&str]) -> Option<SourceLocation> {
        locate_exact(&self.text, path).map(|(line, column)| SourceLocation {
            file: self.name.clone(),
            line,
            column,
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

/// Beyond this column an error is reported without a source snippet.
const MAX_SNIPPET_COLUMN: u64 = 10_000;

/// The parser's resource limits (against alias bombs and the like) in words: its
/// own message is a Rust debug dump.
fn budget_words(b: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    let what = match b {
        B::Aliases { .. } | B::AliasAnchorRatio { .. } => "too many aliases (*name)",
        B::Anchors { .. } => "too many anchors (&name)",
        B::Depth { .. } => "nesting too deep",
        B::Documents { .. } => "too many documents (---)",
        B::Nodes { .. } => "too many values",
        B::ScalarBytes { .. } | B::InputBytes { .. } => "too much text",
        B::MergeKeys { .. } => "too many merge keys (<<)",
        _ => "too much content once its aliases are expanded",
    };
    format!("the YAML document has {what} for a planner input (a scenario is a few kilobytes)")
}

/// Finds `path` in block-style YAML: each key must appear, indented deeper than its
/// parent, before the parent's block ends. Returns the 1-based (line, column) of the
/// deepest key found; `None` if not even the first key is there. Flow-style maps
/// (`{tp: 8}`) resolve to their parent key, which is still the right line.
pub fn locate(text: &str, path: &[&str]) -> Option<(u64, u64)> {
    locate_depth(text, path).map(|(line, col, _)| (line, col))
}

/// Where `path` is written, only when the document sets that very key (block style,
/// or inside a flow map on the line of the deepest block key found): a key left to
/// its default is `None`, where [`locate`] would answer with its parent's line.
pub fn locate_exact(text: &str, path: &[&str]) -> Option<(u64, u64)> {
    let (line, col, depth) = locate_depth(text, path)?;
    if depth == path.len() {
        return Some((line, col));
    }
    let l = text.lines().nth(line as usize - 1)?;
    let flow = &l[l.find('{')?..];
    path[depth..]
        .iter()
        .all(|k| {
            flow.match_indices(k).any(|(i, _)| {
                let before = flow[..i].trim_end();
                let after = flow[i + k.len()..].trim_start();
                (before.ends_with('{') || before.ends_with(',')) && after.starts_with(':')
            })
        })
        .then_some((line, col))
}

/// [`locate`] with the number of path keys found.
fn locate_depth(text: &str, path: &[&str]) -> Option<(u64, u64, usize)> {
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
                best = Some((i as u64 + 1, indent as u64 + 1, depth + 1));
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

    /// The parser's budgets (300,000 values here, over its 250,000) used to reach the
    /// user as `budget breached: Nodes { nodes: 250001 }`.
    #[test]
    fn budget_breach_is_a_sentence() {
        let text = format!("[{}]\n", vec!["1"; 300_000].join(","));
        let src = Source {
            name: "big.yaml".into(),
            text,
        };
        let msg = src.parse::<serde_json::Value>().unwrap_err().to_string();
        assert_eq!(
            msg,
            "big.yaml: the YAML document has too many values for a planner input (a scenario is a few kilobytes)"
        );
    }

    /// An error 100,000 columns along one line panicked in the snippet renderer.
    #[test]
    fn error_far_along_a_line_has_no_snippet() {
        let text = format!("{{description: {}, oops: 1}}\n", "x".repeat(100_000));
        let src = Source {
            name: "long.yaml".into(),
            text,
        };
        let msg = src
            .parse::<super::super::ScenarioFile>()
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("long.yaml:1:100"),
            "{}",
            &msg[..200.min(msg.len())]
        );
    }

    #[test]
    fn locate_exact_tells_written_from_default() {
        let doc = "name: x\nlayout:\n  pp: 2\ntraining: {tokens: 1e12, seq_len: 4096}\n";
        assert_eq!(locate_exact(doc, &["layout", "pp"]), Some((3, 3)));
        assert_eq!(locate_exact(doc, &["layout", "tp"]), None);
        assert_eq!(locate_exact(doc, &["training", "seq_len"]), Some((4, 1)));
        assert_eq!(locate_exact(doc, &["training", "recompute"]), None);
        assert_eq!(locate_exact(doc, &["pricing"]), None);
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
