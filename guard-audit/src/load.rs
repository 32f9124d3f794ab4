//! Workspace loading: packages from `cargo metadata`, their `path =`
//! dependencies, each target's module tree, every file parsed by `syn`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use cargo_metadata::MetadataCommand;

/// One module: a file or an inline `mod x { }`.
#[derive(Debug)]
pub struct Module {
    /// The crate's name as code spells it (`projects_api`).
    pub krate: String,
    /// The path below the crate root (`["accounts"]`; empty for the root).
    pub path: Vec<String>,
    /// The file the module's items are in.
    pub file: PathBuf,
    /// The module's items.
    pub items: Vec<syn::Item>,
    /// The `#[cfg(..)]` attributes on its `mod` declaration and its
    /// ancestors' (outermost first): what it is compiled under.
    pub cfgs: Vec<syn::Attribute>,
}

/// A file that could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The file.
    pub file: PathBuf,
    /// The read or parse error.
    pub error: String,
}

/// Every module of every loaded crate, and the files that did not load.
#[derive(Debug, Default)]
pub struct Workspace {
    /// The modules, crate roots first within each crate.
    pub modules: Vec<Module>,
    /// Files not read or not parsed.
    pub gaps: Vec<Gap>,
    /// The directory paths are shown relative to.
    pub root: PathBuf,
    /// The crate names of the workspace members' targets (the code being
    /// scanned, as opposed to the dependencies loaded beside it).
    pub members: HashSet<String>,
}

/// Why the workspace could not be loaded at all.
#[derive(Debug)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

fn metadata(manifest: &Path) -> Result<cargo_metadata::Metadata, LoadError> {
    MetadataCommand::new()
        .manifest_path(manifest)
        .no_deps()
        .exec()
        .map_err(|e| LoadError(format!("cargo metadata {}: {e}", manifest.display())))
}

/// Loads the workspace of `manifest`: its members and, transitively, their
/// `path =` dependencies and published siblings (see [`crate::siblings`])
/// from cargo's registry cache.
pub fn load(manifest: &Path) -> Result<Workspace, LoadError> {
    load_with(manifest, &crate::siblings::registry_dirs())
}

/// [`load`], the published siblings looked for in these registry source
/// directories instead of cargo's.
pub fn load_with(manifest: &Path, registry: &[PathBuf]) -> Result<Workspace, LoadError> {
    let meta = metadata(manifest)?;
    let mut ws = Workspace {
        root: meta.workspace_root.clone().into_std_path_buf(),
        ..Workspace::default()
    };
    let members: HashSet<_> = meta.workspace_members.iter().collect();
    let mut queue: VecDeque<cargo_metadata::Package> = meta
        .packages
        .iter()
        .filter(|p| members.contains(&p.id))
        .cloned()
        .collect();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    while let Some(package) = queue.pop_front() {
        let manifest_path = package.manifest_path.clone().into_std_path_buf();
        if !seen.insert(manifest_path.clone()) {
            continue;
        }
        let member = members.contains(&package.id);
        let path_deps = package
            .dependencies
            .iter()
            .filter_map(|dep| dep.path.as_ref())
            .map(|dir| dir.join("Cargo.toml").into_std_path_buf());
        let siblings = crate::siblings::manifests_in(&package, registry);
        for dep_manifest in path_deps.chain(siblings) {
            if seen.contains(&dep_manifest) {
                continue;
            }
            match metadata(&dep_manifest) {
                Ok(m) => {
                    if let Some(p) = m
                        .packages
                        .into_iter()
                        .find(|p| p.manifest_path.as_std_path() == dep_manifest)
                    {
                        queue.push_back(p);
                    }
                }
                Err(e) => ws.gaps.push(Gap {
                    file: dep_manifest,
                    error: e.0,
                }),
            }
        }
        let lib_name = package
            .targets
            .iter()
            .find(|t| t.is_lib() || t.is_proc_macro())
            .map(|t| t.name.replace('-', "_"));
        for target in &package.targets {
            let lib = target.is_lib() || target.is_proc_macro();
            if !(lib || target.is_bin()) {
                continue;
            }
            let mut krate = target.name.replace('-', "_");
            // A bin named like its package's lib (`rustic-server` beside
            // `rustic_server`) is another crate: inside it that name means
            // the lib, so the bin's modules must not shadow the lib's.
            if !lib && lib_name.as_deref() == Some(krate.as_str()) {
                krate.push_str("[bin]");
            }
            if member {
                ws.members.insert(krate.clone());
            }
            load_file(
                &mut ws,
                &mut Vec::new(),
                &krate,
                Vec::new(),
                target.src_path.as_std_path(),
                true,
            );
        }
    }
    inherit_cfgs(&mut ws);
    Ok(ws)
}

