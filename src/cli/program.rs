//! The words that start this program again from where the user is, for every command it
//! prints for the user to type (`rerun:`, the replay lines of `sweep`, `shrink`'s rerun, the
//! next steps after the default run). After `cargo run --release` the binary is not on the
//! `PATH`, so `lamport-ledger run …` would not work there; `cargo run --release -- run …` does.
//!
//! The choice is made once, from the program name and the environment, in the command-line
//! layer and passed down; what it prints is text for people only: no trace, digest or record
//! depends on it.

use std::ffi::OsStr;
use std::path::Path;

use super::run::shell_quote;

/// The name under which `cargo install --path .` puts the binary on the `PATH`.
const INSTALLED_NAME: &str = "lamport-ledger";

/// How to start this program again, as words a shell takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Program {
    /// `lamport-ledger`, `cargo run --release --` or the path the user typed.
    words: String,
    /// Started by `cargo run` (or a `cargo test` of this package): the binary is not on the
    /// `PATH` unless the user installs it.
    by_cargo: bool,
}

impl Default for Program {
    fn default() -> Self {
        Program {
            words: INSTALLED_NAME.to_string(),
            by_cargo: false,
        }
    }
}

impl Program {
    /// This process: its name as started (`argv[0]`), and whether cargo started it for this
    /// package (cargo sets `CARGO` and `CARGO_PKG_NAME` for the programs it runs).
    pub(crate) fn of_this_process(argv0: Option<&OsStr>) -> Program {
        let cargo_set = std::env::var_os("CARGO").is_some();
        let package = std::env::var_os("CARGO_PKG_NAME");
        let by_cargo = cargo_set && package.as_deref() == Some(OsStr::new(env!("CARGO_PKG_NAME")));
        Program::from_parts(argv0, by_cargo)
    }

    /// The program started as `argv0`: a bare name was found on the `PATH` and works as it
    /// is; a path under cargo's target folder, with cargo as the starter, becomes the `cargo
    /// run` of that profile; any other path works as typed from the same folder.
    pub(crate) fn from_parts(argv0: Option<&OsStr>, started_by_cargo: bool) -> Program {
        let Some(typed) = argv0
            .and_then(OsStr::to_str)
            .filter(|text| !text.is_empty())
        else {
            return Program::default();
        };
        if !typed.contains('/') {
            return Program {
                words: shell_quote(typed),
                by_cargo: false,
            };
        }
        if started_by_cargo && let Some(profile) = cargo_profile_folder(Path::new(typed)) {
            return Program {
                words: cargo_run_words(profile),
                by_cargo: true,
            };
        }
        Program {
            words: shell_quote(typed),
            by_cargo: false,
        }
    }

    /// Started by cargo, so not on the `PATH` unless the user installs it.
    pub(crate) fn by_cargo(&self) -> bool {
        self.by_cargo
    }

    /// `rest` (a subcommand and its arguments, already quoted) as a command the user can type.
    /// The words alone: `lamport-ledger`, `cargo run --release --` or the path as typed.
    pub(crate) fn words(&self) -> &str {
        &self.words
    }

    pub(crate) fn command(&self, rest: &str) -> String {
        format!("{} {rest}", self.words)
    }
}

/// The profile folder a cargo-built binary sits in (`target/release/lamport-ledger` ->
/// `release`).
fn cargo_profile_folder(binary: &Path) -> Option<&str> {
    binary.parent()?.file_name()?.to_str()
}

/// `cargo run` with the flag that selects the profile whose folder is `folder`: `debug` is
/// the `dev` profile's folder, `release` the release profile's, any other its own profile's.
fn cargo_run_words(folder: &str) -> String {
    match folder {
        "debug" => "cargo run --".to_string(),
        "release" => "cargo run --release --".to_string(),
        other => format!("cargo run --profile {} --", shell_quote(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(argv0: &str, by_cargo: bool) -> String {
        Program::from_parts(Some(OsStr::new(argv0)), by_cargo).command("run --seed 1")
    }

    #[test]
    fn cargo_run_is_named_with_the_profile_it_built() {
        assert_eq!(
            words("target/release/lamport-ledger", true),
            "cargo run --release -- run --seed 1"
        );
        assert_eq!(
            words("/home/me/ll/target/debug/lamport-ledger", true),
            "cargo run -- run --seed 1"
        );
        assert_eq!(
            words("target/optimized/lamport-ledger", true),
            "cargo run --profile optimized -- run --seed 1"
        );
        assert!(Program::from_parts(Some(OsStr::new("target/release/x")), true).by_cargo());
    }

    #[test]
    fn a_name_from_the_path_or_a_typed_path_is_kept_as_typed() {
        assert_eq!(words("lamport-ledger", true), "lamport-ledger run --seed 1");
        assert_eq!(
            words("target/release/lamport-ledger", false),
            "target/release/lamport-ledger run --seed 1"
        );
        assert_eq!(words("./my ledger", false), "'./my ledger' run --seed 1");
        assert!(!Program::from_parts(Some(OsStr::new("lamport-ledger")), true).by_cargo());
    }

    #[test]
    fn no_usable_name_means_the_installed_one() {
        assert_eq!(
            Program::from_parts(None, true).command("run"),
            "lamport-ledger run"
        );
        assert_eq!(
            Program::from_parts(Some(OsStr::new("")), false).command("run"),
            "lamport-ledger run"
        );
    }
}
