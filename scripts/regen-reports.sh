#!/usr/bin/env bash
# Regenerates reports/: one planning report per built-in scenario (scenarios/*.yaml),
# written by `llmplan report --all`. tests/report.rs fails when a committed report
# differs from what this produces.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -- report --all -o reports --force
