//! The commands of the original three-terminal program, parsed from one line, and the text the
//! node prints for its tables. Pure: no I/O.

use crate::protocol::ledger::{short_hex, to_hex};
use crate::protocol::{Amount, ClientId, Ledger};
use crate::wording::count;

/// One line typed at the prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserCommand {
    Transfer {
        to: ClientId,
        amount: Amount,
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

pub const HELP: &str = "\
commands:
  transfer <to> <amount>   move <amount> of this node's money to node <to> (takes the mutex)
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
            to: parse_id(to, "transfer")?,
            amount: parse_amount(amount)?,
        }),
        ["transfer", ..] => {
            Err("cannot transfer: the command is transfer <to> <amount>, e.g. transfer 2 3".into())
        }
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
                to: ClientId::new(2),
                amount: 3
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
