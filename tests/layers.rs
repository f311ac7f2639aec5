//! The top-level modules of `src/` import each other one way only (docs/architecture.md,
//! "Layers"). This test reads every source file, collects the `crate::<module>` paths each
//! top-level module uses, and fails on a cycle in that graph, naming it with a file and line
//! for every step, and when a ground-floor module imports anything else of the crate.
//!
//! Test code (`#[cfg(test)]` items and the files they declare) is left out: a unit test may
//! drive a lower module with a higher one, e.g. the checker's tests run the simulator to get
//! realistic events, without the library itself depending on it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Modules that import nothing else of the crate: everything may build on them.
const GROUND_FLOOR: &[&str] = &["base", "protocol", "json_message", "wording"];

/// Where a module refers to another: the first place found, for the failure message.
type Graph = BTreeMap<String, BTreeMap<String, String>>;
/// The first segment of a `crate::` path and its line.
type Reference = (String, usize);
/// A module declared without a body under `#[cfg(test)]`: its `#[path]`, if any, and name.
type TestModule = (Option<String>, String);

#[test]
fn top_level_modules_import_one_way() {
    let graph = module_graph();
    if let Some(cycle) = find_cycle(&graph) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|pair| {
                format!(
                    "  {} -> {} at {}",
                    pair[0], pair[1], graph[&pair[0]][&pair[1]]
                )
            })
            .collect();
        panic!(
            "the top-level modules import each other in a cycle: {}\n{}\n\
             move what both need below both (see docs/architecture.md, \"Layers\")",
            cycle.join(" -> "),
            steps.join("\n")
        );
    }
}

#[test]
fn the_ground_floor_imports_nothing_else_of_the_crate() {
    let graph = module_graph();
    for module in GROUND_FLOOR {
        let imports: Vec<String> = graph
            .get(*module)
            .into_iter()
            .flatten()
            .map(|(to, at)| format!("{to} at {at}"))
            .collect();
        assert!(
            imports.is_empty(),
            "`{module}` must import nothing else of the crate, but imports {}",
            imports.join(", ")
        );
    }
}

#[test]
fn the_reader_sees_grouped_imports_and_skips_tests_and_comments() {
    let text = "use crate::{a, b::{c, d}, e::f};\n\
                // use crate::g;\n\
                /* crate::h */\n\
                let s = \"crate::i\";\n\
                let c = '\"';\n\
                fn k() { crate :: j::call(); }\n\
                #[cfg(test)]\n\
                mod tests { use crate::l; }\n\
                #[cfg(test)]\n\
                mod more;\n\
                #[cfg(test)]\n\
                #[path = \"more_tests.rs\"]\n\
                mod elsewhere;\n\
                let lifetime: &'static str = \"é\"; let e = 'é'; crate::k::f();\n";
    let (references, test_modules) = crate_references(text);
    let names: Vec<&str> = references.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["a", "b", "e", "j", "k"]);
    assert_eq!(references[3].1, 6, "the line of `crate :: j`");
    assert_eq!(
        test_modules,
        [
            (None, "more".to_string()),
            (Some("more_tests.rs".to_string()), "elsewhere".to_string())
        ]
    );
}

#[test]
fn a_cycle_is_found_and_named() {
    fn edge(graph: &mut Graph, from: &str, to: &str) {
        graph
            .entry(from.into())
            .or_default()
            .insert(to.into(), String::new());
    }
    let mut graph = Graph::new();
    edge(&mut graph, "cli", "runner");
    edge(&mut graph, "runner", "render");
    edge(&mut graph, "render", "sim");
    assert_eq!(find_cycle(&graph), None);
    edge(&mut graph, "render", "runner");
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["runner".into(), "render".into(), "runner".into()])
    );
}

/// For every top-level module, the other top-level modules its non-test code refers to.
fn module_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = top_level_modules(&src);
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let test_files = test_only_files(&files);
    let mut graph = Graph::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = top_level_module_of(relative);
        if !modules.contains(&top) || test_files.contains(file) {
            continue;
        }
        let text = fs::read_to_string(file).unwrap();
        for (name, line) in crate_references(&text).0 {
            if name != top && modules.contains(&name) {
                let at = format!("src/{}:{line}", relative.display());
                graph
                    .entry(top.clone())
                    .or_default()
                    .entry(name)
                    .or_insert(at);
            }
        }
    }
    assert!(
        graph.len() > 5,
        "the reader found too few imports to be reading the sources: {graph:?}"
    );
    graph
}

