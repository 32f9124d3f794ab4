//! GA-INPUT-003: every `Json<T>`, `Form<T>` and `Query<T>` argument must
//! have a type that is validated (a `Validate` derive and a `.validate()`
//! call, or a validating extractor) and refuses unknown fields
//! (`#[serde(deny_unknown_fields)]`). Identity fields in a body type
//! (`user_id`, `role`, `is_admin`, ...) are named as mass assignment.

pub(super) mod common;

use self::common::{Arg, args, handler_or_reason, route, text, type_parts};
use super::{Ctx, HandlerFn};
use crate::findings::{Finding, Results, Severity, Verdict};
use crate::symbols::Item;

const RULE: &str = "GA-INPUT-003";

const IDENTITY: &[&str] = &[
    "user_id",
    "owner_id",
    "tenant_id",
    "org_id",
    "account_id",
    "role",
    "roles",
    "is_admin",
    "admin",
    "permissions",
];

const PRIMITIVES: &[&str] = &[
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "f32",
    "f64",
    "bool",
    "char",
    "Uuid",
    "NaiveDate",
    "DateTime",
];

/// How an extractor validates its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wrap {
    /// A plain `Json`/`Form`/`Query`.
    Plain,
    /// `Valid<..>`, `ValidatedJson`, `Garde<..>` or a workspace extractor
    /// that calls `validate`.
    Validating,
}

/// A body, form or query argument: extractor name, its type, the wrapper.
struct Input<'w> {
    extractor: String,
    ty: &'w syn::Type,
    wrap: Wrap,
}

fn input<'w>(
    ctx: &Ctx<'_, 'w>,
    h: &HandlerFn<'w>,
    ty: &'w syn::Type,
    wrap: Wrap,
) -> Option<Input<'w>> {
    let (name, inner) = type_parts(ty)?;
    match name.as_str() {
        "Json" | "Form" | "Query" => Some(Input {
            extractor: name,
            ty: inner.first()?,
            wrap,
        }),
        "Option" => input(ctx, h, inner.first()?, wrap),
        "WithRejection" => input(ctx, h, inner.first()?, wrap),
        "Valid" | "Garde" | "Validated" => input(ctx, h, inner.first()?, Wrap::Validating),
        "ValidatedJson" | "ValidatedForm" | "ValidatedQuery" | "GardeJson" => Some(Input {
            extractor: name,
            ty: inner.first()?,
            wrap: Wrap::Validating,
        }),
        _ => {
            // A workspace extractor `X<T>` whose FromRequest impl validates.
            let syn::Type::Path(p) = ty else {
                return None;
            };
            let Some(Item::Type(..)) = ctx.syms.resolve(h.module, &p.path) else {
                return None;
            };
            let first = inner.first()?;
            let validates = ctx
                .impls_of("FromRequest")
                .chain(ctx.impls_of("FromRequestParts"))
                .any(|(_, i)| {
                    type_parts(&i.self_ty).is_some_and(|(n, _)| n == name)
                        && text(i).contains(".validate(")
                });
            validates.then_some(Input {
                extractor: name,
                ty: first,
                wrap: Wrap::Validating,
            })
        }
    }
}

fn derives(attrs: &[syn::Attribute], name: &str) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|a| text(&a.meta).split([',', '(', ')', ':']).any(|w| w == name))
}

