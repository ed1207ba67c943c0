//! A report as one self-contained HTML page (inline CSS with print rules, no script, no
//! external asset): what an auditor hands to an assessor.

use std::fmt::Write;

use super::Report;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#111;margin:2rem auto;max-width:60rem;line-height:1.4;font-size:14px}
h1{font-size:1.5rem;margin:0 0 .25rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #999;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#eee}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem;margin:.5rem 0}
dl.meta dt{font-weight:600}
dl.meta dd{margin:0}
.met{color:#05631f;font-weight:700}
.gap{color:#9b1c1c;font-weight:700}
.verified{color:#05631f;font-weight:700}
.damaged{color:#9b1c1c;font-weight:700}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all;white-space:pre-wrap}
footer{margin-top:2rem;font-size:12px;color:#555}
@page{size:A4;margin:15mm}
@media print{body{margin:0;max-width:none;font-size:11px}tr{break-inside:avoid}thead{display:table-header-group}h2{break-after:avoid}}
";

/// The report as an HTML page.
pub fn render(r: &Report) -> String {
    let mut h = String::with_capacity(16 * 1024);
    let i = &r.integrity;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} — {from} to {to}</title><style>{STYLE}</style></head><body>\n\
         <header><h1>{title}</h1>\n<dl class=\"meta\">\
         <dt>Framework</dt><dd>{framework}</dd>\
         <dt>Period</dt><dd>{from} to {to} (end exclusive, UTC)</dd>\
         <dt>Events in the period</dt><dd>{events}</dd>\
         <dt>Integrity</dt><dd><span class=\"{istatus}\">{istatus}</span>: {idetail}</dd>\
         <dt>Latest signed checkpoint</dt><dd>{checkpoint}</dd>\
         <dt>Result</dt><dd>{met} met, {gaps} gap(s) of {total} requirements</dd>\
         <dt>Generated</dt><dd>{generated}</dd>\
         <dt>Gateway version</dt><dd>auditgate {version}</dd>\
         </dl></header>\n",
        title = escape(&r.title),
        framework = escape(&r.framework),
        from = escape(&r.from),
        to = escape(&r.to),
        events = r.events,
        istatus = escape(&i.status),
        idetail = escape(&match &i.damage {
            Some(d) => format!("{} — {d}", i.detail),
            None => i.detail.clone(),
        }),
        checkpoint = match (i.checkpoint_number, i.checkpoint_size) {
            (Some(n), Some(s)) => format!("#{n}, tree size {s}"),
            _ => "none".into(),
        },
        met = r.met,
        gaps = r.gaps,
        total = r.requirements.len(),
        generated = escape(&r.generated_at),
        version = escape(&r.gateway_version),
    );
    h.push_str(
        "<h2>Requirements</h2>\n<table><thead><tr><th>Requirement</th><th>Status</th>\
         <th>Evidence</th><th>Evidence query</th></tr></thead><tbody>\n",
    );
    for req in &r.requirements {
        let evidence = serde_json::to_string_pretty(&req.evidence).unwrap_or_default();
        let _ = writeln!(
            h,
            "<tr id=\"req-{anchor}\"><td><strong>{id}</strong><br>{title}</td>\
             <td class=\"{status}\">{status}</td><td>{summary}<pre>{evidence}</pre></td>\
             <td><code>{query}</code></td></tr>",
            anchor = escape(&req.id.replace([' ', '(', ')', '.'], "-")),
            id = escape(&req.id),
            title = escape(&req.title),
            status = escape(&req.status),
            summary = escape(&req.summary),
            evidence = escape(&evidence),
            query = escape(&req.evidence_query),
        );
    }
    h.push_str("</tbody></table>\n");
    if let Some(note) = &i.checkpoint_note {
        let _ = write!(
            h,
            "<h2>Latest signed checkpoint (C2SP signed note)</h2>\n<pre>{}</pre>\n\
             <p>Check it offline with the gateway's public key: <code>auditgate verify</code>.</p>\n",
            escape(note)
        );
    }
    h.push_str(
        "<footer>A <em>gap</em> means the log holds no evidence for the requirement in this period \
         (the activity may not have occurred, or is not sent to the gateway); it is not by itself a \
         finding. Counts come from the gateway's stats rollups by event time.</footer>\n</body></html>\n",
    );
    h
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
