//! The docs, run: README.md and docs/*.md show commands and what they print, and these tests
//! run them with the built binary, so a doc that no longer tells the truth fails `cargo test`.
//!
//! - Every `lamport-ledger` command of a `console` or `sh` block runs, in the block's order, in
//!   one temporary folder per doc file (with `scenarios/`, `tests/`, `benches/` and
//!   `examples/` linked in),
//!   so a file one command writes is there for the next. `cargo run --release --` and
//!   `target/release/lamport-ledger` count as `lamport-ledger`. It must exit as the doc says
//!   (an `echo $?` line of a console block, or a comment `# exit N`), and never with 2 (bad
//!   input or usage) unless the doc says so.
//! - A console block's output lines must appear in what the command printed (standard output,
//!   then standard error), in order. `…` or `...` stands for any text within a line, and a
//!   line of only `…` or `...` for lines left out; lines may be left out anywhere. A cut note
//!   `[… what was cut …]` is an ellipsis too.
//! - Every `--expect-digest` a doc shows is 64 hex digits (a placeholder in capitals aside),
//!   and the binary reproduces it for the scenario and seed next to it.
//! - Every whole scenario a `json` block shows (an object with `name` and `clients`) runs
//!   with exit code 0: it meets its own `expect`.
//! - Every file under `src/`, `tests/`, `scenarios/`, `benches/`, `docs/` or `snapshots/`
//!   that a doc names exists.
//!
//! Skipped, each for a reason the skip list names: what needs a second terminal or a network
//! (`node`, and the rest of its block), `bench`, synopses (placeholders in capitals, `[...]`),
//! shell templates (`$VAR`, `{}`), sweeps of more than 2,000 seeds and explorations of the
//! default scenario (minutes in a debug build).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every docs/*.md, sorted.
fn doc_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// One command a doc shows.
#[derive(Debug)]
struct Example {
    /// `docs/hunting.md:19`, for messages.
    place: String,
    /// The fenced block it is in, counted from 0 within its file.
    block: usize,
    /// The command as a shell runs it, continuation lines joined.
    command: String,
    /// The exit code the doc states, if it states one.
    exit: Option<i32>,
    /// Output lines the doc shows (console blocks only).
    output: Vec<String>,
}

/// Joins a line ending in `\` with the lines after it.
fn logical_lines<'a>(
    lines: &mut std::iter::Peekable<impl Iterator<Item = (usize, &'a str)>>,
    first: &str,
) -> String {
    let mut command = first.trim_end().to_string();
    while command.ends_with('\\') {
        command.pop();
        match lines.next() {
            Some((_, next)) => {
                command.push(' ');
                command.push_str(next.trim());
            }
            None => break,
        }
    }
    command
}

/// A trailing `# comment` of a shell line (two spaces or more before the `#`), and the line
/// without it.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    match line.find("  #") {
        Some(at) => (
            line[..at].trim_end(),
            Some(line[at..].trim_start()[1..].trim()),
        ),
        None => (line, None),
    }
}

/// `# exit 1, the checker agrees` -> 1.
fn exit_from_comment(comment: Option<&str>) -> Option<i32> {
    let rest = comment?.strip_prefix("exit ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Every command of the console and sh blocks of one doc file.
fn examples(path: &Path) -> Vec<Example> {
    let text = std::fs::read_to_string(path).expect("the doc is readable");
    let name = path.strip_prefix(root()).unwrap().display().to_string();
    let mut found: Vec<Example> = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    let mut block_language: Option<String> = None;
    let mut block = 0;
    while let Some((index, line)) = lines.next() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            if block_language.take().is_some() {
                block += 1;
            } else {
                block_language = Some(info.trim().to_string());
            }
            continue;
        }
        let Some(language) = block_language.as_deref() else {
            continue;
        };
        let place = format!("{name}:{}", index + 1);
        match language {
            "console" => {
                if let Some(command) = line.strip_prefix("$ ") {
                    let command = logical_lines(&mut lines, command);
                    if command == "echo $?" {
                        let code = lines.next().map(|(_, code)| code.trim());
                        let example = found.last_mut().expect("an `echo $?` follows a command");
                        example.exit =
                            Some(code.and_then(|code| code.parse().ok()).unwrap_or_else(|| {
                                panic!("{place}: `echo $?` is not followed by an exit code")
                            }));
                        continue;
                    }
                    found.push(Example {
                        place,
                        block,
                        command,
                        exit: None,
                        output: Vec::new(),
                    });
                } else if let Some(example) = found.last_mut().filter(|e| e.block == block) {
                    example.output.push(line.trim_end().to_string());
                }
            }
            "sh" | "bash" | "shell" => {
                let (command, comment) = split_comment(line);
                let command = logical_lines(&mut lines, command);
                if command.is_empty() || command.starts_with('#') {
                    continue;
                }
                found.push(Example {
                    place,
                    block,
                    command,
                    exit: exit_from_comment(comment),
                    output: Vec::new(),
                });
            }
            _ => {}
        }
    }
    found
}

