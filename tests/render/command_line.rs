//! `render` and `run --render` on the command line: the same files, clean bad input.

use super::*;
use crate::common::stderr;

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn render_and_run_render_write_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("reorder.jsonl");
    let output = lamport_ledger(&[
        "run",
        "scenarios/reorder-2.json",
        "--trace",
        path_str(&trace),
        "--render",
        "svg",
        "-o",
        path_str(&dir.path().join("run.svg")),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // Drawing the run changes nothing in what `run` prints.
    let plain = lamport_ledger(&["run", "scenarios/reorder-2.json"]);
    assert_eq!(output.stdout, plain.stdout);
    for format in ALL_FORMATS {
        let target = dir.path().join(format!("render.{}", format.name()));
        let output = lamport_ledger(&[
            "render",
            path_str(&trace),
            "--format",
            format.name(),
            "-o",
            path_str(&target),
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(output.stdout.is_empty());
        assert!(std::fs::metadata(&target).unwrap().len() > 0);
    }
    assert_eq!(
        std::fs::read(dir.path().join("run.svg")).unwrap(),
        std::fs::read(dir.path().join("render.svg")).unwrap()
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Without -o the drawing goes to standard output.
    let output = lamport_ledger(&["render", path_str(&trace), "--format", "mermaid"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("sequenceDiagram\n"));
}

#[test]
fn bad_input_is_one_sentence_and_exit_2_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let output = lamport_ledger(&["run", "--trace", path_str(&trace)]);
    assert_eq!(output.status.code(), Some(0));
    let mut lines: Vec<String> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    lines[3] = "{\"type\":\"event\",\"seq\":2,".to_string();
    let broken = dir.path().join("broken.jsonl");
    std::fs::write(&broken, lines.join("\n") + "\n").unwrap();
    let target = dir.path().join("out.svg");
    // (arguments, what the message names, whether it is ours (one sentence) or clap's)
    let cases: Vec<(Vec<&str>, &str, bool)> = vec![
        (
            vec![
                "render",
                path_str(&broken),
                "--format",
                "svg",
                "-o",
                path_str(&target),
            ],
            "broken.jsonl:4:",
            true,
        ),
        (
            vec![
                "render",
                path_str(&trace),
                "--from",
                "40",
                "--to",
                "30",
                "-o",
                path_str(&target),
            ],
            "--from 40 is after --to 30",
            true,
        ),
        (
            vec![
                "render",
                path_str(&trace),
                "--from",
                "5000",
                "-o",
                path_str(&target),
            ],
            "select no events",
            true,
        ),
        (
            vec!["render", "no/such/trace.jsonl", "-o", path_str(&target)],
            "no/such/trace.jsonl",
            true,
        ),
        (
            vec!["render", path_str(&trace), "--format", "png"],
            "png",
            false,
        ),
        (vec!["run", "--render", "svg"], "--output", false),
    ];
    for (args, expected, ours) in cases {
        let output = lamport_ledger(&args);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
        assert!(message.contains(expected), "{args:?}: {message}");
        if ours {
            assert_eq!(
                message.trim_end().lines().count(),
                1,
                "{args:?}: one sentence: {message}"
            );
            assert!(message.starts_with("lamport-ledger: "), "{message}");
        }
        assert!(!target.exists(), "{args:?} left {}", target.display());
        assert!(!dir.path().join("out.svg.partial").exists());
    }
}
