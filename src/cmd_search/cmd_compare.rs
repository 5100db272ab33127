//! `llmplan compare`: layouts side by side, with what each difference costs. The
//! comparison is `llmplan::search::compare`'s, its rendering `llmplan::report::compare`'s.

use super::{load, CompareArgs, OutputFormat};
use llmplan::report::{self, compare as render};
use llmplan::search::compare;
use llmplan::Error;

/// `llmplan compare`.
pub fn compare(a: CompareArgs) -> Result<String, Error> {
    let sc = load(a.scenario.as_deref(), &a.set, a.gpus)?;
    let cs = compare::compare(&sc, &a.layout)?;
    Ok(match a.format {
        OutputFormat::Json => report::json::document(render::compare_json(&cs)),
        OutputFormat::Csv => render::compare_csv(&cs),
        OutputFormat::Table => render::compare_table(&sc, &cs),
    })
}
