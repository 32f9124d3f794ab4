//! Expansion of a module's own `macro_rules!` invocations at item level
//! (`api_routes! { ROUTE_KB => "/kb/{slug}", }` defining the path consts
//! a router registers), for the simple rules a path table uses: fragments
//! `ident`, `literal`, `tt`, and `expr`/`ty`/`path` up to the next literal
//! token; one level of `$( .. )` repetition. What does not match or does
//! not parse as items is left as the invocation it was (never a guess).

use std::collections::HashMap;

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};

/// One element of a matcher.
#[derive(Debug, Clone)]
enum Elem {
    /// A token to match as written (its text).
    Tok(String),
    /// `$name:kind`.
    Frag(String, String),
    /// `$( .. ) sep op`.
    Rep(Vec<Elem>, Option<String>),
    /// A delimited group of elements.
    Group(Delimiter, Vec<Elem>),
}

/// What a fragment name is bound to: one token run, or one per repetition.
#[derive(Debug, Clone)]
enum Bound {
    One(Vec<TokenTree>),
    Many(Vec<Vec<TokenTree>>),
}

type Rule = (Vec<Elem>, TokenStream);

/// The items of a module with its own `macro_rules!` invocations expanded
/// in place (the invocation is kept beside what it expands to).
#[must_use]
pub fn expand_items(items: Vec<syn::Item>) -> Vec<syn::Item> {
    let mut rules: HashMap<String, Vec<Rule>> = HashMap::new();
    for item in &items {
        if let syn::Item::Macro(m) = item
            && m.mac.path.is_ident("macro_rules")
            && let Some(name) = &m.ident
            && let Some(parsed) = parse_rules(m.mac.tokens.clone())
        {
            rules.insert(name.to_string(), parsed);
        }
    }
    if rules.is_empty() {
        return items;
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let expanded = match &item {
            syn::Item::Macro(m) if m.ident.is_none() => m
                .mac
                .path
                .get_ident()
                .and_then(|id| rules.get(&id.to_string()))
                .and_then(|rs| expand(rs, m.mac.tokens.clone())),
            _ => None,
        };
        out.push(item);
        if let Some(file) = expanded {
            out.extend(file.items);
        }
    }
    out
}

fn expand(rules: &[Rule], input: TokenStream) -> Option<syn::File> {
    let input: Vec<TokenTree> = input.into_iter().collect();
    rules.iter().find_map(|(matcher, body)| {
        let mut bound = HashMap::new();
        let used = match_seq(matcher, &input, &mut bound)?;
        if used != input.len() {
            return None;
        }
        let tokens = transcribe(body.clone(), &bound, None)?;
        syn::parse2::<syn::File>(tokens).ok()
    })
}

/// `(matcher) => { transcriber };` pairs.
fn parse_rules(tokens: TokenStream) -> Option<Vec<Rule>> {
    let toks: Vec<TokenTree> = tokens.into_iter().collect();
    let mut rules = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let TokenTree::Group(m) = &toks[i] else {
            return None;
        };
        let arrow = (toks.get(i + 1), toks.get(i + 2));
        let (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) = arrow else {
            return None;
        };
        if a.as_char() != '=' || b.as_char() != '>' {
            return None;
        }
        let Some(TokenTree::Group(body)) = toks.get(i + 3) else {
            return None;
        };
        rules.push((parse_matcher(m.stream())?, body.stream()));
        i += 4;
        if matches!(toks.get(i), Some(TokenTree::Punct(p)) if p.as_char() == ';') {
            i += 1;
        }
    }
    Some(rules)
}

fn parse_matcher(tokens: TokenStream) -> Option<Vec<Elem>> {
    let toks: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            TokenTree::Punct(p) if p.as_char() == '$' => match toks.get(i + 1)? {
                TokenTree::Ident(name) => {
                    let colon =
                        matches!(toks.get(i + 2), Some(TokenTree::Punct(c)) if c.as_char() == ':');
                    let Some(TokenTree::Ident(kind)) = toks.get(i + 3) else {
                        return None;
                    };
                    if !colon {
                        return None;
                    }
                    out.push(Elem::Frag(name.to_string(), kind.to_string()));
                    i += 4;
                }
                TokenTree::Group(g) if g.delimiter() == Delimiter::Parenthesis => {
                    let inner = parse_matcher(g.stream())?;
                    if inner.iter().any(|e| matches!(e, Elem::Rep(..))) {
                        return None; // nested repetition: not expanded
                    }
                    i += 2;
                    let mut sep = None;
                    let op = |t: Option<&TokenTree>| matches!(t, Some(TokenTree::Punct(p)) if matches!(p.as_char(), '*' | '+' | '?'));
                    if !op(toks.get(i)) {
                        sep = Some(toks.get(i)?.to_string());
                        i += 1;
                    }
                    if !op(toks.get(i)) {
                        return None;
                    }
                    i += 1;
                    out.push(Elem::Rep(inner, sep));
                }
                _ => return None,
            },
            TokenTree::Group(g) => {
                out.push(Elem::Group(g.delimiter(), parse_matcher(g.stream())?));
                i += 1;
            }
            t => {
                out.push(Elem::Tok(t.to_string()));
                i += 1;
            }
        }
    }
    Some(out)
}

