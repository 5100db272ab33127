//! The report's tables: where the step goes, memory by stage, the layouts compared,
//! the sweep, the sensitivity and the validation summary.

use super::document::Block;
use super::text::{days, secs, short_layout};
use super::Plan;
use crate::report::layout::LayoutSummary;
use crate::report::units::{gib, pct, thousands, usd};

/// Where the step goes, and memory per GPU by stage.
pub(super) fn step_and_memory(p: &Plan, b: &mut Vec<Block>) {
    let e = &p.est;
    b.push(Block::Para(
        "Where the step goes (critical path of the slowest stage):".into(),
    ));
    let br = &e.time.breakdown;
    let step = e.time.step_s;
    let parts = [
        ("compute (recompute included)", br.compute_s),
        ("pipeline bubble", br.bubble_s),
        ("tensor-parallel communication", br.tp_comm_s),
        ("expert all-to-all", br.ep_comm_s),
        ("context-parallel communication", br.cp_comm_s),
        ("pipeline sends", br.p2p_s),
        ("data-parallel communication", br.dp_comm_s),
        ("optimizer", br.optimizer_s),
        ("activation copies to host memory (exposed)", br.offload_s),
    ];
    let mut rows: Vec<Vec<String>> = parts
        .iter()
        // The offload row only where layers are offloaded.
        .filter(|(k, v)| *v != 0.0 || !k.starts_with("activation copies"))
        .map(|(k, v)| vec![k.to_string(), secs(*v), pct(v / step)])
        .collect();
    rows.push(vec!["step".into(), secs(step), "100.0%".into()]);
    b.push(Block::Table(
        vec!["part".into(), "time per step".into(), "share".into()],
        rows,
    ));

    b.push(Block::Para("Memory per GPU by stage:".into()));
    let rows = e
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let m = &s.memory;
            vec![
                i.to_string(),
                s.layers.to_string(),
                gib(m.weights),
                gib(m.gradients),
                gib(m.optimizer),
                gib(m.activations),
                gib(m.other),
                gib(s.memory_bytes),
                gib(e.memory.capacity_bytes - s.memory_bytes),
            ]
        })
        .collect();
    b.push(Block::Table(
        [
            "stage",
            "layers",
            "weights",
            "gradients",
            "optimizer",
            "activations",
            "other",
            "total",
            "free",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    ));
}

/// The layouts compared (this plan's and the search's best), with the launch command
/// of the best.
pub(super) fn layouts_compared(p: &Plan, b: &mut Vec<Block>) {
    let e = &p.est;
    b.push(Block::Para(format!(
        "Layouts compared on {} GPUs ({} layouts enumerated, {} fit; full list in layouts.csv):",
        thousands(e.gpus_requested),
        thousands(p.search.enumerated),
        thousands(p.search.feasible)
    )));
    let rows = p
        .compared
        .iter()
        .map(|c| {
            let x = &c.est;
            vec![
                c.tag.clone(),
                short_layout(x),
                thousands(x.gpus),
                secs(x.time.step_s),
                pct(x.mfu),
                days(x.time.days),
                usd(x.cost.usd),
                format!(
                    "{} / {}",
                    gib(x.memory.peak_bytes),
                    gib(x.memory.capacity_bytes)
                ),
            ]
        })
        .collect();
    b.push(Block::Table(
        [
            "",
            "layout",
            "GPUs used",
            "step",
            "MFU",
            "days",
            "cost",
            "memory peak",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    ));
    if let Some(top) = p.search.results.first() {
        let name = crate::export::scenario_arg(&p.scenario);
        b.push(Block::Para(
            match crate::export::launch_hint(&name, &p.scenario, &top.layout, top.gpus) {
                Ok(cmd) => format!("Launch the search's best layout with `{cmd}`."),
                Err(why) => format!("The search's best layout cannot be exported: {why}."),
            },
        ));
    }
}

/// Best layout per GPU count and type, and the sensitivity of days and dollars.
pub(super) fn sweep_and_sensitivity(p: &Plan, b: &mut Vec<Block>) {
    let e = &p.est;
    b.push(Block::Para(
        "Best layout per GPU count and type (the sweep):".into(),
    ));
    let rows = p
        .sweep
        .points
        .iter()
        .map(|pt| match &pt.best {
            Some(r) => vec![
                format!("{} (${:.2}/h)", pt.gpu_type, pt.usd_per_gpu_hour),
                thousands(pt.gpus),
                format!("{:#}", LayoutSummary::of_ranked(r)),
                pct(r.mfu),
                days(r.days),
                usd(r.usd),
                if pt.pareto { "yes" } else { "" }.into(),
            ],
            None => vec![
                format!("{} (${:.2}/h)", pt.gpu_type, pt.usd_per_gpu_hour),
                thousands(pt.gpus),
                "nothing fits".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
        })
        .collect();
    b.push(Block::Table(
        [
            "GPU type",
            "GPUs",
            "best layout",
            "MFU",
            "days",
            "cost",
            "Pareto",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    ));

    b.push(Block::Para(format!(
        "Sensitivity (each input {:.0}% lower / higher, everything else as planned):",
        p.delta * 100.0
    )));
    let rows = p
        .sensitivity
        .iter()
        .map(|s| {
            vec![
                s.input.clone(),
                format!("`{}`", s.fields),
                format!("{:.1} / {:.1}", s.low.0, s.high.0),
                format!("{} / {}", usd(s.low.1), usd(s.high.1)),
            ]
        })
        .collect();
    b.push(Block::Table(
        vec![
            "input".into(),
            "scales".into(),
            format!("days (base {:.1})", e.time.days),
            format!("cost (base {})", usd(e.cost.usd)),
        ],
        rows,
    ));
}

/// The published runs predicted, per group (when the report was asked for them).
pub(super) fn validation(p: &Plan, b: &mut Vec<Block>) {
    if let Some(v) = &p.validation {
        b.push(Block::Figure(
            "validation",
            "Predicted over published step time for each published row's headline quantity (rates inverted: above 1 = predicted slower), one line per source; the shaded band is +-10%.".into(),
        ));
        b.push(Block::Para(
            "How well the model predicts published runs (validation.csv has every row):".into(),
        ));
        let rows = v
            .groups
            .iter()
            .map(|g| {
                vec![
                    g.group.clone(),
                    g.n.to_string(),
                    format!("{:.1}%", g.mape),
                    g.worst_row.clone(),
                    format!("{:+.1}%", g.worst_error_pct),
                ]
            })
            .collect();
        b.push(Block::Table(
            ["group", "rows", "MAPE", "worst row", "worst error"]
                .map(String::from)
                .to_vec(),
            rows,
        ));
    }
}
