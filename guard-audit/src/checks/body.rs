//! GA-BODY-008: a body limit disabled (`DefaultBodyLimit::disable()` with
//! no `RequestBodyLimitLayer`) or set above 64 MiB on an endpoint that
//! reads a body, or a raw body read with no limit in the handler.

use std::collections::HashSet;

use super::Ctx;
use super::input::common::{
    args, block_expr, calls, eval_int, handler_or_reason, layer_block, reads_body, route, size,
    text,
};
use crate::findings::{Finding, Location, Results, Severity, Verdict};
use crate::symbols::ModId;

const RULE: &str = "GA-BODY-008";
const BIG: u128 = 64 << 20;
/// axum's default body limit.
pub(super) const DEFAULT: u128 = 2 << 20;

/// The body limits the layers of an endpoint set.
#[derive(Debug, Default)]
pub(super) struct Limits {
    /// `DefaultBodyLimit::disable()`, where.
    pub(super) disabled: Option<(ModId, usize)>,
    /// `DefaultBodyLimit::max(n)`: n (None when not readable), where.
    pub(super) default_max: Vec<(Option<u128>, ModId, usize)>,
    /// `RequestBodyLimitLayer::new(n)`.
    pub(super) request: Vec<(Option<u128>, ModId, usize)>,
}

impl Limits {
    /// The effective limit: `Ok(Some(n))`, `Ok(None)` for none at all,
    /// `Err(why)` when a limit could not be read.
    pub(super) fn effective(&self) -> Result<Option<u128>, String> {
        if let Some(n) = self.request.iter().map(|r| r.0).min() {
            return n
                .map(Some)
                .ok_or_else(|| "a `RequestBodyLimitLayer` size the scan cannot read".to_owned());
        }
        if let Some(n) = self.default_max.first() {
            return n
                .0
                .map(Some)
                .ok_or_else(|| "a `DefaultBodyLimit::max` size the scan cannot read".to_owned());
        }
        if self.disabled.is_some() {
            return Ok(None);
        }
        Ok(Some(DEFAULT))
    }
}

/// The body limits set by an endpoint's layers.
pub(super) fn limits(ctx: &Ctx<'_, '_>, endpoint: usize) -> Limits {
    let mut out = Limits::default();
    for layer in &ctx.endpoints[endpoint].layers {
        let Some(b) = layer_block(ctx, layer) else {
            continue;
        };
        let at = (layer.module, layer.line);
        calls(&block_expr(&b), &mut |_, name, a| {
            let n = || a.first().and_then(|e| eval_int(ctx, layer.module, e, 0));
            if name.ends_with("DefaultBodyLimit::disable") {
                out.disabled = Some(at);
            } else if name.ends_with("DefaultBodyLimit::max") {
                out.default_max.push((n(), at.0, at.1));
            } else if name.ends_with("RequestBodyLimitLayer::new") {
                out.request.push((n(), at.0, at.1));
            }
        });
    }
    out
}

fn layer_location(ctx: &Ctx<'_, '_>, (m, line): (ModId, usize)) -> Location {
    Location {
        file: ctx.file(m).to_path_buf(),
        line,
        column: 1,
    }
}

pub(crate) fn run(ctx: &Ctx<'_, '_>, out: &mut Results) {
    let mut raised: HashSet<(ModId, usize)> = HashSet::new();
    for i in 0..ctx.endpoints.len() {
        let h = match handler_or_reason(ctx, i) {
            Ok(h) => h,
            Err(why) => {
                out.verdict(i, RULE, Verdict::Unknown, why);
                continue;
            }
        };
        let readers: Vec<String> = args(h.sig)
            .iter()
            .filter_map(|a| reads_body(a.ty))
            .collect();
        if readers.is_empty() {
            continue;
        }
        let lim = limits(ctx, i);
        let r = route(ctx, i);
        let mut layer_finding =
            |at: (ModId, usize), sev: Severity, msg: String, out: &mut Results| {
                if raised.insert(at) {
                    out.finding(Finding {
                        rule: RULE,
                        severity: sev,
                        message: msg,
                        location: layer_location(ctx, at),
                        endpoint: None,
                        suppressed: None,
                    });
                }
            };
        let big = lim
            .request
            .iter()
            .chain(&lim.default_max)
            .find(|(n, ..)| n.is_some_and(|n| n > BIG));
        let (verdict, why) = match lim.effective() {
            Err(why) => (Verdict::Unknown, why),
            Ok(None) => {
                let at = lim.disabled.unwrap_or((h.module, 0));
                let msg = format!(
                    "{r}: `DefaultBodyLimit::disable()` with no `RequestBodyLimitLayer`: the body is unbounded (first seen on this route)"
                );
                layer_finding(at, Severity::High, msg, out);
                (
                    Verdict::Unguarded,
                    "`DefaultBodyLimit::disable()` and no `RequestBodyLimitLayer`: unbounded body"
                        .to_owned(),
                )
            }
            Ok(Some(_)) if big.is_some() => {
                let (n, m, line) = big.copied().unwrap_or((None, h.module, 0));
                let n = size(n.unwrap_or_default());
                let msg = format!("{r}: body limit set to {n} (more than 64 MiB)");
                layer_finding((m, line), Severity::Medium, msg, out);
                (Verdict::Unguarded, format!("body limit {n}"))
            }
            Ok(Some(n)) if n == DEFAULT && lim.request.is_empty() && lim.default_max.is_empty() => {
                (Verdict::Guarded, "axum default 2 MB limit".to_owned())
            }
            Ok(Some(n)) => (Verdict::Guarded, format!("body limit {}", size(n))),
        };
        // Raw bodies: the default limit does not apply to a stream read by hand.
        let raw = readers
            .iter()
            .any(|n| matches!(n.as_str(), "Body" | "Request" | "BodyStream"));
        let body = text(h.block);
        let unbounded_read = raw && body.contains("usize::MAX");
        let streamed = raw
            && [
                "into_data_stream",
                "poll_frame",
                ".frame()",
                ".data()",
                "BodyStream",
            ]
            .iter()
            .any(|w| body.contains(w) || readers.iter().any(|r| r == w))
            && !super::input::common::compares_len(h.block)
            && !body.contains("Limited");
        if verdict != Verdict::Unguarded && (unbounded_read || streamed) {
            let what = if unbounded_read {
                "reads the raw body with `usize::MAX` as the limit"
            } else {
                "streams the raw body with no length check"
            };
            out.finding(ctx.endpoint_finding(
                i,
                RULE,
                Severity::Medium,
                format!("{r}: `{}` {what}", h.sig.ident),
            ));
            out.verdict(i, RULE, Verdict::Unguarded, what);
            continue;
        }
        out.verdict(i, RULE, verdict, why);
    }
}
