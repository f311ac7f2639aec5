//! The commands of the original three-terminal program, parsed from one line, and the text the
//! node prints for its tables. Pure: no I/O.

use std::time::Duration;

use crate::protocol::ledger::{short_hex, to_hex};
use crate::protocol::{Amount, ClientId, Ledger};
use crate::wording::count;

/// One line typed at the prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserCommand {
    /// `transfer <to> <amount>`, or the original program's `transfer <from> <to> <amount>`.
    Transfer {
        from: Option<ClientId>,
        to: ClientId,
        amount: Amount,
    },
    /// `wait <seconds>`: a script's pause before its next command.
    Wait {
        pause: Duration,
    },
    /// `balance` (the own one) or `balance <id>`.
    Balance {
        of: Option<ClientId>,
    },
    PrintBalanceTable,
    PrintBlockchain,
    Help,
    Exit,
    /// An empty line.
    Nothing,
}

/// The longest `wait`.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

pub const HELP: &str = "\
commands:
  transfer <to> <amount>   move <amount> of this node's money to node <to> (takes the mutex);
                           transfer <from> <to> <amount> also works, with this node as <from>
  wait <seconds>           in a script of commands, pause before the next one
  balance [<id>]           read this node's table (no mutex, no messages; it may be stale)
  print balance table      every balance in this node's table
  print blockchain         this node's ledger, block by block
  help                     this list
  exit                     stop this node (its ledger stays in --data-dir)";

/// Parses a line; the error is one sentence that changes nothing.
pub fn parse_command(line: &str) -> Result<UserCommand, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [] => Ok(UserCommand::Nothing),
        ["transfer", to, amount] => Ok(UserCommand::Transfer {
            from: None,
            to: parse_id(to, "transfer")?,
            amount: parse_amount(amount)?,
        }),
        ["transfer", from, to, amount] => Ok(UserCommand::Transfer {
            from: Some(parse_id(from, "transfer")?),
            to: parse_id(to, "transfer")?,
            amount: parse_amount(amount)?,
        }),
        ["transfer", ..] => Err(
            "cannot transfer: the command is transfer <to> <amount> (or \
                                 transfer <from> <to> <amount>), e.g. transfer 2 3"
                .into(),
        ),
        ["wait", seconds] => Ok(UserCommand::Wait {
            pause: parse_seconds(seconds)?,
        }),
        ["wait", ..] => Err("cannot wait: the command is wait <seconds>, e.g. wait 2".into()),
        ["balance"] => Ok(UserCommand::Balance { of: None }),
        ["balance", id] => Ok(UserCommand::Balance {
            of: Some(parse_id(id, "read a balance")?),
        }),
        ["print", "balance", "table"] => Ok(UserCommand::PrintBalanceTable),
        ["print", "blockchain"] => Ok(UserCommand::PrintBlockchain),
        ["help"] => Ok(UserCommand::Help),
        ["exit"] | ["quit"] => Ok(UserCommand::Exit),
        _ => Err(format!(
            "unknown command {:?}: type help for the commands",
            line.trim()
        )),
    }
}

fn parse_id(word: &str, doing: &str) -> Result<ClientId, String> {
    word.parse().map_err(|_| {
        format!("cannot {doing}: {word:?} is not a node id (node ids are whole numbers from 1)")
    })
}

