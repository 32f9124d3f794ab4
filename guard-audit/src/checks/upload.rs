//! GA-UPLOAD-009: a `Multipart` handler with no size check, no content
//! sniffing, or the client's file name used in a filesystem path.

use std::collections::HashSet;

use super::Ctx;
use super::body::{DEFAULT, limits};
use super::input::common::{
    args, block_expr, calls, compares_len, handler_or_reason, mentions, route, secure_route_has,
    size, taint, text, type_parts,
};
use crate::findings::{Results, Severity, Verdict};

const RULE: &str = "GA-UPLOAD-009";

fn is_multipart(ty: &syn::Type) -> bool {
    type_parts(ty).is_some_and(|(n, inner)| match n.as_str() {
        "Multipart" | "TypedMultipart" | "BaseMultipart" => true,
        "Option" | "Result" => inner.first().is_some_and(|t| is_multipart(t)),
        _ => false,
    })
}

const PATH_FNS: &[&str] = &[
    "File::create",
    "File::open",
    "fs::write",
    "fs::copy",
    "fs::rename",
    "fs::create_dir_all",
    "Path::new",
    "PathBuf::from",
    "create",
    "write",
];
const PATH_METHODS: &[&str] = &[
    "join",
    "push",
    "with_file_name",
    "set_file_name",
    "open",
    "create",
];

pub(crate) fn run(ctx: &Ctx<'_, '_>, out: &mut Results) {
    for i in 0..ctx.endpoints.len() {
        let h = match handler_or_reason(ctx, i) {
            Ok(h) => h,
            Err(why) => {
                out.verdict(i, RULE, Verdict::Unknown, why);
                continue;
            }
        };
        if !args(h.sig).iter().any(|a| is_multipart(a.ty)) {
            continue;
        }
        if secure_route_has(h.attrs, "upload") {
            out.verdict(i, RULE, Verdict::Guarded, "#[secure_route(upload(..))]");
            continue;
        }
        let r = route(ctx, i);
        let body = text(h.block);
        let mut problems = Vec::new();
        let mut notes = Vec::new();
        // Size.
        let checked = compares_len(h.block);
        match limits(ctx, i).effective() {
            Ok(Some(n)) if n <= DEFAULT => notes.push(format!("body limit {} applies", size(n))),
            Ok(Some(n)) if !checked => problems.push(format!(
                "no size check (body limit raised to {}, no length comparison on the field bytes)",
                size(n)
            )),
            Ok(None) if !checked => problems.push(
                "no size check (`DefaultBodyLimit::disable()`, no length comparison on the field bytes)".to_owned(),
            ),
            Err(why) if !checked => notes.push(format!("size: {why}")),
            _ => notes.push("length compared in the handler".to_owned()),
        }
        // Sniffing.
        let sniffs = [
            "infer::",
            "tree_magic",
            "magic",
            "FileFormat",
            "starts_with(b\"",
            "starts_with(&[",
        ]
        .iter()
        .any(|w| body.contains(w));
        if !sniffs {
            let how = if body.contains("content_type()") {
                "relies on the client's `content_type()`"
            } else {
                "the type is never checked"
            };
            problems.push(format!(
                "no content sniffing ({how}; sniff the bytes with `infer`)"
            ));
        }
        // The client's file name in a path.
        let seeded = |e: &syn::Expr| text(e).contains("file_name()");
        let tainted = taint(h.block, HashSet::new(), &seeded);
        let mut traversal = false;
        calls(&block_expr(h.block), &mut |e, name, a| {
            let method = matches!(e, syn::Expr::MethodCall(_));
            let sink = if method {
                PATH_METHODS.contains(&name)
            } else {
                PATH_FNS
                    .iter()
                    .any(|f| name == *f || name.ends_with(&format!("::{f}")))
            };
            if sink
                && a.iter().any(|x| {
                    (mentions(*x, &tainted) || seeded(x))
                        && !text(*x).to_ascii_lowercase().contains("sanitiz")
                })
            {
                traversal = true;
            }
        });
        if traversal {
            problems.push(
                "the client's `file_name()` is used in a filesystem path (path traversal, CWE-22)"
                    .to_owned(),
            );
        }
        if problems.is_empty() {
            out.verdict(
                i,
                RULE,
                Verdict::Guarded,
                format!("sniffs the content; {}", notes.join("; ")),
            );
            continue;
        }
        let sev = if traversal {
            Severity::Critical
        } else {
            Severity::High
        };
        let mut msg = format!(
            "{r}: multipart upload in `{}`: {}",
            h.sig.ident,
            problems.join("; ")
        );
        if !notes.is_empty() {
            msg.push_str(&format!(" ({})", notes.join("; ")));
        }
        out.verdict(i, RULE, Verdict::Unguarded, problems.join("; "));
        out.finding(ctx.endpoint_finding(i, RULE, sev, msg));
    }
}