/// Matches elements against tokens from the start; how many tokens they
/// took.
fn match_seq(
    elems: &[Elem],
    toks: &[TokenTree],
    bound: &mut HashMap<String, Bound>,
) -> Option<usize> {
    let mut at = 0;
    for (k, elem) in elems.iter().enumerate() {
        match elem {
            Elem::Tok(t) => {
                if toks.get(at)?.to_string() != *t {
                    return None;
                }
                at += 1;
            }
            Elem::Group(d, inner) => {
                let TokenTree::Group(g) = toks.get(at)? else {
                    return None;
                };
                if g.delimiter() != *d {
                    return None;
                }
                let sub: Vec<TokenTree> = g.stream().into_iter().collect();
                if match_seq(inner, &sub, bound)? != sub.len() {
                    return None;
                }
                at += 1;
            }
            Elem::Frag(name, kind) => {
                let n = match kind.as_str() {
                    "ident" => usize::from(matches!(toks.get(at)?, TokenTree::Ident(_))),
                    "literal" => match toks.get(at)? {
                        TokenTree::Literal(_) => 1,
                        TokenTree::Punct(p)
                            if p.as_char() == '-'
                                && matches!(toks.get(at + 1), Some(TokenTree::Literal(_))) =>
                        {
                            2
                        }
                        _ => 0,
                    },
                    "tt" => usize::from(toks.get(at).is_some()),
                    "expr" | "ty" | "path" => {
                        // Up to the next literal token of the matcher.
                        let stop = match elems.get(k + 1) {
                            Some(Elem::Tok(t)) => Some(t.clone()),
                            _ => None,
                        };
                        let rest = &toks[at..];
                        match &stop {
                            Some(t) => rest.iter().position(|x| x.to_string() == *t)?,
                            None => rest.len(),
                        }
                    }
                    _ => 0,
                };
                if n == 0 {
                    return None;
                }
                bound.insert(name.clone(), Bound::One(toks[at..at + n].to_vec()));
                at += n;
            }
            Elem::Rep(inner, sep) => {
                let mut runs: Vec<HashMap<String, Bound>> = Vec::new();
                loop {
                    let mut start = at;
                    if !runs.is_empty()
                        && let Some(s) = sep
                    {
                        if toks.get(at).map(ToString::to_string).as_deref() != Some(s.as_str()) {
                            break;
                        }
                        start += 1;
                    }
                    if start >= toks.len() {
                        break;
                    }
                    let mut b = HashMap::new();
                    match match_seq(inner, &toks[start..], &mut b) {
                        Some(n) if n > 0 => {
                            runs.push(b);
                            at = start + n;
                        }
                        _ => break,
                    }
                }
                let mut names: Vec<String> = Vec::new();
                frag_names(inner, &mut names);
                for name in names {
                    let seq = runs
                        .iter()
                        .map(|r| match r.get(&name) {
                            Some(Bound::One(t)) => t.clone(),
                            _ => Vec::new(),
                        })
                        .collect();
                    bound.insert(name, Bound::Many(seq));
                }
            }
        }
    }
    Some(at)
}

fn frag_names(elems: &[Elem], out: &mut Vec<String>) {
    for e in elems {
        match e {
            Elem::Frag(n, _) => out.push(n.clone()),
            Elem::Group(_, inner) | Elem::Rep(inner, _) => frag_names(inner, out),
            Elem::Tok(_) => {}
        }
    }
}

/// The transcriber with its fragments replaced; `run` is the repetition
/// being written, if any.
fn transcribe(
    body: TokenStream,
    bound: &HashMap<String, Bound>,
    run: Option<usize>,
) -> Option<TokenStream> {
    let toks: Vec<TokenTree> = body.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            TokenTree::Punct(p) if p.as_char() == '$' => match toks.get(i + 1)? {
                TokenTree::Ident(name) if name == "crate" => {
                    out.push(TokenTree::Ident(Ident::new("crate", Span::call_site())));
                    i += 2;
                }
                TokenTree::Ident(name) => {
                    match (bound.get(&name.to_string())?, run) {
                        (Bound::One(t), _) => out.extend(t.iter().cloned()),
                        (Bound::Many(seq), Some(r)) => out.extend(seq.get(r)?.iter().cloned()),
                        (Bound::Many(_), None) => return None,
                    }
                    i += 2;
                }
                TokenTree::Group(g) if g.delimiter() == Delimiter::Parenthesis => {
                    if run.is_some() {
                        return None; // nested repetition
                    }
                    i += 2;
                    let mut sep = None;
                    let op = |t: Option<&TokenTree>| matches!(t, Some(TokenTree::Punct(p)) if matches!(p.as_char(), '*' | '+' | '?'));
                    if !op(toks.get(i)) {
                        sep = toks.get(i).cloned();
                        i += 1;
                    }
                    if !op(toks.get(i)) {
                        return None;
                    }
                    i += 1;
                    let mut names = Vec::new();
                    names_in(g.stream(), &mut names);
                    let count = names
                        .iter()
                        .filter_map(|n| match bound.get(n) {
                            Some(Bound::Many(seq)) => Some(seq.len()),
                            _ => None,
                        })
                        .max()?;
                    for r in 0..count {
                        if r > 0
                            && let Some(s) = &sep
                        {
                            out.push(s.clone());
                        }
                        out.extend(transcribe(g.stream(), bound, Some(r))?);
                    }
                }
                _ => return None,
            },
            TokenTree::Group(g) => {
                let inner = transcribe(g.stream(), bound, run)?;
                let mut ng = Group::new(g.delimiter(), inner);
                ng.set_span(g.span());
                out.push(TokenTree::Group(ng));
                i += 1;
            }
            t => {
                out.push(t.clone());
                i += 1;
            }
        }
    }
    Some(out.into_iter().collect())
}

fn names_in(tokens: TokenStream, out: &mut Vec<String>) {
    let toks: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, t) in toks.iter().enumerate() {
        match t {
            TokenTree::Punct(p) if p.as_char() == '$' => {
                if let Some(TokenTree::Ident(n)) = toks.get(i + 1) {
                    out.push(n.to_string());
                }
            }
            TokenTree::Group(g) => names_in(g.stream(), out),
            _ => {}
        }
    }
}