/// The modules `lib.rs` declares.
fn top_level_modules(src: &Path) -> BTreeSet<String> {
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let rest = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("pub(crate) mod "))
                .or_else(|| line.strip_prefix("mod "))?;
            Some(rest.trim_end_matches(';').trim().to_string())
        })
        .collect();
    assert!(modules.contains("protocol"), "lib.rs declares {modules:?}");
    modules
}

fn source_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            source_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// `src/check/history.rs` belongs to `check`, `src/runner.rs` to `runner`.
fn top_level_module_of(relative: &Path) -> String {
    let first = relative.components().next().unwrap().as_os_str();
    let first = first.to_str().unwrap();
    first.strip_suffix(".rs").unwrap_or(first).to_string()
}

/// The files declared by a `#[cfg(test)] mod name;` (with or without `#[path]`), and the files
/// those declare in turn.
fn test_only_files(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut test_files = BTreeSet::new();
    for file in files {
        let text = fs::read_to_string(file).unwrap();
        let dir = file.parent().unwrap();
        let stem = file.file_stem().unwrap().to_str().unwrap();
        // A file `a/b.rs` keeps its child modules in `a/b/`; `mod.rs` and `lib.rs` in `a/`.
        let children = if stem == "mod" || stem == "lib" {
            dir.to_path_buf()
        } else {
            dir.join(stem)
        };
        for (path, name) in crate_references(&text).1 {
            match path {
                Some(path) => {
                    test_files.insert(dir.join(path));
                }
                None => {
                    test_files.insert(children.join(format!("{name}.rs")));
                    test_files.insert(children.join(&name).join("mod.rs"));
                }
            }
        }
    }
    // Everything under a test-only module is test code too.
    files
        .iter()
        .filter(|file| {
            test_files.iter().any(|test| {
                *file == test
                    || test.extension().is_some() && file.starts_with(test.with_extension(""))
            })
        })
        .cloned()
        .collect()
}

/// The first segment of every `crate::` path in `text` outside comments, strings and
/// `#[cfg(test)]` items, with its line; and the out-of-line modules declared under
/// `#[cfg(test)]`, as their `#[path]` (if any) and name.
fn crate_references(text: &str) -> (Vec<Reference>, Vec<TestModule>) {
    let code = blank_comments_and_strings(text);
    let bytes = code.as_bytes();
    let mut references = Vec::new();
    let mut test_modules = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if code[at..].starts_with("#[cfg(test)]") {
            let item = at + "#[cfg(test)]".len();
            let (end, module) = skip_item(&code, text, item);
            test_modules.extend(module);
            at = end;
            continue;
        }
        let starts_word = at == 0 || !is_ident(bytes[at - 1]);
        if starts_word && code[at..].starts_with("crate") && !is_ident_at(bytes, at + 5) {
            let mut next = skip_space(bytes, at + 5);
            if code[next..].starts_with("::") {
                next = skip_space(bytes, next + 2);
                let line = code[..at].matches('\n').count() + 1;
                for name in first_segments(&code, next) {
                    references.push((name, line));
                }
            }
            at = next.max(at + 5);
            continue;
        }
        at += 1;
    }
    (references, test_modules)
}

/// Skips the item starting at `from` (its attributes, then up to its `;` or its block).
/// Returns where it ends, and the module it declares without a body, if it does.
fn skip_item(code: &str, text: &str, from: usize) -> (usize, Option<TestModule>) {
    let bytes = code.as_bytes();
    let mut at = from;
    let mut path = None;
    loop {
        at = skip_space(bytes, at);
        if !code[at..].starts_with("#[") {
            break;
        }
        let end = at + code[at..].find(']').unwrap() + 1;
        // The attribute's string is blanked in `code`, so read it from `text`.
        if code[at..end].replace(' ', "").starts_with("#[path=") {
            let attribute = &text[at..end];
            let quoted = attribute.split('"').nth(1).unwrap();
            path = Some(quoted.to_string());
        }
        at = end;
    }
    let mut depth = 0usize;
    let start = at;
    while at < bytes.len() {
        match bytes[at] {
            b'{' => depth += 1,
            b'}' if depth <= 1 => return (at + 1, None),
            b'}' => depth -= 1,
            b';' if depth == 0 => {
                let head: Vec<&str> = code[start..at].split_whitespace().collect();
                let module = match head.as_slice() {
                    [.., "mod", name] => Some((path, name.to_string())),
                    _ => None,
                };
                return (at + 1, module);
            }
            _ => {}
        }
        at += 1;
    }
    (at, None)
}