/// The directory a file's `mod x;` children live in.
fn child_dir(file: &Path, owns_dir: bool) -> PathBuf {
    let parent = file.parent().unwrap_or(Path::new("")).to_path_buf();
    if owns_dir {
        parent
    } else {
        let stem = file
            .file_stem()
            .map(|s| s.to_os_string())
            .unwrap_or_default();
        parent.join(stem)
    }
}

/// The largest source file read (bytes); a larger one is not parsed.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// The deepest bracket nesting (`(`, `[`, `{` groups) of a file that is
/// parsed: `syn`'s parser recurses once or more per level.
pub const MAX_GROUP_DEPTH: usize = 256;

/// The deepest syntax-tree nesting (expressions, types, patterns, blocks,
/// items: a 1000-call method chain is 1000 deep) of a file that is
/// scanned: the scanner's own walks recurse per level.
pub const MAX_TREE_DEPTH: usize = 4000;

/// The longest run of consecutive punctuation tokens of a file that is
/// parsed: prefix operators (`!!!!x`, `&&&&x`) and closing generics
/// (`Vec<Vec<..>>`) are parsed recursively, one level per token.
pub const MAX_PUNCT_RUN: usize = 1024;

/// Reads a source file: only a regular file (a FIFO or a device would
/// block or never end), at most [`MAX_FILE_BYTES`]. The error is the
/// reason, `read: ..`.
///
/// # Errors
///
/// The file is missing, unreadable, not a regular file, too large, or not
/// UTF-8.
pub fn read_source(file: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(file).map_err(|e| format!("read: {e}"))?;
    if !meta.is_file() {
        return Err("read: not a regular file".to_owned());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "read: {} bytes, larger than the {MAX_FILE_BYTES}-byte limit",
            meta.len()
        ));
    }
    std::fs::read_to_string(file).map_err(|e| format!("read: {e}"))
}

/// The deepest group nesting of a token stream and its longest run of
/// consecutive punctuation tokens, walked without recursion.
fn token_depths(tokens: proc_macro2::TokenStream) -> (usize, usize) {
    let mut stack = vec![tokens.into_iter()];
    let (mut max, mut run, mut max_run) = (0, 0, 0);
    while let Some(top) = stack.last_mut() {
        let next = top.next();
        if matches!(next, Some(proc_macro2::TokenTree::Punct(_))) {
            run += 1;
            max_run = max_run.max(run);
        } else {
            run = 0;
        }
        match next {
            Some(proc_macro2::TokenTree::Group(g)) => {
                stack.push(g.stream().into_iter());
                max = max.max(stack.len() - 1);
            }
            Some(_) => {}
            None => {
                stack.pop();
            }
        }
    }
    (max, max_run)
}

