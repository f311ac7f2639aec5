//! The commands a user types at the node's prompt.

use std::io;
use std::time::{Duration, Instant};

use super::super::prompt::{self, UserCommand};
use super::{LiveClient, Node, Note};
use crate::protocol::Command;
use crate::wording::count;

impl<C: LiveClient> Node<C> {
    /// A line from standard input: run now, or after the script's pause.
    pub(super) fn line(&mut self, line: String) -> io::Result<()> {
        if self.paused_until.is_some() {
            self.after_pause.push_back(line);
            return Ok(());
        }
        self.command(&line)?;
        if !self.exit {
            self.prompt();
        }
        Ok(())
    }

    /// Ends the script's pause once it is over, and runs the lines that came in meanwhile
    /// (until one of them pauses again).
    pub(super) fn resume_script(&mut self, now: Instant) -> io::Result<()> {
        if self.paused_until.is_some_and(|until| until <= now) {
            self.paused_until = None;
        }
        while self.paused_until.is_none()
            && !self.exit
            && let Some(line) = self.after_pause.pop_front()
        {
            self.command(&line)?;
            if !self.exit {
                self.prompt();
            }
        }
        Ok(())
    }

    fn pause(&mut self, pause: Duration) {
        if self.interactive {
            self.console.say(
                "wait pauses a script of commands (from a pipe or a file); at the prompt, type \
                 the next command when you are ready",
            );
        } else {
            self.paused_until = Some(Instant::now() + pause);
        }
    }

    pub(super) fn command(&mut self, line: &str) -> io::Result<()> {
        let command = match prompt::parse_command(line) {
            Ok(command) => command,
            Err(sentence) => {
                self.console.say(&sentence);
                return Ok(());
            }
        };
        match command {
            UserCommand::Nothing => {}
            UserCommand::Help => self.console.say(prompt::HELP),
            UserCommand::Wait { pause } => self.pause(pause),
            UserCommand::Exit => {
                self.say_unfinished();
                self.exit = true;
            }
            UserCommand::PrintBalanceTable => {
                let text = prompt::balance_table(self.id, self.client.ledger());
                self.console.say(&text);
            }
            UserCommand::PrintBlockchain => {
                let text = prompt::blockchain(self.id, self.client.ledger());
                self.console.say(&text);
            }
            UserCommand::Balance { of } => {
                let command = Command::ReadBalance {
                    of: of.unwrap_or(self.id),
                };
                if let Err(error) = self.client.validate(&command) {
                    self.console.say(&format!("cannot read a balance: {error}"));
                    return Ok(());
                }
                self.client
                    .handle_command(command, &mut self.outbox)
                    .expect("the command was validated");
                self.after_step(None)?;
            }
            UserCommand::Transfer { from, to, amount } => {
                if let Some(from) = from.filter(|&from| from != self.id) {
                    self.console.say(&format!(
                        "cannot transfer from node {from} at node {}: a node moves only its own \
                         money, so type it at node {from} (the original program let any client \
                         debit any account)",
                        self.id
                    ));
                    return Ok(());
                }
                let command = Command::Transfer { to, amount };
                if let Err(error) = self.client.validate(&command) {
                    self.console.say(&format!("cannot transfer: {error}"));
                    return Ok(());
                }
                let note = Note {
                    number: self.next_transfer,
                    to,
                    amount,
                };
                self.next_transfer += 1;
                if self.joined {
                    self.hand_over(note)?;
                } else {
                    let silent = self.not_synced();
                    self.console.say(&format!(
                        "{}: accepted; it waits until this node has heard from {} before it \
                         asks for the mutex",
                        note.name(),
                        self.describe_peers(&silent)
                    ));
                    self.held.push_back(note);
                }
            }
        }
        Ok(())
    }

    /// Gives a transfer to the client.
    pub(super) fn hand_over(&mut self, note: Note) -> io::Result<()> {
        let busy = self.current.is_some() || !self.accepted.is_empty();
        let ahead = self.accepted.len() + usize::from(self.current.is_some());
        self.accepted.push_back(note);
        if busy {
            self.console.say(&format!(
                "{}: queued behind {} of this node",
                note.name(),
                count(ahead, "earlier transfer")
            ));
        }
        self.client
            .handle_command(
                Command::Transfer {
                    to: note.to,
                    amount: note.amount,
                },
                &mut self.outbox,
            )
            .expect("the command was validated");
        self.after_step(None)
    }

    pub(super) fn say_unfinished(&mut self) {
        // Only a transfer whose REQUEST went out leaves anything behind at the peers.
        if let Some(current) = &self.current {
            let state = if current.entered {
                "inside the critical section"
            } else {
                "waiting for the mutex"
            };
            self.console.say(&format!(
                "exiting with {} ({state}) not finished: its request stays in the peers' \
                 queues, so their transfers wait until every node is restarted",
                current.note.name()
            ));
        }
        let never_asked: Vec<String> = self
            .accepted
            .iter()
            .chain(&self.held)
            .map(Note::name)
            .collect();
        if !never_asked.is_empty() {
            self.console.say(&format!(
                "exiting with {} not started: no request went out for {}, so nothing is left \
                 behind at the peers; {} dropped",
                never_asked.join(", "),
                if never_asked.len() == 1 { "it" } else { "them" },
                if never_asked.len() == 1 {
                    "it is"
                } else {
                    "they are"
                },
            ));
        }
    }
}
