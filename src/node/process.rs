//! One child process and its pipes: a buffered writer on its standard input, and its standard
//! output read in the calling thread, a line at a time from a buffer that each read fills with
//! whatever the node has written, waiting with `poll` up to a deadline in real time (a node that
//! hangs is reported, not waited for). A step costs one write and, as a node writes its step's
//! lines at once, one read: no thread stands between the simulator and the pipe.

use std::io::{self, BufWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// The longest line read from a node; a longer one is an error, not an unbounded allocation.
const MAX_LINE_BYTES: usize = 1 << 20;
/// How much one read asks for: a step's lines, many times over.
const READ_CHUNK_BYTES: usize = 1 << 16;
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
    stdout: ChildStdout,
    /// Bytes read from the node and not yet handed out as lines, from `unread` on.
    buffer: Vec<u8>,
    unread: usize,
    /// The node closed its output.
    ended: bool,
}

impl Process {
    /// Starts `command` through `sh -c`, its standard error left to ours. The shell execs the
    /// command, so that the process stopped is the program itself, not a shell around it. The
    /// program gets a process group of its own, so that a Ctrl-C typed at the terminal reaches
    /// lamport-ledger alone, which then stops every node in order rather than have each die
    /// mid-step.
    pub fn spawn(command: &str) -> io::Result<Process> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()?;
        register(child.id());
        let stdin = child.stdin.take().map(BufWriter::new);
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("the node's standard output is not a pipe"))?;
        Ok(Process {
            child,
            stdin,
            stdout,
            buffer: Vec::with_capacity(READ_CHUNK_BYTES),
            unread: 0,
            ended: false,
        })
    }

    /// Writes one input line and flushes it: the node waits for it.
    pub fn send(&mut self, line: &str) -> io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::BrokenPipe))?;
        let sent = stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush());
        unless_stopping(sent)
    }

    /// The next line the node writes, without its end, waiting until `deadline` at most.
    pub fn read(&mut self, deadline: Instant) -> Result<String, ReadFailure> {
        unless_stopping(self.read_line(deadline))
    }

    fn read_line(&mut self, deadline: Instant) -> Result<String, ReadFailure> {
        loop {
            if let Some(line) = self.buffered_line()? {
                return Ok(line);
            }
            if self.ended {
                return Err(ReadFailure::Ended(self.exit_status()));
            }
            self.fill(deadline)?;
        }
    }

    /// The next complete line in the buffer, or at the end of the output the unterminated
    /// rest, if any.
    fn buffered_line(&mut self) -> Result<Option<String>, ReadFailure> {
        let unread = &self.buffer[self.unread..];
        let (line, consumed) = match unread.iter().position(|&byte| byte == b'\n') {
            Some(end) => (&unread[..end], end + 1),
            None if self.ended && !unread.is_empty() => (unread, unread.len()),
            None if unread.len() > MAX_LINE_BYTES => {
                return Err(ReadFailure::Bad(format!(
                    "is longer than {MAX_LINE_BYTES} bytes"
                )));
            }
            None => return Ok(None),
        };
        if line.len() > MAX_LINE_BYTES {
            return Err(ReadFailure::Bad(format!(
                "is longer than {MAX_LINE_BYTES} bytes"
            )));
        }
        let line = std::str::from_utf8(line)
            .map(str::to_string)
            .map_err(|_| ReadFailure::Bad("is not UTF-8".to_string()))?;
        self.unread += consumed;
        Ok(Some(line))
    }

    /// Waits until the node has written something (or closed its output) and appends it to the
    /// buffer, dropping the lines already handed out.
    fn fill(&mut self, deadline: Instant) -> Result<(), ReadFailure> {
        self.buffer.drain(..self.unread);
        self.unread = 0;
        self.wait_readable(deadline)?;
        let filled = self.buffer.len();
        self.buffer.resize(filled + READ_CHUNK_BYTES, 0);
        let read = loop {
            match self.stdout.read(&mut self.buffer[filled..]) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let read = read.map_err(|error| {
            self.buffer.truncate(filled);
            ReadFailure::Bad(format!("could not be read ({error})"))
        })?;
        self.buffer.truncate(filled + read);
        self.ended = read == 0;
        Ok(())
    }

    /// Waits until the node's output can be read without blocking, or `deadline` passes.
    fn wait_readable(&self, deadline: Instant) -> Result<(), ReadFailure> {
        let mut poll_fd = libc::pollfd {
            fd: self.stdout.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ReadFailure::TimedOut);
            }
            // Rounded up, so that a wait never ends just before the deadline and spins.
            let left_ms = left
                .as_micros()
                .div_ceil(1000)
                .min(libc::c_int::MAX as u128);
            // SAFETY: `poll_fd` is one valid, initialised pollfd that lives across the call,
            // and the count passed is 1; the descriptor is the open read end of the pipe that
            // `self.stdout` owns.
            let ready = unsafe { libc::poll(&mut poll_fd, 1, left_ms as libc::c_int) };
            match ready {
                0 => continue,
                ready if ready > 0 => return Ok(()),
                _ => {
                    let error = io::Error::last_os_error();
                    if error.kind() != io::ErrorKind::Interrupted {
                        return Err(ReadFailure::Bad(format!("could not be read ({error})")));
                    }
                }
            }
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
        kill_group(self.child.id());
        let _ = self.child.wait();
    }
}

/// Kills the node and whatever it started: the program leads a process group of its own
/// (see [`Process::spawn`]), so that the processes a command starts around or under the
/// program go with it.
fn kill_group(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill takes plain integers; `-pid` names the process group the node leads, and
    // the node is not yet reaped, so the group id cannot have passed to another process.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

/// The node processes started and not yet reaped, by process id.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Set once an interrupt stops every node ([`stop_all`]), just before the program exits.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// `result`, unless it failed while an interrupt stops the nodes: then the node's pipe broke
/// because the handler killed it, and this thread waits for the handler to end the program
/// with 130 rather than report a node failure (exit code 2) first.
fn unless_stopping<T, E>(result: Result<T, E>) -> Result<T, E> {
    if result.is_err() && STOPPING.load(Ordering::SeqCst) {
        loop {
            thread::park();
        }
    }
    result
}

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
/// program without running destructors (every caller exits next).
pub fn stop_all() {
    STOPPING.store(true, Ordering::SeqCst);
    let running = std::mem::take(&mut *RUNNING.lock().unwrap_or_else(PoisonError::into_inner));
    for pid in running {
        kill_group(pid);
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            continue;
        };
        // SAFETY: waitpid takes a plain integer and a null status pointer, which it accepts;
        // `pid` is a child of this process that has not been reaped (it is removed from
        // RUNNING before its Child is waited for), so no other process is reaped.
        unsafe {
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}