/// Whether a syntax tree nests deeper than `limit` (the walk stops
/// descending at the limit, so its own recursion is bounded).
fn deeper_than(ast: &syn::File, limit: usize) -> bool {
    use syn::visit::Visit;
    struct Depth {
        depth: usize,
        limit: usize,
        over: bool,
    }
    impl Depth {
        fn enter(&mut self) -> bool {
            self.depth += 1;
            if self.depth > self.limit {
                self.over = true;
            }
            !self.over
        }
    }
    // Each node kind that can nest without bound, counted on the way in
    // and out.
    macro_rules! bounded {
        ($($visit:ident($node:ty) => $walk:path;)*) => {
            impl<'a> Visit<'a> for Depth {
                $(fn $visit(&mut self, node: &'a $node) {
                    if self.enter() {
                        $walk(self, node);
                    }
                    self.depth -= 1;
                })*
            }
        };
    }
    bounded! {
        visit_expr(syn::Expr) => syn::visit::visit_expr;
        visit_type(syn::Type) => syn::visit::visit_type;
        visit_pat(syn::Pat) => syn::visit::visit_pat;
        visit_block(syn::Block) => syn::visit::visit_block;
        visit_item(syn::Item) => syn::visit::visit_item;
        visit_generic_argument(syn::GenericArgument) => syn::visit::visit_generic_argument;
    }
    let mut d = Depth {
        depth: 0,
        limit,
        over: false,
    };
    d.visit_file(ast);
    d.over
}

/// Parses a source text, or says why not: a lexical error, bracket
/// nesting deeper than [`MAX_GROUP_DEPTH`], a punctuation run longer than
/// [`MAX_PUNCT_RUN`], a syntax error, or a tree
/// deeper than [`MAX_TREE_DEPTH`].
fn parse_source(text: &str) -> Result<syn::File, String> {
    // As `syn::parse_file`: a byte-order mark is dropped, a `#!` line that
    // does not start an inner attribute (`#![..]`) is the shebang (its
    // newline is kept, so line numbers stay the file's).
    let mut content = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut shebang = None;
    if content.starts_with("#!") && !content[2..].trim_start().starts_with('[') {
        let end = content.find('\n').unwrap_or(content.len());
        shebang = Some(content[..end].to_owned());
        content = &content[end..];
    }
    let tokens: proc_macro2::TokenStream =
        content.parse().map_err(|e: proc_macro2::LexError| {
            let at = e.span().start();
            format!("parse: {e} (line {}, column {})", at.line, at.column + 1)
        })?;
    let (depth, run) = token_depths(tokens.clone());
    if depth > MAX_GROUP_DEPTH {
        return Err(format!(
            "parse: brackets nested {depth} deep, deeper than the limit of {MAX_GROUP_DEPTH}"
        ));
    }
    if run > MAX_PUNCT_RUN {
        return Err(format!(
            "parse: {run} punctuation tokens in a row, more than the limit of {MAX_PUNCT_RUN}"
        ));
    }
    let mut ast: syn::File = syn::parse2(tokens).map_err(|e| {
        let at = e.span().start();
        format!("parse: {e} (line {}, column {})", at.line, at.column + 1)
    })?;
    ast.shebang = shebang;
    if deeper_than(&ast, MAX_TREE_DEPTH) {
        return Err(format!(
            "parse: syntax tree nested deeper than the limit of {MAX_TREE_DEPTH}"
        ));
    }
    Ok(ast)
}

fn load_file(
    ws: &mut Workspace,
    loading: &mut Vec<PathBuf>,
    krate: &str,
    path: Vec<String>,
    file: &Path,
    root: bool,
) {
    // A `#[path]` that leads back to a file being loaded (itself, or an
    // ancestor module's file) is a module cycle: rustc rejects it, and
    // following it would never end.
    let key = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    if loading.contains(&key) {
        ws.gaps.push(Gap {
            file: file.to_path_buf(),
            error: format!(
                "read: module cycle: `mod {}` loads a file that is already being loaded",
                path.last().map_or("", String::as_str)
            ),
        });
        return;
    }
    let parsed = read_source(file).and_then(|text| parse_source(&text));
    let ast = match parsed {
        Ok(ast) => ast,
        Err(error) => {
            ws.gaps.push(Gap {
                file: file.to_path_buf(),
                error,
            });
            return;
        }
    };
    let owns_dir = root || file.file_name().is_some_and(|n| n == "mod.rs");
    let dir = child_dir(file, owns_dir);
    loading.push(key);
    add_module(ws, loading, krate, path, file, ast.items, &dir);
    loading.pop();
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// `#[cfg(test)]`, or `#[cfg(all(test, ..))]` (`cfg(all(test, feature =
/// "metrics"))`): compiled only into the crate's own tests.
fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    fn needs_test(meta: &syn::Meta) -> bool {
        match meta {
            syn::Meta::Path(p) => p.is_ident("test"),
            syn::Meta::List(l) if l.path.is_ident("all") => l
                .parse_args_with(
                    syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
                )
                .is_ok_and(|items| items.iter().any(needs_test)),
            _ => false,
        }
    }
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.parse_args::<syn::Meta>().is_ok_and(|m| needs_test(&m))
    })
}

