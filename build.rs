//! Embeds every published-runs CSV under tests/data/published/ so `llmplan validate`
//! reads all of them by default: adding a table is adding a file.

use std::fmt::Write as _;

fn main() {
    // The manifest directory as cargo gives it to this run, not as it was when the
    // script was compiled (`env!`): a script compiled for a checkout elsewhere that
    // shares the target directory would read a folder that is gone and embed nothing,
    // leaving `llmplan validate` and the error bands without rows.
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = std::path::Path::new(&root).join("tests/data/published");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the published-runs tables)", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    assert!(
        !files.is_empty(),
        "{}: no published-runs CSV to embed",
        dir.display()
    );
    files.sort();
    let mut out = String::from("&[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            f.display().to_string()
        );
    }
    out.push(']');
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("published.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
