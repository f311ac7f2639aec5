//! A small Chrome DevTools Protocol client: one headless Chromium, one page, and the real
//! input events of `Input.dispatchMouseEvent` and `Input.dispatchKeyEvent`, which the browser
//! routes through hit-testing, focus and default actions as it does a person's.
//!
//! The browser is started with `--remote-debugging-port=0`; it prints the address of its
//! DevTools WebSocket on standard error. Commands go to the page's flattened session over
//! that socket. Dropping the [`Browser`] kills and reaps the Chromium it started.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

use crate::browser;

/// How long one answer of the browser, or one awaited page condition, may take.
const PATIENCE: Duration = Duration::from_secs(10);
/// The pause between two polls of a page condition.
const POLL: Duration = Duration::from_millis(20);

pub struct Browser {
    child: Child,
    socket: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts `chromium` with a fresh profile and attaches to a new blank page.
    pub fn start(chromium: &Path, window: (u32, u32)) -> Browser {
        let profile = tempfile::tempdir().expect("a temporary profile folder");
        let mut child = browser::base_command(chromium, profile.path())
            .arg(format!("--window-size={},{}", window.0, window.1))
            .arg("--remote-debugging-port=0")
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let address = devtools_address(&mut child);
        let Some(address) = address else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium printed no DevTools address within {PATIENCE:?}");
        };
        let socket = connect(&address);
        let mut browser = Browser {
            child,
            socket,
            session: String::new(),
            next_id: 0,
            _profile: profile,
        };
        let target = browser.browser_call("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].clone();
        let attached = browser.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        browser
    }

    /// Opens `url` in the page (the caller waits for the condition that says it is ready).
    pub fn navigate(&mut self, url: &str) {
        let answer = self.call("Page.navigate", json!({"url": url}));
        assert!(answer.get("errorText").is_none(), "{url}: {answer}");
    }

    /// The value of the JavaScript `expression` in the page.
    pub fn evaluate(&mut self, expression: &str) -> Value {
        let answer = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        if let Some(thrown) = answer.get("exceptionDetails") {
            panic!("{expression}: {thrown}");
        }
        answer["result"]["value"].clone()
    }

    /// Polls `expression` until it is `true`; panics with `what` and the page's state if it
    /// is not within the patience. While the page loads, `document.body` may still be
    /// missing: an expression that throws counts as not yet true.
    pub fn wait_until(&mut self, expression: &str, what: &str) {
        let guarded = format!(
            "(() => {{ try {{ return ({expression}); }} catch (e) {{ return false; }} }})()"
        );
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if self.evaluate(&guarded) == Value::Bool(true) {
                return;
            }
            std::thread::sleep(POLL);
        }
        let state = self
            .evaluate("JSON.stringify(Object.assign({}, document.body && document.body.dataset))");
        panic!("waited {PATIENCE:?} for {what} ({expression}); body data: {state}");
    }

    /// A left click with the mouse at the centre of the element `selector` finds, after
    /// scrolling it into view. The element must be the one the browser hit-tests there.
    pub fn click(&mut self, selector: &str) {
        let found = self.evaluate(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return null; \
             e.scrollIntoView({{block: 'center', inline: 'center'}}); \
             const r = e.getBoundingClientRect(); \
             const x = r.left + r.width / 2, y = r.top + r.height / 2; \
             const hit = document.elementFromPoint(x, y); \
             return [x, y, !!hit && (e === hit || e.contains(hit))]; }})()"
        ));
        let Some([x, y, hits]) = found
            .as_array()
            .and_then(|a| <[Value; 3]>::try_from(a.clone()).ok())
        else {
            panic!("no element {selector} to click");
        };
        assert_eq!(
            hits,
            Value::Bool(true),
            "{selector} is covered at ({x}, {y})"
        );
        let at =
            |kind: &str| json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1});
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseMoved", "x": x, "y": y}),
        );
        self.call("Input.dispatchMouseEvent", at("mousePressed"));
        self.call("Input.dispatchMouseEvent", at("mouseReleased"));
    }

    /// Presses and releases the key `key` (a DOM key name such as `ArrowRight`, `Enter`,
    /// `Backspace`, or one printable character), as the keyboard would send it.
    pub fn press(&mut self, key: &str) {
        let (code, key_code, text) = key_description(key);
        let mut down = json!({
            "type": "keyDown", "key": key, "code": code,
            "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code,
        });
        if let Some(text) = text {
            down["text"] = json!(text);
            down["unmodifiedText"] = json!(text);
        } else {
            down["type"] = json!("rawKeyDown");
        }
        self.call("Input.dispatchKeyEvent", down);
        self.call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": key, "code": code,
                   "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code}),
        );
    }

    /// A command to the page's session.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(method, params, Some(&session))
    }

    /// A command to the browser itself.
    fn browser_call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None)
    }

    /// Sends one command and reads messages until its answer; events in between are dropped.
    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(command.to_string()))
            .unwrap_or_else(|err| panic!("{method}: sending failed: {err}"));
        loop {
            let message = self
                .socket
                .read()
                .unwrap_or_else(|err| panic!("{method}: no answer: {err}"));
            let Message::Text(text) = message else {
                continue;
            };
            let answer: Value = serde_json::from_str(text.as_str()).expect("CDP sends JSON");
            if answer["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(error) = answer.get("error") {
                panic!("{method}: {error}");
            }
            return answer["result"].clone();
        }
    }
}

/// The DOM `code`, the Windows virtual key code and the typed text of `key`.
fn key_description(key: &str) -> (String, u32, Option<String>) {
    match key {
        "ArrowLeft" => ("ArrowLeft".into(), 37, None),
        "ArrowRight" => ("ArrowRight".into(), 39, None),
        "Backspace" => ("Backspace".into(), 8, None),
        "Escape" => ("Escape".into(), 27, None),
        "Enter" => ("Enter".into(), 13, Some("\r".into())),
        _ => {
            let mut chars = key.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                panic!("no key description for {key:?}");
            };
            if c.is_ascii_digit() {
                (format!("Digit{c}"), u32::from(c), Some(key.into()))
            } else if c.is_ascii_lowercase() {
                let upper = c.to_ascii_uppercase();
                (format!("Key{upper}"), u32::from(upper), Some(key.into()))
            } else {
                panic!("no key description for {key:?}");
            }
        }
    }
}

/// Reads Chromium's standard error until `DevTools listening on ws://…`; a thread keeps
/// draining it afterwards so the browser never blocks on a full pipe.
fn devtools_address(child: &mut Child) -> Option<String> {
    let stderr = child.stderr.take().expect("piped standard error");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sender = Some(sender);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(address) = line.strip_prefix("DevTools listening on ")
                && let Some(sender) = sender.take()
            {
                let _ = sender.send(address.trim().to_string());
            }
        }
    });
    receiver.recv_timeout(PATIENCE).ok()
}

/// A WebSocket to `address` (`ws://127.0.0.1:PORT/devtools/browser/ID`) whose reads time out.
fn connect(address: &str) -> WebSocket<TcpStream> {
    let host = address
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("not a DevTools address: {address}"));
    let stream = TcpStream::connect(host).expect("DevTools accepts a connection");
    stream
        .set_read_timeout(Some(PATIENCE))
        .expect("a read timeout");
    let (socket, _) = tungstenite::client(address, stream).expect("the WebSocket handshake");
    socket
}