fn add_module(
    ws: &mut Workspace,
    loading: &mut Vec<PathBuf>,
    krate: &str,
    path: Vec<String>,
    file: &Path,
    items: Vec<syn::Item>,
    dir: &Path,
) {
    let items = include_items(ws, loading, file, items);
    let items = crate::macros::expand_items(target_alternatives(items));
    for item in &items {
        let syn::Item::Mod(m) = item else { continue };
        if is_cfg_test(&m.attrs) {
            // Test-only modules are not part of the served application.
            continue;
        }
        let name = m.ident.to_string();
        let mut child = path.clone();
        child.push(name.clone());
        match &m.content {
            Some((_, inner)) => {
                let inner_dir = match path_attr(&m.attrs) {
                    Some(p) => dir.join(p),
                    None => dir.join(syn::ext::IdentExt::unraw(&m.ident).to_string()),
                };
                add_module(ws, loading, krate, child, file, inner.clone(), &inner_dir);
            }
            None => {
                if let Some(p) = path_attr(&m.attrs) {
                    // `#[path]` is relative to the declaring file's directory
                    // (for a file that is not a mod.rs, its own directory).
                    let base = file.parent().unwrap_or(Path::new(""));
                    let target = if dir.starts_with(base) && dir != base {
                        dir.join(&p)
                    } else {
                        base.join(&p)
                    };
                    let target = if target.exists() {
                        target
                    } else {
                        base.join(&p)
                    };
                    load_file(ws, loading, krate, child, &target, false);
                    continue;
                }
                // `mod r#in;` is the file `in.rs`; the module path keeps
                // the raw spelling, as `use` paths write it.
                let file_name = syn::ext::IdentExt::unraw(&m.ident).to_string();
                let flat = dir.join(format!("{file_name}.rs"));
                let nested = dir.join(&file_name).join("mod.rs");
                // A link that does not resolve (a symlink loop, a dangling
                // link) is there: loading it reports the read error.
                let there = |p: &Path| p.exists() || p.symlink_metadata().is_ok();
                if there(&flat) {
                    load_file(ws, loading, krate, child, &flat, false);
                } else if there(&nested) {
                    load_file(ws, loading, krate, child, &nested, false);
                } else {
                    ws.gaps.push(Gap {
                        file: flat,
                        error: format!(
                            "read: `mod {name};` has neither {file_name}.rs nor {file_name}/mod.rs"
                        ),
                    });
                }
            }
        }
    }
    ws.modules.push(Module {
        krate: krate.to_owned(),
        path,
        file: file.to_path_buf(),
        items,
        cfgs: Vec::new(),
    });
}

/// Whether an item is an `include!(..)` invocation (`include!`,
/// `std::include!`, `core::include!`).
fn include_of(item: &syn::Item) -> Option<&syn::Macro> {
    let syn::Item::Macro(m) = item else {
        return None;
    };
    let last = m.mac.path.segments.last()?;
    (m.ident.is_none()
        && last.ident == "include"
        && (m.mac.path.segments.len() == 1
            || m.mac
                .path
                .segments
                .first()
                .is_some_and(|s| s.ident == "std" || s.ident == "core")))
    .then_some(&m.mac)
}

