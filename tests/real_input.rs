//! The web pages driven by real browser input: mouse and key events sent through the Chrome
//! DevTools Protocol reach the page as a person's do (hit-testing, focus, default actions),
//! not as events the page's own script dispatches. The other browser tests cover the pages
//! broadly through their `#keys=` / `#do=` hooks; these few check that the hooks' behaviour
//! is what real clicks and keys get.

#[path = "render/browser.rs"]
mod browser;
#[path = "real_input/cdp.rs"]
mod cdp;
#[path = "common/played.rs"]
mod played;

use std::path::Path;
use std::process::Command;

use cdp::Browser;
use played::Played;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The body's `data-NAME` attribute, read after the input.
fn body_data(page: &mut Browser, name: &str) -> String {
    page.evaluate(&format!("document.body.getAttribute('data-{name}')"))
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Renders reorder-2's run into `dir` and returns the page's `file://` address.
fn rendered_reorder_2(dir: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_lamport-ledger"))
        .args(["run", "scenarios/reorder-2.json", "--trace"])
        .arg(dir.join("t.jsonl"))
        .args(["--render", "html", "-o"])
        .arg(dir.join("page.html"))
        .current_dir(root())
        .output()
        .expect("the binary runs");
    // reorder-2 expects its violation, so the run ends 0.
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    browser::file_url(&dir.join("page.html"))
}

#[test]
fn the_rendered_page_follows_real_keys_and_clicks() {
    let Some(chromium) = browser::chromium("the_rendered_page_follows_real_keys_and_clicks") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = rendered_reorder_2(dir.path());
    let mut page = Browser::start(&chromium, (1400, 900));
    page.navigate(&url);
    page.wait_until(
        "document.body.getAttribute('data-ready') === 'yes'",
        "the page's script",
    );
    let start: usize = body_data(&mut page, "step").parse().unwrap();

    // Arrow keys step forward, one event a press.
    for pressed in 1..=3 {
        page.press("ArrowRight");
        page.wait_until(
            &format!(
                "document.body.getAttribute('data-step') === '{}'",
                start + pressed
            ),
            "ArrowRight to step forward",
        );
    }

    // Typing an event number goes there, and the arrows work at once afterwards.
    page.click("#goto");
    page.wait_until(
        "document.activeElement === document.getElementById('goto')",
        "the click to focus the box",
    );
    for _ in 0..4 {
        page.press("Backspace");
    }
    page.press("9");
    page.press("Enter");
    page.wait_until(
        "document.body.getAttribute('data-seq') === '9'",
        "Enter to go to #9",
    );
    page.press("ArrowRight");
    page.wait_until(
        "document.body.getAttribute('data-seq') === '10'",
        "ArrowRight after typing in the box",
    );
    let current = page.evaluate("document.getElementById('current').textContent");
    assert!(
        current.as_str().unwrap_or_default().contains("#10"),
        "{current}"
    );

    // Clicking an event of the diagram selects it and lights up its causal past and future.
    page.click("g.ev[data-seq=\"9\"] circle");
    page.wait_until(
        "document.body.getAttribute('data-selected') === '9'",
        "the click to select #9",
    );
    let cone = page.evaluate(
        "[...document.querySelectorAll('[data-cone]')].map(e => e.getAttribute('data-cone'))",
    );
    let cone: Vec<&str> = cone
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|mark| mark.as_str())
        .collect();
    assert!(cone.contains(&"past"), "{cone:?}");
    assert!(cone.contains(&"future"), "{cone:?}");
    assert_eq!(
        page.evaluate("document.getElementById('errors').textContent"),
        ""
    );
}

/// Clicks the move `id` once it is offered and waits for the server's next view.
fn take_move(page: &mut Browser, id: &str, step_after: usize) {
    page.wait_until(
        &format!("!!document.getElementById('{id}')"),
        &format!("the move {id}"),
    );
    page.click(&format!("#{id}"));
    page.wait_until(
        &format!("document.body.getAttribute('data-step') === '{step_after}'"),
        &format!("the click on {id}"),
    );
}

#[test]
fn play_reaches_the_violation_by_real_clicks_and_undoes_it_by_a_real_key() {
    let Some(chromium) = browser::chromium("play_reaches_the_violation_by_real_clicks") else {
        return;
    };
    let played = Played::start(root(), "scenarios/reorder-2.json");
    let mut page = Browser::start(&chromium, (1400, 1000));
    page.navigate(&played.url);
    page.wait_until(
        "document.body.getAttribute('data-ready') === 'yes'",
        "the play page to load",
    );
    assert_eq!(body_data(&mut page, "step"), "0");
    // Both clients ask; c2's REQUEST and c1's REPLY arrive before c1's REQUEST, then c2's
    // REPLY lets c1 enter while c2 is inside.
    let moves = [
        "m-issue-c1",
        "m-issue-c2",
        "m-deliver-1",
        "m-deliver-2",
        "m-deliver-0",
        "m-deliver-3",
    ];
    for (taken, id) in moves.iter().enumerate() {
        take_move(&mut page, id, taken + 1);
    }
    page.wait_until(
        "document.body.getAttribute('data-stopped') === 'yes' && \
         document.body.textContent.includes('VIOLATION of mutual_exclusion')",
        "the violation to show",
    );

    page.press("u");
    page.wait_until(
        "document.body.getAttribute('data-step') === '5'",
        "the key u to undo",
    );
    assert_eq!(body_data(&mut page, "stopped"), "no");
    assert_eq!(
        page.evaluate("document.body.textContent.includes('VIOLATION of mutual_exclusion')"),
        false
    );
    assert_eq!(
        page.evaluate("document.getElementById('errors').textContent"),
        ""
    );
    drop(page);
    played.interrupt();
}
