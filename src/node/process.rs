//! One child process and its pipes: a buffered writer on its standard input, and a thread that
//! reads its standard output line by line, so that a read can wait with a deadline in real
//! time (a node that hangs is reported, not waited for).

use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::sync::{Mutex, Once, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// The longest line read from a node; a longer one is an error, not an unbounded allocation.
const MAX_LINE_BYTES: usize = 1 << 20;
/// Lines read ahead of the simulator: a node's step writes a few.
const LINES_AHEAD: usize = 256;
/// How long a node may take to exit once its input is closed before it is killed.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// What reading a line gave instead of a line.
#[derive(Debug)]
pub enum ReadFailure {
    /// The output ended: the node exited (with its status, when known).
    Ended(Option<String>),
    /// No complete line within the deadline.
    TimedOut,
    /// A line longer than the limit, or not UTF-8, or an I/O error.
    Bad(String),
}

/// A running node program.
pub struct Process {
    child: Child,
    stdin: Option<BufWriter<ChildStdin>>,
    lines: Receiver<Result<String, String>>,
}

impl Process {
    /// Starts `command` through `sh -c`, its standard error left to ours. The shell execs the
    /// command, so that the process stopped is the program itself, not a shell around it.
    pub fn spawn(command: &str) -> io::Result<Process> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        register(child.id());
        let stdin = child.stdin.take().map(BufWriter::new);
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("the node's standard output is not a pipe"))?;
        let (sender, lines) = sync_channel(LINES_AHEAD);
        thread::Builder::new()
            .name("node-reader".into())
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                loop {
                    let line = read_line(&mut reader);
                    let end = !matches!(line, Ok(Some(_)));
                    let sent = match line {
                        Ok(Some(line)) => sender.send(Ok(line)),
                        Ok(None) => break,
                        Err(error) => sender.send(Err(error)),
                    };
                    if sent.is_err() || end {
                        break;
                    }
                }
            })?;
        Ok(Process {
            child,
            stdin,
            lines,
        })
    }

    /// Writes one input line and flushes it: the node waits for it.
    pub fn send(&mut self, line: &str) -> io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::BrokenPipe))?;
        stdin.write_all(line.as_bytes())?;
        stdin.flush()
    }

    /// The next line the node writes, waiting until `deadline` at most.
    pub fn read(&mut self, deadline: Instant) -> Result<String, ReadFailure> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(wait) {
            Ok(Ok(line)) => Ok(line),
            Ok(Err(error)) => Err(ReadFailure::Bad(error)),
            Err(RecvTimeoutError::Timeout) => Err(ReadFailure::TimedOut),
            Err(RecvTimeoutError::Disconnected) => Err(ReadFailure::Ended(self.exit_status())),
        }
    }

    /// How the node ended, if it has (waiting a moment for a node whose output just closed).
    fn exit_status(&mut self) -> Option<String> {
        let until = Instant::now() + EXIT_GRACE;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status.to_string()),
                Ok(None) if Instant::now() < until => thread::sleep(Duration::from_millis(5)),
                _ => return None,
            }
        }
    }

    /// Closes the node's input: a node exits when its input ends.
    pub fn close_input(&mut self) {
        self.stdin = None;
    }

    /// Closes the node's input, gives it a moment to exit, kills it if it does not, and reaps it.
    pub fn stop(&mut self) {
        forget(self.child.id());
        self.close_input();
        let until = Instant::now() + EXIT_GRACE;
        while Instant::now() < until {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => thread::sleep(Duration::from_millis(2)),
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The node processes started and not yet reaped, by process id.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Notes a started process, and on the first one makes Ctrl-C (SIGINT, SIGTERM, SIGHUP) kill
/// and reap every node before the program exits with 130: an interrupt sent to this process
/// alone, not to its process group, must not leave the nodes running.
fn register(pid: u32) {
    static HANDLER: Once = Once::new();
    HANDLER.call_once(|| {
        // A handler already installed (the one removing pending files) calls stop_all itself.
        let _ = ctrlc::set_handler(|| {
            stop_all();
            std::process::exit(130);
        });
    });
    RUNNING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(pid);
}

fn forget(pid: u32) {
    let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(at) = running.iter().position(|&known| known == pid) {
        running.swap_remove(at);
    }
}

/// Kills and reaps every node process still running: for an interrupt, which ends this
/// program without running destructors.
pub fn stop_all() {
    let running = std::mem::take(&mut *RUNNING.lock().unwrap_or_else(PoisonError::into_inner));
    for pid in running {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            continue;
        };
        // SAFETY: kill and waitpid take plain integers and a null status pointer, which
        // waitpid accepts; `pid` is a child of this process that has not been reaped (it is
        // removed from RUNNING before its Child is waited for), so no other process is hit.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One line without its end, `None` at the end of the output.
fn read_line<R: BufRead>(reader: &mut R) -> Result<Option<String>, String> {
    let mut bytes = Vec::new();
    let read = io::Read::take(reader, MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', &mut bytes)
        .map_err(|error| format!("could not be read ({error})"))?;
    if read == 0 {
        return Ok(None);
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    } else if bytes.len() > MAX_LINE_BYTES {
        return Err(format!("is longer than {MAX_LINE_BYTES} bytes"));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| "is not UTF-8".to_string())
}