/// The first segment of the path at `at`, or of each path in a `{...}` group.
fn first_segments(code: &str, at: usize) -> Vec<String> {
    let bytes = code.as_bytes();
    if bytes.get(at) != Some(&b'{') {
        return ident_at(code, at).into_iter().collect();
    }
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut expect_name = true;
    for (offset, byte) in bytes[at..].iter().enumerate() {
        match byte {
            b'{' => {
                depth += 1;
                expect_name = depth == 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => expect_name = true,
            byte if depth == 1 && expect_name && is_ident(*byte) => {
                names.extend(ident_at(code, at + offset));
                expect_name = false;
            }
            _ => {}
        }
    }
    names
}

fn ident_at(code: &str, at: usize) -> Option<String> {
    let bytes = code.as_bytes();
    let end = (at..bytes.len())
        .find(|&i| !is_ident(bytes[i]))
        .unwrap_or(bytes.len());
    (end > at).then(|| code[at..end].to_string())
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && bytes[at].is_ascii_whitespace() {
        at += 1;
    }
    at
}

fn is_ident(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn is_ident_at(bytes: &[u8], at: usize) -> bool {
    bytes.get(at).is_some_and(|&byte| is_ident(byte))
}

/// `text` with comments, string literals and character literals replaced by spaces (newlines
/// kept, so lines still count), so that only code is searched.
fn blank_comments_and_strings(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for byte in &mut out[from..to] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    };
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let end = if rest.starts_with(b"//") {
            at + rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())
        } else if rest.starts_with(b"/*") {
            block_comment_end(bytes, at)
        } else if (rest.starts_with(b"r\"") || rest.starts_with(b"r#"))
            && starts_raw_string(bytes, at)
        {
            raw_string_end(bytes, at)
        } else if rest[0] == b'"' {
            string_end(bytes, at)
        } else if rest[0] == b'\'' {
            char_literal_end(bytes, at)
        } else {
            at + 1
        };
        if end > at + 1 {
            blank(&mut out, at, end);
        }
        at = end;
    }
    String::from_utf8(out).unwrap()
}

/// Whether the `r` at `at` opens a raw string (`r"`, `br"`), not ends an identifier (`for"`).
fn starts_raw_string(bytes: &[u8], at: usize) -> bool {
    match at.checked_sub(1).map(|before| bytes[before]) {
        Some(b'b') => !is_ident_at(bytes, at.wrapping_sub(2)),
        Some(byte) => !is_ident(byte),
        None => true,
    }
}

fn block_comment_end(bytes: &[u8], from: usize) -> usize {
    let mut depth = 0usize;
    let mut at = from;
    while at + 1 < bytes.len() {
        if bytes[at..].starts_with(b"/*") {
            depth += 1;
            at += 2;
        } else if bytes[at..].starts_with(b"*/") {
            depth -= 1;
            at += 2;
            if depth == 0 {
                return at;
            }
        } else {
            at += 1;
        }
    }
    bytes.len()
}

fn raw_string_end(bytes: &[u8], from: usize) -> usize {
    let hashes = bytes[from + 1..].iter().take_while(|&&b| b == b'#').count();
    if bytes.get(from + 1 + hashes) != Some(&b'"') {
        return from + 1; // `r#ident`, a raw identifier
    }
    let mut closing = vec![b'"'];
    closing.extend(std::iter::repeat_n(b'#', hashes));
    let body = from + 2 + hashes;
    bytes[body..]
        .windows(closing.len())
        .position(|window| window == closing.as_slice())
        .map_or(bytes.len(), |offset| body + offset + closing.len())
}

fn string_end(bytes: &[u8], from: usize) -> usize {
    let mut at = from + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// The end of a character literal at `from`, or `from + 1` for a lifetime (`'a`).
fn char_literal_end(bytes: &[u8], from: usize) -> usize {
    match bytes.get(from + 1) {
        Some(b'\\') => {
            let close = bytes[from + 2..].iter().position(|&b| b == b'\'');
            close.map_or(from + 1, |offset| from + 2 + offset + 1)
        }
        Some(_) => {
            // One character, perhaps several bytes of UTF-8, then the closing quote.
            let width = match bytes[from + 1] {
                0..=0x7f => 1,
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            if bytes.get(from + 1 + width) == Some(&b'\'') {
                from + 2 + width
            } else {
                from + 1
            }
        }
        None => from + 1,
    }
}

/// A cycle in `graph` as the modules along it, the first repeated at the end.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        graph: &Graph,
        module: &str,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(module) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|m| m == module).unwrap();
                let mut cycle = path[start..].to_vec();
                cycle.push(module.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(module.to_string(), Mark::Open);
        path.push(module.to_string());
        for next in graph.get(module).into_iter().flat_map(|edges| edges.keys()) {
            if let Some(cycle) = visit(graph, next, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(module.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for module in graph.keys() {
        if let Some(cycle) = visit(graph, module, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}
