//! Headless Chromium for the tests of the HTML page.
//!
//! [`chromium`] finds the browser: `$CHROMIUM`, then `chromium`, `chromium-browser`,
//! `google-chrome` on the `PATH`. When there is none, a test is skipped with a message on
//! standard error, but only outside CI: with `CI` set (as `.ci/run` does), a missing browser
//! fails the test, so CI can never pass by skipping.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The browser to use, or `None` when the test should be skipped (never under CI).
pub fn chromium(test: &str) -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            ["chromium", "chromium-browser", "google-chrome"]
                .iter()
                .filter_map(|name| find_on_path(name)),
        )
        .collect();
    if let Some(found) = candidates.into_iter().find(|path| path.is_file()) {
        return Some(found);
    }
    let in_ci = std::env::var_os("CI").is_some_and(|value| !value.is_empty() && value != "false");
    if in_ci {
        panic!(
            "{test}: no Chromium found (set CHROMIUM or install Debian's `chromium` package); \
             CI is set, so the browser test cannot be skipped"
        );
    }
    // Straight to the process's standard error: the test harness captures `eprintln!` of
    // passing tests, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: no Chromium found (set CHROMIUM or `apt-get install chromium`); \
         this test only skips when CI is not set"
    );
    None
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The flags that keep Chromium quiet and offline in a sandboxless container.
pub fn base_command(browser: &Path, profile: &Path) -> Command {
    let mut command = Command::new(browser);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--hide-scrollbars",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// The DOM of `url` after its scripts ran, as Chromium's `--dump-dom` serialises it.
pub fn dump_dom(browser: &Path, url: &str, window: (u32, u32)) -> String {
    let profile = tempfile::tempdir().expect("a temporary profile folder");
    let output = run_with_timeout(
        base_command(browser, profile.path())
            .arg(format!("--window-size={},{}", window.0, window.1))
            .arg("--virtual-time-budget=5000")
            .arg("--dump-dom")
            .arg(url),
        Duration::from_secs(120),
    );
    assert!(
        output.status.success(),
        "chromium --dump-dom {url} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the DOM is UTF-8")
}

fn run_with_timeout(command: &mut Command, limit: Duration) -> std::process::Output {
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let id = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(limit) {
        Ok(output) => output.expect("chromium's output"),
        Err(_) => {
            // Only the browser this test started.
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("chromium did not finish within {limit:?}");
        }
    }
}

/// A `file://` URL for `path` (absolute, no characters that need escaping in this project).
pub fn file_url(path: &Path) -> String {
    let absolute = path.canonicalize().expect("the page exists");
    format!("file://{}", absolute.display())
}