/// A pause of at most [`MAX_WAIT`], in seconds (`2`, `0.5`).
fn parse_seconds(word: &str) -> Result<Duration, String> {
    let seconds: f64 = word.parse().map_err(|_| {
        format!("cannot wait: {word:?} is not a number of seconds (e.g. wait 2, or wait 0.5)")
    })?;
    if !(0.0..=MAX_WAIT.as_secs_f64()).contains(&seconds) {
        return Err(format!(
            "cannot wait: {word} seconds is outside 0 to {} (one hour)",
            MAX_WAIT.as_secs()
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_amount(word: &str) -> Result<Amount, String> {
    if word.starts_with('-') {
        return Err(format!(
            "cannot transfer: the amount must be a positive whole number, not {word}"
        ));
    }
    word.parse()
        .map_err(|_| format!("cannot transfer: the amount {word:?} is not a whole number of units"))
}

/// `print balance table`.
pub fn balance_table(node: ClientId, ledger: &Ledger) -> String {
    let table = ledger.table();
    let mut text = format!(
        "balance table of node {node} ({}):",
        count(ledger.len(), "block")
    );
    for (slot, balance) in table.iter().enumerate() {
        text.push_str(&format!("\n  node {}: {balance}", slot + 1));
    }
    text.push_str(&format!("\n  total: {}", table.total()));
    text
}

/// `print blockchain`.
pub fn blockchain(node: ClientId, ledger: &Ledger) -> String {
    let mut text = format!(
        "blockchain of node {node}: {}, head {}",
        count(ledger.len(), "block"),
        to_hex(&ledger.head_hash())
    );
    for block in ledger.blocks() {
        text.push_str(&format!(
            "\n  block {}: node {} pays {} to node {}, request ({},{}), prev {}, hash {}",
            block.index(),
            block.from(),
            block.amount(),
            block.to(),
            block.ts(),
            block.from(),
            short_hex(&block.prev()),
            short_hex(&block.hash_value())
        ));
    }
    text
}

/// "node 3", "nodes 2 and 3", "nodes 2, 3 and 4".
pub fn name_nodes(ids: &[ClientId]) -> String {
    match ids {
        [] => "no node".into(),
        [one] => format!("node {one}"),
        [init @ .., last] => format!(
            "nodes {} and {last}",
            init.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_commands_parse() {
        assert_eq!(
            parse_command("  transfer 2   3 "),
            Ok(UserCommand::Transfer {
                from: None,
                to: ClientId::new(2),
                amount: 3
            })
        );
        assert_eq!(
            parse_command("transfer 1 2 3"),
            Ok(UserCommand::Transfer {
                from: Some(ClientId::new(1)),
                to: ClientId::new(2),
                amount: 3
            })
        );
        assert_eq!(
            parse_command("wait 2"),
            Ok(UserCommand::Wait {
                pause: Duration::from_secs(2)
            })
        );
        assert_eq!(
            parse_command("wait 0.25"),
            Ok(UserCommand::Wait {
                pause: Duration::from_millis(250)
            })
        );
        assert_eq!(
            parse_command("balance"),
            Ok(UserCommand::Balance { of: None })
        );
        assert_eq!(
            parse_command("balance 3"),
            Ok(UserCommand::Balance {
                of: Some(ClientId::new(3))
            })
        );
        assert_eq!(
            parse_command("print balance table"),
            Ok(UserCommand::PrintBalanceTable)
        );
        assert_eq!(
            parse_command("print blockchain"),
            Ok(UserCommand::PrintBlockchain)
        );
        assert_eq!(parse_command(""), Ok(UserCommand::Nothing));
        assert_eq!(parse_command("exit"), Ok(UserCommand::Exit));
    }

    #[test]
    fn mistakes_are_one_sentence() {
        assert!(
            parse_command("transfer 2 -3")
                .unwrap_err()
                .contains("positive whole number")
        );
        assert!(
            parse_command("transfer 2 1.5")
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(
            parse_command("transfer x 1")
                .unwrap_err()
                .contains("\"x\" is not a node id")
        );
        assert!(
            parse_command("transfer 2")
                .unwrap_err()
                .contains("transfer <to> <amount>")
        );
        assert!(
            parse_command("transfer 1 2 3 4")
                .unwrap_err()
                .contains("transfer <from> <to> <amount>")
        );
        assert!(
            parse_command("transfer x 2 3")
                .unwrap_err()
                .contains("\"x\" is not a node id")
        );
        for (line, answer) in [
            ("wait", "wait <seconds>"),
            ("wait 1 2", "wait <seconds>"),
            ("wait soon", "\"soon\" is not a number of seconds"),
            ("wait -1", "outside 0 to 3600"),
            ("wait 4000", "outside 0 to 3600"),
            ("wait NaN", "outside 0 to 3600"),
        ] {
            let refused = parse_command(line).unwrap_err();
            assert!(refused.contains(answer), "{line}: {refused}");
        }
        assert!(
            parse_command("withdraw 3")
                .unwrap_err()
                .starts_with("unknown command")
        );
    }

    #[test]
    fn tables_show_every_node_and_the_chain() {
        let mut ledger = Ledger::new(vec![10, 10, 10]);
        ledger
            .commit(1, ClientId::new(1), ClientId::new(2), 3)
            .unwrap();
        let table = balance_table(ClientId::new(1), &ledger);
        assert!(
            table.contains("node 1: 7\n  node 2: 13\n  node 3: 10\n  total: 30"),
            "{table}"
        );
        let chain = blockchain(ClientId::new(1), &ledger);
        assert!(chain.contains("block 0: node 1 pays 3 to node 2, request (1,1), prev 00000000"));
        assert!(chain.starts_with("blockchain of node 1: 1 block, head 4ee7f3f9"));
        assert_eq!(
            name_nodes(&[ClientId::new(2), ClientId::new(3)]),
            "nodes 2 and 3"
        );
        assert_eq!(
            name_nodes(&[ClientId::new(1), ClientId::new(2), ClientId::new(3)]),
            "nodes 1, 2 and 3"
        );
    }
}
