//! `lamport-ledger play` as a child process of a test: started on a free port, stopped by
//! Ctrl-C on its own process id, and killed and reaped when dropped on any other path.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Played {
    child: Child,
    pub url: String,
}

impl Played {
    /// Starts `play SCENARIO --port 0` in `dir` and reads the address from its first line.
    pub fn start(dir: &Path, scenario: &str) -> Played {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lamport-ledger"))
            .args(["play", scenario, "--port", "0"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("play starts");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        let url = first
            .strip_prefix("play: ")
            .and_then(|rest| rest.split_whitespace().next())
            .filter(|url| url.starts_with("http://127.0.0.1:"))
            .map(str::to_string);
        let Some(url) = url else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no address in {first:?}");
        };
        Played { child, url }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    }

    /// Ctrl-C: the server stops, exits 0 and closes its socket.
    pub fn interrupt(mut self) {
        let id = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &id]).status().unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "play after Ctrl-C: {status:?}");
        assert!(
            TcpStream::connect(self.address()).is_err(),
            "nothing listens after Ctrl-C"
        );
    }
}

impl Drop for Played {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
