//! The modules of src/ depend on each other in one direction only: no two of them, neither
//! inside the other, reach each other, directly or round a longer loop. A module and its own
//! submodules may (a trait in `db/mod.rs`, its implementations in `db/postgres.rs`).
//!
//! The sources are read as Rust tokens: `crate::…` and `super::…` paths count, with their
//! `{…}` groups; comments, strings and test code (`#[cfg(test)]` items) do not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// A module by its path below the crate root: `["seed", "fixture"]`; the root is `[]`.
type Module = Vec<String>;

#[test]
fn no_two_modules_of_src_depend_on_each_other() {
    let graph = Graph::of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    // The scan sees real dependencies; without them an empty answer would prove nothing.
    for (from, to) in [
        ("db", "config"),
        ("seed::fixture", "seed::spc_config"),
        ("db::postgres", "schema"),
    ] {
        assert!(graph.depends(from, to), "`{from}` is read to use `{to}`");
    }
    let loops = graph.loops();
    assert!(
        loops.is_empty(),
        "modules that depend on each other: {}",
        loops.join("; ")
    );
}

#[test]
fn a_loop_through_use_groups_and_longer_paths_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod a; pub mod b; pub mod c; pub mod d;");
    // a → b::inner through a use group, b::inner → c through `super::super`, c → a inline:
    // one loop of three. b and b::inner use each other, as nesting does.
    write(
        "a.rs",
        "use crate::{b::{self, inner::h}, d};\npub fn f() { h() }",
    );
    write(
        "b/mod.rs",
        "pub mod inner;\npub struct Thing;\nfn g() { inner::h(); }",
    );
    write(
        "b/inner.rs",
        "use super::super::c::k;\nuse super::Thing;\npub fn h() { k() }",
    );
    write("c.rs", "pub fn k() { crate::a::f() }");
    // d only uses a in its tests, and a comment or a string does not count.
    write(
        "d.rs",
        "// crate::a::f()\nfn s() -> &'static str { \"crate::a\" }\n\
         #[cfg(test)]\nmod tests { use crate::a::f; }",
    );
    let graph = Graph::of(dir.path());
    assert!(graph.depends("a", "b") && graph.depends("a", "d"));
    assert!(!graph.depends("b::inner", "b"));
    assert!(!graph.depends("d", "a"));
    assert_eq!(graph.loops(), ["a, b::inner, c"]);
}

/// Which module uses which, read from the sources below a crate's `src/`.
struct Graph {
    uses: BTreeMap<Module, BTreeSet<Module>>,
}

impl Graph {
    fn of(src: &Path) -> Graph {
        let files = rust_files(src);
        let modules: BTreeSet<Module> = files.iter().map(|(module, _)| module.clone()).collect();
        let mut uses = BTreeMap::new();
        for (module, path) in &files {
            let text = std::fs::read_to_string(path).unwrap();
            let tokens: TokenStream = text
                .parse()
                .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
            let mut paths = Vec::new();
            collect_paths(tokens, &mut paths);
            let parent = &module[..module.len().saturating_sub(1)];
            let targets: BTreeSet<Module> = paths
                .iter()
                .filter_map(|path| resolve(parent, path, &modules))
                .filter(|target| !nested(module, target))
                .collect();
            uses.insert(module.clone(), targets);
        }
        Graph { uses }
    }

    fn depends(&self, from: &str, to: &str) -> bool {
        let name = |s: &str| -> Module { s.split("::").map(str::to_string).collect() };
        self.uses
            .get(&name(from))
            .is_some_and(|targets| targets.contains(&name(to)))
    }

    /// Every set of modules that reach each other, as "a, b, c" with names sorted.
    fn loops(&self) -> Vec<String> {
        let reach: BTreeMap<&Module, BTreeSet<&Module>> =
            self.uses.keys().map(|m| (m, self.reachable(m))).collect();
        let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
        for (module, reached) in &reach {
            let members: Vec<String> = reached
                .iter()
                .filter(|other| reach.get(*other).is_some_and(|back| back.contains(module)))
                .map(|m| m.join("::"))
                .collect();
            if members.len() > 1 {
                found.insert(members);
            }
        }
        found
            .into_iter()
            .map(|members| members.join(", "))
            .collect()
    }