/// The verdict on one argument: `(verdict, severity, what is missing)`.
fn judge(
    ctx: &Ctx<'_, '_>,
    h: &HandlerFn<'_>,
    inp: &Input<'_>,
    mutating: bool,
) -> (Verdict, Severity, String) {
    let shown = format!("`{}<{}>`", inp.extractor, text(inp.ty));
    let Some((tname, targs)) = type_parts(inp.ty) else {
        // A tuple or other non-path type.
        return (
            Verdict::Guarded,
            Severity::Low,
            format!("{shown}: no free-form struct"),
        );
    };
    if PRIMITIVES.contains(&tname.as_str()) {
        return (
            Verdict::Guarded,
            Severity::Low,
            format!("{shown}: a primitive"),
        );
    }
    if matches!(tname.as_str(), "Vec" | "Option" | "Box")
        && let Some(t) = targs.first()
    {
        let inner = Input {
            extractor: inp.extractor.clone(),
            ty: t,
            wrap: inp.wrap,
        };
        return judge(ctx, h, &inner, mutating);
    }
    if matches!(tname.as_str(), "Value" | "HashMap" | "BTreeMap" | "Map") {
        let sev = if mutating {
            Severity::High
        } else {
            Severity::Medium
        };
        return (
            Verdict::Unguarded,
            sev,
            format!("{shown}: schema-less body (any keys and values accepted)"),
        );
    }
    if tname == "String" {
        return (
            Verdict::Guarded,
            Severity::Low,
            format!("{shown}: a single string"),
        );
    }
    let syn::Type::Path(p) = inp.ty else {
        return (
            Verdict::Unknown,
            Severity::Low,
            format!("{shown}: type not read"),
        );
    };
    let Some(item) = ctx.syms.resolve(h.module, &p.path) else {
        return (
            Verdict::Unknown,
            Severity::Low,
            format!("{shown}: `{tname}` is not a workspace type"),
        );
    };
    let Some(syn::Item::Struct(def)) = ctx.type_def(&item) else {
        return (
            Verdict::Unknown,
            Severity::Low,
            format!("{shown}: `{tname}` is not a struct the scan can read"),
        );
    };
    let derive = derives(&def.attrs, "Validate");
    let called =
        text(h.block).contains(".validate(") || text(h.block).contains("Validate::validate(");
    let deny = def
        .attrs
        .iter()
        .any(|a| a.path().is_ident("serde") && text(&a.meta).contains("deny_unknown_fields"));
    let identity: Vec<String> = def
        .fields
        .iter()
        .filter_map(|f| f.ident.as_ref().map(ToString::to_string))
        .filter(|n| IDENTITY.contains(&n.as_str()))
        .collect();
    let validated = inp.wrap == Wrap::Validating || (derive && called);
    let mut missing = Vec::new();
    if !validated {
        missing.push(if derive {
            format!(
                "`{tname}` derives `Validate` but `{}` never calls `.validate()`",
                h.sig.ident
            )
        } else {
            format!("no validation (`{tname}` derives no `Validate`, no validating extractor)")
        });
    }
    if !deny {
        missing.push(format!("no `#[serde(deny_unknown_fields)]` on `{tname}`"));
    }
    let body = inp.extractor != "Query";
    if body && !identity.is_empty() {
        missing.push(format!(
            "identity field(s) {} taken from the request body (mass assignment)",
            identity
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if missing.is_empty() {
        let how = if inp.wrap == Wrap::Validating {
            "a validating extractor"
        } else {
            "`Validate` derive and a `.validate()` call"
        };
        return (
            Verdict::Guarded,
            Severity::Low,
            format!("{shown}: {how}, deny_unknown_fields"),
        );
    }
    let sev = if (mutating && !validated && !derive) || (body && !identity.is_empty()) {
        Severity::High
    } else {
        Severity::Medium
    };
    (
        Verdict::Unguarded,
        sev,
        format!("{shown}: {}", missing.join("; ")),
    )
}

pub(crate) fn run(ctx: &Ctx<'_, '_>, out: &mut Results) {
    for i in 0..ctx.endpoints.len() {
        let h = match handler_or_reason(ctx, i) {
            Ok(h) => h,
            Err(reason) => {
                out.verdict(i, RULE, Verdict::Unknown, reason);
                continue;
            }
        };
        let mutating = common::mutating(ctx, i);
        let mut reasons = Vec::new();
        let mut worst = Verdict::Guarded;
        for Arg { ty, .. } in args(h.sig) {
            let Some(inp) = input(ctx, &h, ty, Wrap::Plain) else {
                continue;
            };
            let (v, sev, why) = judge(ctx, &h, &inp, mutating);
            match v {
                Verdict::Unguarded => {
                    worst = Verdict::Unguarded;
                    out.finding(Finding {
                        location: ctx.location(h.module, ty),
                        ..ctx.endpoint_finding(i, RULE, sev, format!("{}: {why}", route(ctx, i)))
                    });
                }
                Verdict::Unknown if worst == Verdict::Guarded => worst = Verdict::Unknown,
                _ => {}
            }
            reasons.push(why);
        }
        if !reasons.is_empty() {
            out.verdict(i, RULE, worst, reasons.join("; "));
        }
    }
}
