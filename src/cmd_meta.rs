//! `llmplan completions SHELL`, `llmplan man` and `llmplan schema KIND`: about the
//! command line and the input files rather than about a training run.

use clap_complete::Shell;

use llmplan::spec::schema;
use llmplan::Error;

/// The completion script for `shell`, for the command line `cmd`.
pub fn completions(shell: Shell, mut cmd: clap::Command) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "llmplan", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The man page (roff) of the command line `cmd`.
pub fn man(cmd: clap::Command) -> Result<String, Error> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|source| Error::Write {
            path: "man page".into(),
            source,
        })?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The JSON Schema of one input kind, pretty-printed.
pub fn schema_text(kind: &str) -> Result<String, Error> {
    let v = schema::schema(kind).ok_or_else(|| {
        Error::Usage(format!(
            "unknown kind '{kind}'; known: {}",
            schema::KINDS.join(", ")
        ))
    })?;
    Ok(serde_json::to_string_pretty(&v).unwrap_or_default() + "\n")
}
