//! String values of route paths: literals, consts, `format!` over them,
//! and locals or fn parameters holding such a value
//! (`let prefix = format!("{base}/v1"); .route(&format!("{prefix}/stats"), ..)`).

use super::*;

/// How deep `format!` arguments are followed.
const DEPTH: usize = 8;

impl Discovery<'_, '_> {
    /// The string an expression evaluates to, where every part of it is
    /// known; `None` for anything read at run time.
    pub(super) fn str_expr(&self, frame: &Frame, e: &syn::Expr) -> Option<String> {
        self.str_at(frame, e, 0)
    }

    fn str_at(&self, frame: &Frame, e: &syn::Expr, depth: usize) -> Option<String> {
        if depth > DEPTH {
            return None;
        }
        match e {
            syn::Expr::Reference(r) => self.str_at(frame, &r.expr, depth),
            syn::Expr::Paren(p) => self.str_at(frame, &p.expr, depth),
            syn::Expr::Group(g) => self.str_at(frame, &g.expr, depth),
            syn::Expr::Path(p) if p.qself.is_none() => {
                if let Some(id) = p.path.get_ident()
                    && let Some(v) = frame.locals.get(&id.to_string())
                {
                    // A local shadows a const of the same name.
                    return match v {
                        Val::Str(s) => Some(s.clone()),
                        _ => None,
                    };
                }
                self.syms.str_value(frame.module, e, 0)
            }
            syn::Expr::Macro(m) if m.mac.path.is_ident("format") => {
                self.format(frame, &m.mac, depth, false).map(|(_, s)| s)
            }
            // `s.to_string()`, `s.to_owned()`, `s.into()`, `s.as_str()`.
            syn::Expr::MethodCall(mc)
                if mc.args.is_empty()
                    && matches!(
                        mc.method.to_string().as_str(),
                        "to_string" | "to_owned" | "into" | "as_str" | "clone"
                    ) =>
            {
                self.str_at(frame, &mc.receiver, depth + 1)
            }
            // `String::from(s)`.
            syn::Expr::Call(c) if c.args.len() == 1 => {
                let syn::Expr::Path(f) = &*c.func else {
                    return None;
                };
                let segs: Vec<String> = f
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                (segs == ["String", "from"])
                    .then(|| self.str_at(frame, &c.args[0], depth + 1))
                    .flatten()
            }
            _ => self.syms.str_value(frame.module, e, 0),
        }
    }

    /// A path whose leading piece is read at run time and the rest known:
    /// `format!("{}api/v1", cfg.base_path)` is `("/api/v1", "cfg.base_path")`,
    /// the path under that prefix and the prefix's expression. The rest is
    /// what the service answers under whatever the prefix is set to.
    pub(super) fn runtime_prefixed(
        &self,
        frame: &Frame,
        e: &syn::Expr,
    ) -> Option<(String, String)> {
        match e {
            syn::Expr::Reference(r) => self.runtime_prefixed(frame, &r.expr),
            syn::Expr::Paren(p) => self.runtime_prefixed(frame, &p.expr),
            syn::Expr::Group(g) => self.runtime_prefixed(frame, &g.expr),
            syn::Expr::Macro(m) if m.mac.path.is_ident("format") => {
                let (lead, rest) = self.format(frame, &m.mac, 0, true)?;
                let path = format!("/{}", rest.trim_start_matches('/'));
                Some((path, lead?))
            }
            _ => None,
        }
    }

    /// A nest prefix read wholly at run time: a local or parameter
    /// (`&prefix`), a field (`cfg.api_prefix`) or a method call on one
    /// (`prefix.as_str()`), never a const or a fn call. Its text, as
    /// written: the nested routes are answered under whatever it holds.
    pub(super) fn runtime_value(&self, frame: &Frame, e: &syn::Expr) -> Option<String> {
        fn root(e: &syn::Expr) -> Option<&syn::Ident> {
            match e {
                syn::Expr::Reference(r) => root(&r.expr),
                syn::Expr::Paren(p) => root(&p.expr),
                syn::Expr::Group(g) => root(&g.expr),
                syn::Expr::Field(f) => root(&f.base),
                syn::Expr::MethodCall(m) => root(&m.receiver),
                syn::Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
                _ => None,
            }
        }
        let id = root(e)?.to_string();
        let lower = id
            .chars()
            .next()
            .is_some_and(|c| c.is_lowercase() || c == '_');
        let known = match frame.locals.get(&id) {
            Some(Val::Str(_)) => true,
            Some(_) => false,
            None => self.syms.str_value(frame.module, e, 0).is_some(),
        };
        (lower && !known).then(|| text(e))
    }

    /// `format!("lit", args..)` with `{}`, `{0}`, `{name}` pieces and no
    /// format specs, every argument itself a known string. With `lead`,
    /// the first piece may be unknown when the string starts with it: it
    /// is then left out and its expression returned beside the rest.
    fn format(
        &self,
        frame: &Frame,
        mac: &syn::Macro,
        depth: usize,
        lead: bool,
    ) -> Option<(Option<String>, String)> {
        use syn::parse::Parser as _;
        let args = syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated
            .parse2(mac.tokens.clone())
            .ok()?;
        let mut args = args.iter();
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(fmt),
            ..
        }) = args.next()?
        else {
            return None;
        };
        let mut positional = Vec::new();
        let mut named = HashMap::new();
        for a in args {
            match a {
                syn::Expr::Assign(asg) => {
                    let syn::Expr::Path(p) = &*asg.left else {
                        return None;
                    };
                    named.insert(p.path.get_ident()?.to_string(), &*asg.right);
                }
                other => positional.push(other),
            }
        }
        let fmt = fmt.value();
        let mut out = String::new();
        let mut lead_piece = None;
        let mut next = 0;
        let mut chars = fmt.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    out.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    out.push('}');
                }
                '{' => {
                    let mut piece = String::new();
                    loop {
                        match chars.next()? {
                            '}' => break,
                            ch => piece.push(ch),
                        }
                    }
                    if piece.contains(':') {
                        return None; // a format spec: not a plain string
                    }
                    let first = out.is_empty() && lead_piece.is_none();
                    let arg = if piece.is_empty() {
                        let a = (*positional.get(next)?).clone();
                        next += 1;
                        a
                    } else if let Ok(i) = piece.parse::<usize>() {
                        (*positional.get(i)?).clone()
                    } else if let Some(a) = named.get(&piece) {
                        (*a).clone()
                    } else {
                        // An inline `{name}`: a local, a parameter or a const.
                        syn::parse_str::<syn::Expr>(&piece).ok()?
                    };
                    match self.str_at(frame, &arg, depth + 1) {
                        Some(value) => out.push_str(&value),
                        None if lead && first => lead_piece = Some(text(&arg)),
                        None => return None,
                    }
                }
                '}' => return None,
                ch => out.push(ch),
            }
        }
        Some((lead_piece, out))
    }
}