    fn reachable(&self, from: &Module) -> BTreeSet<&Module> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&Module> = vec![from];
        while let Some(module) = todo.pop() {
            for next in self.uses.get(module).into_iter().flatten() {
                if seen.insert(next) {
                    todo.push(next);
                }
            }
        }
        seen
    }
}

/// Every `.rs` file of the library, with the module it holds.
fn rust_files(src: &Path) -> Vec<(Module, PathBuf)> {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut module: Module = relative
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            // main.rs is the binary, a crate of its own that uses the library by name.
            if path.extension().is_none_or(|e| e != "rs") || module == ["main"] {
                continue;
            }
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            files.push((module, path));
        }
    }
    files
}

/// Collects every path that starts with `crate` or `super`, as its segments, with use groups
/// expanded into one path per item.
fn collect_paths(tokens: TokenStream, paths: &mut Vec<Vec<String>>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Punct(p) if p.as_char() == '#' && is_cfg_test(tokens.get(i + 1)) => {
                i = end_of_item(&tokens, i + 2);
                continue;
            }
            TokenTree::Ident(ident)
                if (ident == "crate" || ident == "super") && is_separator(&tokens, i + 1) =>
            {
                let (found, next) = read_path(&tokens, i, vec![ident.to_string()]);
                paths.extend(found);
                i = next;
                continue;
            }
            TokenTree::Group(group) => collect_paths(group.stream(), paths),
            _ => {}
        }
        i += 1;
    }
}

/// `::` at `i`.
fn is_separator(tokens: &[TokenTree], i: usize) -> bool {
    let colon =
        |t: Option<&TokenTree>| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == ':');
    colon(tokens.get(i)) && colon(tokens.get(i + 1))
}

/// Reads `prefix :: seg :: seg …` from `i` (the prefix's last token), expanding a trailing
/// `{…}` group into one path per item; returns the paths and the index after them.
fn read_path(tokens: &[TokenTree], i: usize, mut prefix: Vec<String>) -> (Vec<Vec<String>>, usize) {
    let mut i = i + 1;
    while is_separator(tokens, i) {
        match tokens.get(i + 2) {
            Some(TokenTree::Ident(segment)) => {
                prefix.push(segment.to_string());
                i += 3;
            }
            Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => {
                let items: Vec<TokenTree> = group.stream().into_iter().collect();
                let mut paths = Vec::new();
                for item in items.split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
                {
                    match item.first() {
                        // `self` in a group names the prefix itself.
                        Some(TokenTree::Ident(first)) if first == "self" => {
                            paths.push(prefix.clone())
                        }
                        Some(TokenTree::Ident(first)) => {
                            let mut start = prefix.clone();
                            start.push(first.to_string());
                            paths.extend(read_path(item, 0, start).0);
                        }
                        _ => {}
                    }
                }
                return (paths, i + 3);
            }
            _ => break,
        }
    }
    (vec![prefix], i)
}

/// The module a path names: its longest prefix that is a module of the crate. `parent` is
/// what `super` names.
fn resolve(parent: &[String], path: &[String], modules: &BTreeSet<Module>) -> Option<Module> {
    let mut rest = path;
    let mut base = match rest.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        Some("super") => parent.to_vec(),
        _ => return None,
    };
    rest = &rest[1..];
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    for segment in rest {
        base.push(segment.clone());
        if !modules.contains(&base) {
            base.pop();
            break;
        }
    }
    Some(base)
}

/// A module and one inside it (or the same module): their mutual use is how Rust nests.
fn nested(a: &Module, b: &Module) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn is_cfg_test(token: Option<&TokenTree>) -> bool {
    matches!(token, Some(TokenTree::Group(g))
        if g.delimiter() == Delimiter::Bracket
            && g.stream().to_string().replace(' ', "") == "cfg(test)")
}

/// The index after the item that starts at `i`: after its `{…}` body or its `;`.
fn end_of_item(tokens: &[TokenTree], mut i: usize) -> usize {
    while let Some(token) = tokens.get(i) {
        i += 1;
        match token {
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => break,
            TokenTree::Punct(p) if p.as_char() == ';' => break,
            _ => {}
        }
    }
    i
}
