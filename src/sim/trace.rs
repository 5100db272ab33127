//! The timeline as Chrome trace-event JSON (the "JSON Object Format" that Perfetto
//! and chrome://tracing open): one process per pipeline rank, one thread per stream,
//! complete ("X") events with microsecond timestamps.

use serde::Serialize;

use super::{Lane, SimResult, Span, SpanKind};

#[derive(Serialize)]
struct Trace<'a> {
    #[serde(rename = "traceEvents")]
    trace_events: Vec<Event<'a>>,
    #[serde(rename = "displayTimeUnit")]
    display_time_unit: &'static str,
    #[serde(rename = "otherData")]
    other: Other,
}

#[derive(Serialize)]
struct Other {
    schedule: &'static str,
    pp: u32,
    vpp: u32,
    microbatches: u32,
    step_ms: f64,
    pipeline_ms: f64,
}

#[derive(Serialize)]
struct Event<'a> {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cat: Option<&'static str>,
    ph: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<f64>,
    pid: u32,
    tid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<Args<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Args<'a> {
    Name {
        name: String,
    },
    Sort {
        sort_index: u32,
    },
    Span {
        microbatch: u32,
        chunk: u32,
        kind: &'a str,
    },
}

fn lane_tid(l: Lane) -> u32 {
    match l {
        Lane::Compute => 0,
        Lane::Send => 1,
        Lane::DataParallel => 2,
    }
}

fn lane_name(l: Lane) -> &'static str {
    match l {
        Lane::Compute => "compute",
        Lane::Send => "p2p send",
        Lane::DataParallel => "data-parallel",
    }
}

fn short(s: &Span) -> String {
    let c = |x: &str| format!("{x}{}", s.mb);
    match s.kind {
        SpanKind::Forward => c("F"),
        SpanKind::Backward => c("B"),
        SpanKind::InputGrad => c("B"),
        SpanKind::WeightGrad => c("W"),
        SpanKind::ForwardBackward => c("F&B "),
        SpanKind::Send => c("send "),
        SpanKind::GradReduce => format!("grad bucket (chunk {})", s.chunk),
        SpanKind::Optimizer => "optimizer".into(),
        SpanKind::ParamGather => "param all-gather".into(),
    }
}

/// The timeline of `r` as Chrome trace-event JSON, deterministic for a given result.
pub fn chrome_trace(r: &SimResult) -> String {
    let mut ev = Vec::with_capacity(r.timeline.len() + 4 * r.pp as usize);
    for rank in 0..r.pp {
        ev.push(Event {
            name: "process_name".into(),
            cat: None,
            ph: "M",
            ts: None,
            dur: None,
            pid: rank,
            tid: 0,
            args: Some(Args::Name {
                name: format!("stage {rank}"),
            }),
        });
        ev.push(Event {
            name: "process_sort_index".into(),
            cat: None,
            ph: "M",
            ts: None,
            dur: None,
            pid: rank,
            tid: 0,
            args: Some(Args::Sort { sort_index: rank }),
        });
        for l in [Lane::Compute, Lane::Send, Lane::DataParallel] {
            ev.push(Event {
                name: "thread_name".into(),
                cat: None,
                ph: "M",
                ts: None,
                dur: None,
                pid: rank,
                tid: lane_tid(l),
                args: Some(Args::Name {
                    name: lane_name(l).into(),
                }),
            });
        }
    }
    for s in &r.timeline {
        ev.push(Event {
            name: short(s),
            cat: Some(s.kind.label()),
            ph: "X",
            ts: Some(s.start_s * 1e6),
            dur: Some((s.end_s - s.start_s) * 1e6),
            pid: s.rank,
            tid: lane_tid(s.lane),
            args: Some(Args::Span {
                microbatch: s.mb,
                chunk: s.chunk,
                kind: s.kind.label(),
            }),
        });
    }
    let t = Trace {
        trace_events: ev,
        display_time_unit: "ms",
        other: Other {
            schedule: r.schedule.name(),
            pp: r.pp,
            vpp: r.vpp,
            microbatches: r.microbatches,
            step_ms: r.step_s * 1e3,
            pipeline_ms: r.pipeline_s * 1e3,
        },
    };
    serde_json::to_string(&t).expect("trace events serialise")
}