/// The command with its program written as `lamport-ledger`, or `None` when it runs
/// something else.
fn as_lamport_ledger(command: &str) -> Option<String> {
    for prefix in [
        "lamport-ledger",
        "target/release/lamport-ledger",
        "./target/release/lamport-ledger",
        "cargo run --release --",
    ] {
        if let Some(rest) = command.strip_prefix(prefix)
            && (rest.is_empty() || rest.starts_with(' '))
        {
            return Some(format!("lamport-ledger{rest}"));
        }
    }
    (command == "cargo run --release").then(|| "lamport-ledger".to_string())
}

/// Why a command is not run, or `None` when it is.
fn skip_reason(command: &str) -> Option<&'static str> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let subcommand = words.get(1).copied().unwrap_or("");
    let placeholder = words.iter().any(|word| {
        let letters: String = word.chars().take_while(|c| *c != '.').collect();
        letters.len() >= 2 && letters.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    });
    if subcommand == "node" {
        return Some("a live node needs its peers in other terminals");
    }
    if subcommand == "bench" {
        return Some("a benchmark");
    }
    if placeholder || command.contains(" [") {
        return Some("a synopsis");
    }
    if command.contains('$') || command.contains("{}") {
        return Some("a shell template");
    }
    if subcommand == "explore" && command.contains("default.json") {
        return Some("an exploration of the default scenario takes minutes");
    }
    if subcommand == "explore" && command.contains("--max-clock 6") {
        return Some(
            "the TLA+ port at maxClock 6 takes minutes in a debug build (tests/explore.rs checks its numbers)",
        );
    }
    if subcommand == "sweep" {
        let seeds = words
            .iter()
            .position(|word| *word == "--seeds")
            .and_then(|at| words.get(at + 1))
            .and_then(|range| range.split_once(".."))
            .and_then(|(from, to)| Some((from.parse::<u64>().ok()?, to.parse::<u64>().ok()?)));
        if seeds.is_some_and(|(from, to)| to.saturating_sub(from) > 2000) {
            return Some("a sweep of more than 2,000 seeds");
        }
    }
    None
}

/// A folder for one doc's commands, with the crate's input folders linked in.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for folder in ["scenarios", "tests", "benches", "examples"] {
        std::os::unix::fs::symlink(root().join(folder), dir.path().join(folder)).unwrap();
    }
    let bin = dir.path().join(".bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_lamport-ledger"),
        bin.join("lamport-ledger"),
    )
    .unwrap();
    dir
}

/// Runs `command` with `sh` in `dir`, with the built binary first on the `PATH`, and no
/// standard input; gives up after two minutes.
fn run(dir: &Path, command: &str) -> Output {
    let path = format!(
        "{}:{}",
        dir.join(".bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh starts");
    // Read both pipes on threads so that a long output never blocks the child.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut bytes).unwrap();
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut bytes).unwrap();
        bytes
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("`{command}` still ran after two minutes");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// A doc line with `…` or `...` for any text, against one output line.
fn line_matches(pattern: &str, actual: &str) -> bool {
    // The spaces next to an ellipsis belong to it: `t=14.162 …` stands for `t=14.162ms …`.
    let pieces: Vec<&str> = pattern
        .split('…')
        .flat_map(|piece| piece.split("..."))
        .enumerate()
        .map(|(index, piece)| {
            if index == 0 {
                piece
            } else {
                piece.trim_start()
            }
        })
        .collect();
    let count = pieces.len();
    let pieces: Vec<&str> = pieces
        .into_iter()
        .enumerate()
        .map(|(index, piece)| {
            if index + 1 == count {
                piece
            } else {
                piece.trim_end()
            }
        })
        .collect();
    let mut rest = actual.trim_end();
    for (index, piece) in pieces.iter().enumerate() {
        let last = index == pieces.len() - 1;
        if index == 0 {
            match rest.strip_prefix(piece) {
                Some(after) => rest = after,
                None => return false,
            }
            if last {
                return rest.is_empty();
            }
        } else if last {
            return rest.ends_with(piece);
        } else {
            match rest.find(piece) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
    }
    true
}

/// A doc line with every cut note (`[… 3 lines cut: why …]`, `[… rest of the line cut …]`)
/// made a plain ellipsis: a note that is a whole line stands for lines left out, one inside a
/// line for any text.
fn without_cut_notes(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("[…") {
        let Some(length) = rest[start..].find("…]") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push('…');
        rest = &rest[start + length + "…]".len()..];
    }
    out.push_str(rest);
    out
}

/// Whether every shown line that is not only an ellipsis matches an output line, in order.
/// Gives the first shown line that does not, if any.
fn first_unmatched<'a>(shown: &'a [String], actual: &[&str]) -> Option<&'a str> {
    let mut from = 0;
    for shown_line in shown {
        let line = &without_cut_notes(shown_line);
        let bare = line.trim();
        if bare.is_empty() || bare == "…" || bare == "..." || bare == "[…]" {
            continue;
        }
        match actual[from..]
            .iter()
            .position(|actual| line_matches(line, actual))
        {
            Some(at) => from += at + 1,
            None => return Some(shown_line),
        }
    }
    None
}

