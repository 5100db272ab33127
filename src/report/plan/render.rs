//! The document as Markdown (charts as PNG beside it) and as one self-contained HTML
//! page (charts inline as SVG).

use std::fmt::Write as _;

use super::document::{blocks, Block, CHARTS};
use super::text::one_line;
use super::Plan;

pub(super) fn md_cell(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

/// The report as Markdown (charts as PNG beside it).
pub fn markdown(p: &Plan) -> String {
    let mut out = String::new();
    for b in blocks(p) {
        match b {
            Block::H1(t) => {
                let _ = writeln!(out, "# {t}\n");
            }
            Block::H2(t) => {
                let _ = writeln!(out, "## {t}\n");
            }
            Block::Para(t) => {
                let _ = writeln!(out, "{t}\n");
            }
            Block::Facts(f) => {
                for (k, v) in f {
                    let _ = writeln!(out, "- **{k}:** {v}");
                }
                out.push('\n');
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(out, "- {}", one_line(&i));
                }
                out.push('\n');
            }
            Block::Table(h, rows) => {
                let _ = writeln!(
                    out,
                    "| {} |",
                    h.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
                );
                let _ = writeln!(out, "|{}", "---|".repeat(h.len()));
                for r in rows {
                    let _ = writeln!(
                        out,
                        "| {} |",
                        r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
                    );
                }
                out.push('\n');
            }
            Block::Figure(stem, caption) => {
                let alt = CHARTS.iter().find(|c| c.0 == stem).map_or(stem, |c| c.1);
                let _ = writeln!(
                    out,
                    "![{alt}]({stem}.png)\n\n*{caption}* ([SVG]({stem}.svg))\n"
                );
            }
        }
    }
    out
}

pub(super) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

/// Inline code spans (`x`) as <code>, the rest escaped.
pub(super) fn inline(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", esc(part));
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

pub(super) const CSS: &str = "\
:root{color-scheme:light}\n\
body{font-family:\"DejaVu Sans\",Verdana,Arial,sans-serif;color:#222;background:#fff;max-width:1180px;margin:0 auto;padding:24px 32px;line-height:1.45;font-size:15px}\n\
h1{font-size:26px;margin:0 0 8px}\n\
h2{font-size:20px;margin:32px 0 10px;border-bottom:2px solid #4c72b0;padding-bottom:4px}\n\
table{border-collapse:collapse;margin:8px 0 18px;width:100%;font-size:13px}\n\
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\n\
th{background:#eef2f8}\n\
tr:nth-child(even) td{background:#fafafa}\n\
dl.answer{display:grid;grid-template-columns:max-content 1fr;gap:6px 18px;background:#f4f7fb;border:1px solid #c9d5e8;border-radius:6px;padding:14px 18px;margin:0}\n\
dl.answer dt{font-weight:bold}\n\
dl.answer dd{margin:0}\n\
figure{margin:18px 0 26px;break-inside:avoid;page-break-inside:avoid}\n\
figure svg{display:block;width:100%;height:auto;border:1px solid #e2e2e2}\n\
figcaption{font-size:13px;color:#444;margin-top:6px}\n\
code{font-size:12px;background:#f2f2f2;padding:0 3px}\n\
ul.warnings li{margin-bottom:4px}\n\
@media print{body{max-width:none;padding:0;font-size:11pt}h2{break-after:avoid;page-break-after:avoid}table{font-size:9pt}tr{break-inside:avoid;page-break-inside:avoid}figure svg{border:none}a{color:inherit;text-decoration:none}}\n";

/// The SVG text to put inside the page: the `<svg ...>` element only, labelled.
pub(super) fn inline_svg(svg: &str, alt: &str) -> String {
    let start = svg.find("<svg").unwrap_or(0);
    let body = svg[start..].trim_end();
    body.replacen(
        "<svg",
        &format!("<svg role=\"img\" aria-label=\"{}\"", esc(alt)),
        1,
    )
}

/// The report as one self-contained HTML page; `svgs` maps chart stems to SVG text.
pub fn html(p: &Plan, svgs: &[(&str, String)]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n",
        esc(&format!("Training plan: {}", p.est.scenario))
    );
    for b in blocks(p) {
        match b {
            Block::H1(t) => {
                let _ = writeln!(out, "<h1>{}</h1>", esc(&t));
            }
            Block::H2(t) => {
                let _ = writeln!(out, "<h2>{}</h2>", esc(&t));
            }
            Block::Para(t) => {
                let _ = writeln!(out, "<p>{}</p>", inline(&t));
            }
            Block::Facts(f) => {
                out.push_str("<dl class=\"answer\">\n");
                for (k, v) in f {
                    let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(&k), inline(&v));
                }
                out.push_str("</dl>\n");
            }
            Block::List(items) => {
                out.push_str("<ul class=\"warnings\">\n");
                for i in items {
                    let _ = writeln!(out, "<li>{}</li>", inline(&one_line(&i)));
                }
                out.push_str("</ul>\n");
            }
            Block::Table(h, rows) => {
                out.push_str("<table>\n<thead><tr>");
                for c in &h {
                    let _ = write!(out, "<th>{}</th>", inline(c));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for r in rows {
                    out.push_str("<tr>");
                    for c in &r {
                        let _ = write!(out, "<td>{}</td>", inline(&one_line(c)));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            }
            Block::Figure(stem, caption) => {
                let alt = CHARTS.iter().find(|c| c.0 == stem).map_or(stem, |c| c.1);
                if let Some((_, svg)) = svgs.iter().find(|(s, _)| *s == stem) {
                    let _ = writeln!(
                        out,
                        "<figure id=\"chart-{stem}\">\n{}\n<figcaption>{}</figcaption>\n</figure>",
                        inline_svg(svg, alt),
                        inline(&caption)
                    );
                }
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}
