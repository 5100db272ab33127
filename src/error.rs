//! The one error type every fallible public function returns.
//!
//! Each variant is something a user can act on: a file that cannot be read, a YAML
//! document that does not match its schema (with file, line and column), a name that
//! is not in the catalog (with the names that are), or an input that parses but
//! cannot work (with the rule that failed and what would fit).

use std::fmt;

/// A position in an input file, 1-based, as editors count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    /// Path of the file as the user named it (or a built-in name like `builtin:models/x.yaml`).
    pub file: String,
    /// Line, 1-based.
    pub line: u64,
    /// Column, 1-based.
    pub column: u64,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.starts_with("--") {
            // A command-line flag (`--set layout.tp=3`, `--gpus 8`) has no line.
            return f.write_str(&self.file);
        }
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Everything that can go wrong between reading inputs and printing an answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A YAML document did not parse into its schema. `rendered` already holds the
    /// file name, line, column and a source snippet.
    #[error("{rendered}")]
    Yaml {
        /// Where it happened, when the parser knew.
        location: Option<SourceLocation>,
        /// The parser's message rendered with its source snippet.
        rendered: String,
    },
    /// A name (GPU, cluster, model) that the catalog does not hold.
    #[error("{location_prefix}unknown {kind} '{name}'; known {kind}s: {known}", location_prefix = prefix(.location))]
    UnknownName {
        /// What kind of thing was looked up ("gpu", "cluster", "model").
        kind: &'static str,
        /// The name as given.
        name: String,
        /// Comma-separated names that do exist.
        known: String,
        /// Where the name was written, if it came from a file.
        location: Option<SourceLocation>,
    },
    /// An input that parsed but breaks a rule (divisibility, ranges, consistency).
    #[error("{location_prefix}{field}: {message}{hint}", location_prefix = prefix(.location), hint = hint(.suggestion))]
    Invalid {
        /// Dotted path of the offending field, e.g. `layout.tp`.
        field: String,
        /// Which rule failed, in words with the numbers.
        message: String,
        /// What would fit instead, when something would.
        suggestion: Option<String>,
        /// Where the field was written, if it came from a file.
        location: Option<SourceLocation>,
    },
    /// A command-line argument that cannot be applied.
    #[error("{0}")]
    Usage(String),
    /// The inputs were fine but the answer is a failure the user asked to hear about
    /// as one: no layout fits (with why, and the nearest miss), or a plan that does
    /// not fit under `--strict`.
    #[error("{0}")]
    Unmet(String),
    /// Several problems in one input, each with its own location, reported together so
    /// that one run shows everything to fix.
    #[error("{}", many(.0))]
    Many(Vec<Error>),
    /// Writing output failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The path being written.
        path: String,
        /// The operating-system error.
        source: std::io::Error,
    },
}

fn prefix(loc: &Option<SourceLocation>) -> String {
    loc.as_ref().map(|l| format!("{l}: ")).unwrap_or_default()
}

fn many(errors: &[Error]) -> String {
    let mut out: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    out.push(format!("{} problems", errors.len()));
    out.join("\n")
}

fn hint(s: &Option<String>) -> String {
    s.as_ref().map(|s| format!("; {s}")).unwrap_or_default()
}

impl Error {
    /// A rule violation without a known source location.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
            suggestion: None,
            location: None,
        }
    }

    /// Adds what would fit instead.
    pub fn with_suggestion(mut self, s: impl Into<String>) -> Self {
        if let Error::Invalid { suggestion, .. } = &mut self {
            *suggestion = Some(s.into());
        }
        self
    }

    /// One error, or all of them together when there are several (`None` when empty).
    pub fn collect(mut errors: Vec<Error>) -> Option<Error> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(Error::Many(errors)),
        }
    }

    /// Attaches a location if the error has none yet.
    pub fn at(mut self, loc: Option<SourceLocation>) -> Self {
        if let Error::Invalid { location, .. } | Error::UnknownName { location, .. } = &mut self {
            if location.is_none() {
                *location = loc;
            }
        }
        self
    }

    /// The dotted field path of an `Invalid` error.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The process exit code for this error: 2 for bad input, 1 for a failure of the
    /// command itself (output that cannot be written, nothing that fits).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Write { .. } | Error::Unmet(_) => 1,
            _ => 2,
        }
    }
}

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, Error>;
