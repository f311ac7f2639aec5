//! The page of `play`, served on the loopback interface only. One session per server; the
//! requests are handled one at a time, in order, on the calling thread (a page for one
//! student). The page and its script are inline: nothing is fetched from the network.
//!
//! - `GET /`: the page; `GET /api/view[?hints=1]`: the [`super::view::View`] as JSON;
//! - `POST /api/move` (a [`Move`] as JSON), `/api/undo`, `/api/redo`, `/api/back?to=K`,
//!   `/api/auto?n=N`: change the session and answer with the new view, with hints when the
//!   query has `hints=1` (a refused move is status 400 with `{"error": sentence}`);
//! - `GET /export/scenario.json`, `GET /export/trace.jsonl`: the path exported.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tiny_http::{Header, Method, Request, Response, Server};

use super::export::{Exported, export};
use super::view::view;
use super::{Move, PlayError, Session};

/// The page, with its style and script inline.
const PAGE: &str = include_str!("page.html");

/// How often the loop looks at the stop flag while no request comes.
const POLL: Duration = Duration::from_millis(100);

/// A request body larger than this is refused: a move is a few dozen bytes.
const MAX_BODY_BYTES: u64 = 4096;

/// A server bound to `127.0.0.1:port` (0: any free port).
pub struct PlayServer {
    server: Server,
    session: Session,
}

impl PlayServer {
    pub fn bind(session: Session, port: u16) -> io::Result<Self> {
        let server = Server::http(("127.0.0.1", port)).map_err(io::Error::other)?;
        Ok(PlayServer { server, session })
    }

    /// The page's address.
    pub fn url(&self) -> String {
        match self.server.server_addr().to_ip() {
            Some(address) => format!("http://{address}/"),
            None => "http://127.0.0.1/".to_string(),
        }
    }

    /// Serves until `stop` is set; the listening socket closes when the server is dropped.
    pub fn serve(mut self, stop: &Arc<AtomicBool>) -> io::Result<()> {
        while !stop.load(Ordering::SeqCst) {
            if let Some(request) = self.server.recv_timeout(POLL)? {
                self.handle(request)?;
            }
        }
        Ok(())
    }

    fn handle(&mut self, mut request: Request) -> io::Result<()> {
        let url = request.url().to_string();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let post = *request.method() == Method::Post;
        let hints = query.split('&').any(|pair| pair == "hints=1");
        let answer = match (post, path) {
            (false, "/") => Answer::page(),
            (false, "/api/view") => Answer::view(&self.session, hints),
            (false, "/export/scenario.json") => match export(&self.session) {
                Ok(mut exported) => {
                    let file = std::mem::take(&mut exported.scenario_json);
                    Answer::exported(file.into_bytes(), "played.json", &exported)
                }
                Err(error) => Answer::error(500, &error.to_string()),
            },
            (false, "/export/trace.jsonl") => match export(&self.session) {
                Ok(mut exported) => {
                    let trace = std::mem::take(&mut exported.trace);
                    Answer::exported(trace, "played.jsonl", &exported)
                }
                Err(error) => Answer::error(500, &error.to_string()),
            },
            (true, "/api/move") => match read_move(&mut request) {
                Ok(mv) => self.change(hints, |session| session.make(mv)),
                Err(message) => Answer::error(400, &message),
            },
            (true, "/api/undo") => self.change(hints, Session::undo),
            (true, "/api/redo") => self.change(hints, Session::redo),
            (true, "/api/back") => match number(query, "to") {
                Some(to) => self.change(hints, |session| session.go_back(to as usize)),
                None => Answer::error(400, "back needs ?to=STEP"),
            },
            (true, "/api/auto") => match number(query, "n") {
                Some(count) => self.change(hints, |session| session.auto(count).map(|_| ())),
                None => Answer::error(400, "auto needs ?n=STEPS"),
            },
            _ => Answer::error(404, &format!("no such page: {path}")),
        };
        answer.send(request)
    }

    /// Changes the session and answers with the new view (with the challenge's hints when
    /// the page shows them).
    fn change(
        &mut self,
        hints: bool,
        action: impl FnOnce(&mut Session) -> Result<(), PlayError>,
    ) -> Answer {
        match action(&mut self.session) {
            Ok(()) => Answer::view(&self.session, hints),
            Err(error) => Answer::error(400, &error.to_string()),
        }
    }
}

/// The value of `key` in a query string, as a number.
fn number(query: &str, key: &str) -> Option<u64> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == key)
        .and_then(|(_, value)| value.parse().ok())
}

fn read_move(request: &mut Request) -> Result<Move, String> {
    let mut body = String::new();
    io::Read::read_to_string(
        &mut io::Read::take(request.as_reader(), MAX_BODY_BYTES),
        &mut body,
    )
    .map_err(|error| format!("the move could not be read: {error}"))?;
    serde_json::from_str(&body).map_err(|error| format!("not a move: {error}"))
}

/// A response to send.
struct Answer {
    status: u16,
    body: Vec<u8>,
    content_type: &'static str,
    download: Option<&'static str>,
    extra: Vec<(&'static str, String)>,
}

impl Answer {
    fn page() -> Self {
        Answer {
            status: 200,
            body: PAGE.as_bytes().to_vec(),
            content_type: "text/html; charset=utf-8",
            download: None,
            extra: Vec::new(),
        }
    }

    fn view(session: &Session, hints: bool) -> Self {
        match serde_json::to_vec(&view(session, hints)) {
            Ok(body) => Answer {
                status: 200,
                body,
                content_type: "application/json",
                download: None,
                extra: Vec::new(),
            },
            Err(error) => Answer::error(500, &error.to_string()),
        }
    }

    /// An export, with the run's digest and first violation in headers for scripts.
    fn exported(body: Vec<u8>, name: &'static str, exported: &Exported) -> Self {
        let violated = exported
            .violated
            .map_or("none", |invariant| invariant.name());
        Answer {
            status: 200,
            body,
            content_type: "application/json",
            download: Some(name),
            extra: vec![
                ("X-Trace-Digest", exported.digest_hex.clone()),
                ("X-Violation", violated.to_string()),
            ],
        }
    }

    fn error(status: u16, message: &str) -> Self {
        Answer {
            status,
            body: serde_json::json!({ "error": message })
                .to_string()
                .into_bytes(),
            content_type: "application/json",
            download: None,
            extra: Vec::new(),
        }
    }

    fn send(self, request: Request) -> io::Result<()> {
        let mut response = Response::from_data(self.body).with_status_code(self.status);
        let mut headers = vec![
            ("Content-Type", self.content_type.to_string()),
            ("Cache-Control", "no-store".to_string()),
        ];
        if let Some(name) = self.download {
            headers.push((
                "Content-Disposition",
                format!("attachment; filename=\"{name}\""),
            ));
        }
        headers.extend(self.extra);
        for (name, value) in headers {
            if let Ok(header) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response.add_header(header);
            }
        }
        // A browser that went away is not the server's failure.
        let _ = request.respond(response);
        Ok(())
    }
}