fn check_example(dir: &Path, example: &Example, command: &str) -> Result<(), String> {
    let output = run(dir, command);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code();
    let context = || {
        format!(
            "{}: `{}` exited with {code:?}\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}",
            example.place, example.command
        )
    };
    match example.exit {
        Some(expected) if code != Some(expected) => {
            return Err(format!("the doc says exit {expected}; {}", context()));
        }
        None if !matches!(code, Some(0 | 1)) => {
            return Err(format!("the doc implies exit 0 or 1; {}", context()));
        }
        _ => {}
    }
    if !example.output.is_empty() {
        let out_first: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
        let err_first: Vec<&str> = stderr.lines().chain(stdout.lines()).collect();
        if let Some(line) = first_unmatched(&example.output, &out_first)
            && first_unmatched(&example.output, &err_first).is_some()
        {
            return Err(format!(
                "the doc shows a line the command does not print:\n    {line}\n{}",
                context()
            ));
        }
    }
    Ok(())
}

#[test]
fn every_command_the_docs_show_runs_as_they_say() {
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut compared = 0;
    for path in doc_files() {
        let dir = workdir();
        let mut skipped_block = None;
        for example in examples(&path) {
            let Some(command) = as_lamport_ledger(&example.command) else {
                continue;
            };
            if skipped_block == Some(example.block) {
                continue;
            }
            if let Some(reason) = skip_reason(&command) {
                eprintln!("skipped {}: {reason}: {}", example.place, example.command);
                // What comes after it in the same block may need what it would have made.
                skipped_block = Some(example.block);
                continue;
            }
            ran += 1;
            compared += usize::from(!example.output.is_empty());
            if let Err(failure) = check_example(dir.path(), &example, &command) {
                failures.push(failure);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The parser must keep finding the examples: README.md and docs/ show more than this many.
    assert!(ran >= 25, "only {ran} commands were found and run");
    assert!(
        compared >= 8,
        "only {compared} console outputs were compared"
    );
}

#[test]
fn every_digest_the_docs_give_a_seed_is_the_one_the_binary_gives() {
    let digest_flag = regex::Regex::new(r"--expect-digest\s+(\S+)").unwrap();
    let hex = regex::Regex::new(r"^[0-9a-fA-F]{64}$").unwrap();
    let placeholder = regex::Regex::new(r"^[A-Z_]+$").unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in doc_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        for (index, line) in text.lines().enumerate() {
            for found in digest_flag.captures_iter(line) {
                let digest = found[1].trim_end_matches(['`', ',', ';', ')', ']']);
                if placeholder.is_match(digest) || digest.starts_with("\\(") {
                    continue;
                }
                let place = format!("{name}:{}", index + 1);
                if !hex.is_match(digest) {
                    failures.push(format!(
                        "{place}: `--expect-digest {digest}` cannot be pasted: it takes 64 hex digits"
                    ));
                    continue;
                }
                // The replay command this digest belongs to: the last one before it.
                let before: Vec<&str> = line[..found.get(0).unwrap().start()]
                    .split_whitespace()
                    .collect();
                let Some(at) = before.iter().rposition(|word| *word == "replay") else {
                    failures.push(format!("{place}: a digest outside a `replay` command"));
                    continue;
                };
                let command = &before[at..];
                let seed = command
                    .iter()
                    .position(|word| *word == "--seed")
                    .and_then(|at| command.get(at + 1));
                let (Some(scenario), Some(seed)) = (command.get(1), seed) else {
                    failures.push(format!(
                        "{place}: a replay command without a scenario and --seed"
                    ));
                    continue;
                };
                let mut args = vec!["run", scenario, "--seed", seed];
                let after = line[found.get(0).unwrap().end()..]
                    .split_whitespace()
                    .take_while(|word| word.starts_with("--") || !word.contains("lamport-ledger"));
                if command.contains(&"--swarm") || after.into_iter().any(|word| word == "--swarm") {
                    args.push("--swarm");
                }
                let output = Command::new(env!("CARGO_BIN_EXE_lamport-ledger"))
                    .args(&args)
                    .current_dir(root())
                    .output()
                    .unwrap();
                let stdout = String::from_utf8_lossy(&output.stdout);
                let actual = stdout
                    .lines()
                    .find_map(|line| line.strip_prefix("digest:"))
                    .map(str::trim)
                    .unwrap_or_else(|| panic!("{place}: `run` printed no digest:\n{stdout}"));
                checked += 1;
                if !actual.eq_ignore_ascii_case(digest) {
                    failures.push(format!(
                        "{place}: the doc gives seed {seed} of {scenario} the digest {digest}, \
                         but `lamport-ledger {}` gives {actual}",
                        args.join(" ")
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // docs/hunting.md gives at least the three replay commands of its examples.
    assert!(
        checked >= 3,
        "only {checked} digests were found and checked"
    );
}

#[test]
fn every_whole_scenario_the_docs_show_meets_its_own_expect() {
    let mut checked = 0;
    let mut failures = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    for path in doc_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        let mut block: Option<(usize, String)> = None;
        for (index, line) in text.lines().enumerate() {
            match (&mut block, line.trim_start().strip_prefix("```")) {
                (None, Some("json")) => block = Some((index + 1, String::new())),
                (None, Some(_)) => block = Some((0, String::new())),
                (Some(_), Some(_)) => {
                    let (start, json) = block.take().unwrap();
                    // A whole scenario: a JSON object with a name and a client count.
                    let scenario = serde_json::from_str::<serde_json::Value>(&json)
                        .ok()
                        .filter(|value| {
                            value.get("name").is_some() && value.get("clients").is_some()
                        });
                    if start == 0 || scenario.is_none() {
                        continue;
                    }
                    let file = dir.path().join(format!("scenario-{checked}.json"));
                    std::fs::write(&file, &json).unwrap();
                    let output = Command::new(env!("CARGO_BIN_EXE_lamport-ledger"))
                        .arg("run")
                        .arg(&file)
                        .output()
                        .unwrap();
                    checked += 1;
                    // 0: every invariant held, or the run matched the scenario's `expect`.
                    if output.status.code() != Some(0) {
                        let stdout = String::from_utf8_lossy(&output.stdout);
                        let stderr = String::from_utf8_lossy(&output.stderr);
                        let verdict: Vec<&str> = stdout
                            .lines()
                            .filter(|line| {
                                line.starts_with("verdict:") || line.starts_with("expected:")
                            })
                            .collect();
                        failures.push(format!(
                            "{name}:{start}: the scenario exits with {:?}, not 0:\n{}\n{stderr}",
                            output.status.code(),
                            verdict.join("\n")
                        ));
                    }
                }
                (Some((_, json)), None) => {
                    json.push_str(line);
                    json.push('\n');
                }
                (None, None) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // docs/scenario-format.md shows at least its complete example and the smallest scenario.
    assert!(checked >= 2, "only {checked} whole scenarios were found");
}

#[test]
fn every_file_the_docs_name_exists() {
    let path_pattern = regex::Regex::new(
        r"\b(?:src|tests|scenarios|benches|docs|snapshots)/[A-Za-z0-9_./*-]*[A-Za-z0-9_*]",
    )
    .unwrap();
    let mut checked = 0;
    let mut missing = Vec::new();
    for path in doc_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        for (index, line) in text.lines().enumerate() {
            for found in path_pattern.find_iter(line) {
                let named = found.as_str();
                // A glob (`scenarios/*.json`) or a placeholder (`scenarios/NAME.json`).
                let file_name = named.rsplit('/').next().unwrap_or(named);
                let stem = file_name.split('.').next().unwrap_or(file_name);
                let placeholder = stem.len() >= 2 && stem.chars().all(|c| c.is_ascii_uppercase());
                if named.contains('*') || placeholder {
                    continue;
                }
                checked += 1;
                if !root().join(named).exists() {
                    missing.push(format!("{name}:{}: {named} does not exist", index + 1));
                }
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    assert!(checked >= 50, "only {checked} file names were found");
}