/// The items with each item-position `include!("file.rs")` followed: the
/// file (relative to the including file's directory, as rustc reads it)
/// is read and parsed and its items put after the invocation. One that
/// cannot be read or parsed is a [`Gap`]; so is one whose path is not a
/// string literal (`include!(concat!(env!("OUT_DIR"), ..))`, computed at
/// build time): the code it brings in is not seen.
fn include_items(
    ws: &mut Workspace,
    loading: &mut Vec<PathBuf>,
    file: &Path,
    items: Vec<syn::Item>,
) -> Vec<syn::Item> {
    if !items.iter().any(|i| include_of(i).is_some()) {
        return items;
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(mac) = include_of(&item) else {
            out.push(item);
            continue;
        };
        let line = mac.path.segments[0].ident.span().start().line;
        match mac.parse_body::<syn::LitStr>() {
            Ok(lit) => {
                let target = file.parent().unwrap_or(Path::new("")).join(lit.value());
                let key = std::fs::canonicalize(&target).unwrap_or_else(|_| target.clone());
                let parsed = if loading.contains(&key) {
                    Err("read: include cycle: the file is already being loaded".to_owned())
                } else {
                    read_source(&target).and_then(|text| parse_source(&text))
                };
                out.push(item);
                match parsed {
                    Ok(ast) => {
                        loading.push(key);
                        let inner = include_items(ws, loading, &target, ast.items);
                        loading.pop();
                        out.extend(inner);
                    }
                    Err(error) => ws.gaps.push(Gap {
                        file: target,
                        error,
                    }),
                }
            }
            Err(_) => {
                let tokens = mac.tokens.to_string();
                ws.gaps.push(Gap {
                    file: file.to_path_buf(),
                    error: format!(
                        "read: `include!({tokens})` (line {line}) not followed: its path is computed at build time, the code it includes is not read"
                    ),
                });
                out.push(item);
            }
        }
    }
    out
}

/// Of several same-named `mod` declarations (`#[cfg(unix)] mod imp;` and
/// `#[cfg(windows)] mod imp;`), keeps the one a Linux host compiles when
/// exactly one's cfgs say so, and drops the others: they would share one
/// module path, and their cfgs would be merged into a condition that never
/// holds. Without such a choice all are kept, as before.
fn target_alternatives(items: Vec<syn::Item>) -> Vec<syn::Item> {
    let mut names: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        if let syn::Item::Mod(m) = item {
            names.entry(m.ident.to_string()).or_default().push(i);
        }
    }
    let mut drop = HashSet::new();
    for alts in names.values().filter(|v| v.len() > 1) {
        let on: Vec<usize> = alts
            .iter()
            .copied()
            .filter(|&i| match &items[i] {
                syn::Item::Mod(m) => crate::target_cfg::attrs_on_linux(&m.attrs) == Some(true),
                _ => false,
            })
            .collect();
        if let [keep] = on.as_slice() {
            drop.extend(alts.iter().copied().filter(|i| i != keep));
        }
    }
    items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, item)| item)
        .collect()
}

/// Gives each module the `#[cfg]`s of its `mod` declaration and of its
/// ancestors'.
fn inherit_cfgs(ws: &mut Workspace) {
    let index: HashMap<(String, Vec<String>), usize> = ws
        .modules
        .iter()
        .enumerate()
        .map(|(i, m)| ((m.krate.clone(), m.path.clone()), i))
        .collect();
    for i in 0..ws.modules.len() {
        let krate = ws.modules[i].krate.clone();
        let mut path = ws.modules[i].path.clone();
        let mut cfgs = Vec::new();
        while let Some(name) = path.pop() {
            let Some(&parent) = index.get(&(krate.clone(), path.clone())) else {
                continue;
            };
            for item in &ws.modules[parent].items {
                if let syn::Item::Mod(m) = item
                    && m.ident == name
                {
                    let own = m.attrs.iter().filter(|a| a.path().is_ident("cfg")).cloned();
                    cfgs.splice(0..0, own);
                }
            }
        }
        ws.modules[i].cfgs = cfgs;
    }
}
