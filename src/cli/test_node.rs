//! `lamport-ledger test-node --node-cmd CMD`: the battery a teacher runs on a student's client
//! (docs/nodes.md): conformance, determinism, the FIFO-reliable swarm that must hold, then each
//! assumption switched off to show what breaks, every failure with its shrunk scenario file and
//! the command that reruns it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use super::program::Program;
use super::run::{require_node_cmd, shell_quote, stdout_error};
use super::{CliError, EXIT_OK, EXIT_VIOLATION};
use crate::hunt::SeedRange;
use crate::hunt::battery::{
    Assumption, Battery, Determinism, Failure, Outcome, PartReport, Verdict,
};
use crate::scenario::{DEFAULT_STEP_TIMEOUT_MS, NodeProgram, Scenario};

#[derive(Debug, Args)]
pub(super) struct TestNodeArgs {
    /// The client program, run by `sh -c` once per client (docs/nodes.md).
    #[arg(long, value_name = "CMD")]
    node_cmd: String,
    /// The seeds every swarm part runs, `A..B` (B excluded) or `A..=B`.
    #[arg(long, default_value = "0..8", value_name = "A..B")]
    seeds: SeedRange,
    /// The folder for the scenario files of the failures (created when needed).
    #[arg(long, default_value = "test-node-out", value_name = "DIR")]
    out: PathBuf,
    /// The most runs one shrink may take: a program's run costs a process per client.
    #[arg(long, default_value_t = 40, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    shrink_runs: u64,
    /// How long one step of the program may take in real time, in milliseconds.
    #[arg(long, default_value_t = DEFAULT_STEP_TIMEOUT_MS, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    step_timeout_ms: u64,
    /// A report for people, or one JSON object for grading scripts.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// A failure as the report gives it: the file written and the command that reruns it.
struct Written {
    file: PathBuf,
    rerun: String,
}

pub(super) fn test_node_command(args: &TestNodeArgs, program: &Program) -> Result<u8, CliError> {
    require_node_cmd(&args.node_cmd)?;
    let battery = Battery {
        node: NodeProgram {
            cmd: args.node_cmd.clone(),
            step_timeout_ms: args.step_timeout_ms,
        },
        seeds: args.seeds,
        shrink_runs: args.shrink_runs,
    };
    let mut report = Report::new(args, program);
    report.heading()?;
    let conformance = battery.conformance().map_err(stdout_error)?;
    report.conformance(&conformance)?;
    if matches!(conformance.verdict, Verdict::NodeFailed(_)) {
        return report.finish();
    }
    let determinism = battery.determinism().map_err(stdout_error)?;
    let written = if determinism.passed() {
        None
    } else {
        let scenario = battery.scenario(Assumption::FifoReliable, determinism.seed);
        let name = format!("determinism-seed{}", determinism.seed);
        Some(report.write(&scenario, &name, " --check-determinism")?)
    };
    report.determinism(&determinism, written.as_ref())?;
    for assumption in Assumption::ALL {
        let part = battery.part(assumption).map_err(stdout_error)?;
        let written = part
            .failure
            .as_ref()
            .map(|failure| {
                report.write(
                    failure_scenario(failure),
                    &file_name(assumption, failure),
                    "",
                )
            })
            .transpose()?;
        report.part(&part, written.as_ref())?;
    }
    report.finish()
}

/// The name of a failure's scenario file, after its part and seed.
fn file_name(assumption: Assumption, failure: &Failure) -> String {
    match failure.seed {
        Some(seed) => format!("{}-seed{seed}", assumption.name()),
        None => format!("{}-default", assumption.name()),
    }
}

/// The file a failure is rerun from: the shrunk scenario, or the drawn one when there is none.
fn failure_scenario(failure: &Failure) -> &Scenario {
    match &failure.shrunk {
        Ok(shrunk) => &shrunk.scenario,
        Err(_) => &failure.scenario,
    }
}

/// The report, written part by part in text, or gathered into one JSON object.
struct Report<'a> {
    args: &'a TestNodeArgs,
    program: &'a Program,
    json: Value,
    /// Whether what must hold held so far: conformance, determinism, FIFO-reliable.
    passed: bool,
    /// The broken assumptions that broke the client.
    broke: Vec<&'static str>,
}

impl<'a> Report<'a> {
    fn new(args: &'a TestNodeArgs, program: &'a Program) -> Report<'a> {
        Report {
            args,
            program,
            json: json!({
                "node_cmd": args.node_cmd,
                "seeds": args.seeds.to_string(),
                "parts": [],
            }),
            passed: true,
            broke: Vec::new(),
        }
    }

    fn text(&self) -> bool {
        self.args.format == Format::Text
    }

    fn say(&self, lines: &str) -> Result<(), CliError> {
        if !self.text() {
            return Ok(());
        }
        let mut out = io::stdout().lock();
        out.write_all(lines.as_bytes())
            .and_then(|()| out.flush())
            .map_err(stdout_error)
    }

    fn heading(&self) -> Result<(), CliError> {
        self.say(&format!(
            "test-node: {}, seeds {}\n\n",
            self.args.node_cmd, self.args.seeds
        ))
    }

    fn conformance(&mut self, outcome: &Outcome) -> Result<(), CliError> {
        let (passed, detail) = match &outcome.verdict {
            Verdict::NodeFailed(sentence) => (false, sentence.clone()),
            _ => (
                true,
                "the default scenario: every line well formed, every step ended by done, no \
                 effect for a client that does not exist"
                    .to_string(),
            ),
        };
        self.passed &= passed;
        self.json["conformance"] = json!({"passed": passed, "detail": detail});
        let rerun = self.program.command(&format!(
            "run --node-cmd {}",
            shell_quote(&self.args.node_cmd)
        ));
        if passed {
            self.say(&row("conformance", "ok", &detail))
        } else {
            self.json["conformance"]["rerun"] = json!(rerun);
            self.say(&format!(
                "{}{}{}",
                row("conformance", "FAILED", &detail),
                more("rerun", &rerun),
                more(
                    "",
                    "the other parts need a node that speaks the wire protocol: skipped"
                ),
            ))
        }
    }

    fn determinism(
        &mut self,
        check: &Determinism,
        written: Option<&Written>,
    ) -> Result<(), CliError> {
        let passed = check.passed();
        self.passed &= passed;
        let digest = |outcome: &Outcome| match (&outcome.digest_hex, &outcome.verdict) {
            (Some(digest), _) => digest.clone(),
            (None, Verdict::NodeFailed(sentence)) => format!("no digest: {sentence}"),
            (None, _) => "no digest".to_string(),
        };
        let (first, second) = (digest(&check.first), digest(&check.second));
        self.json["determinism"] = json!({
            "passed": passed, "seed": check.seed, "digests": [first, second],
        });
        if passed {
            let short = first.get(..16).unwrap_or(&first);
            let detail = format!(
                "fifo-reliable seed {} twice: digest {short}… both times",
                check.seed
            );
            return self.say(&row("determinism", "ok", &detail));
        }
        let detail = format!(
            "fifo-reliable seed {} twice gave two runs: {first}, then {second}",
            check.seed
        );
        let mut text = row("determinism", "FAILED", &detail);
        if let Some(written) = written {
            self.json["determinism"]["file"] = json!(written.file.display().to_string());
            self.json["determinism"]["rerun"] = json!(written.rerun);
            text += &more("rerun", &written.rerun);
        }
        self.say(&text)
    }

    fn part(&mut self, part: &PartReport, written: Option<&Written>) -> Result<(), CliError> {
        let assumption = part.assumption;
        let mut entry = json!({
            "assumption": assumption.name(),
            "conditions": assumption.described(),
            "must_hold": assumption.must_hold(),
            "runs": part.runs,
            "passed": part.passed(),
        });
        let text = match (&part.failure, written) {
            (Some(failure), Some(written)) => {
                if assumption.must_hold() {
                    self.passed = false;
                } else {
                    self.broke.push(assumption.name());
                }
                entry["failure"] = failure_json(failure, written);
                failure_text(assumption, failure, written)
            }
            _ => {
                let detail = format!(
                    "{}: {} held every invariant, every transfer finished",
                    assumption.described(),
                    runs_phrase(assumption, part.runs)
                );
                row(assumption.name(), "held", &detail)
            }
        };
        self.json["parts"]
            .as_array_mut()
            .expect("parts is an array")
            .push(entry);
        self.say(&text)
    }

    /// Writes the scenario a failure reruns from under `--out` and says how to rerun it.
    fn write(&self, scenario: &Scenario, name: &str, flags: &str) -> Result<Written, CliError> {
        let file = self.args.out.join(format!("{name}.json"));
        let mut pinned = scenario.clone();
        pinned.name = format!("test-node-{name}");
        pinned.description = format!(
            "Written by `lamport-ledger test-node` for its failure {name}; the `node` key names \
             the program it ran."
        );
        let json =
            serde_json::to_string_pretty(&pinned.to_file()).expect("a scenario serialises") + "\n";
        write_file(&self.args.out, &file, &json)?;
        let rerun = self.program.command(&format!(
            "run {}{flags}",
            shell_quote(&file.display().to_string())
        ));
        Ok(Written { file, rerun })
    }

    fn finish(mut self) -> Result<u8, CliError> {
        self.json["passed"] = json!(self.passed);
        self.json["broken_by"] = json!(self.broke);
        if !self.text() {
            let mut out = io::stdout().lock();
            let text = serde_json::to_string(&self.json).expect("a report serialises") + "\n";
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(stdout_error)?;
        } else {
            let verdict = if self.passed {
                format!(
                    "\nverdict: PASSED: the client holds every invariant under the paper's \
                     assumptions; {} of the 4 broken assumptions broke it{}\n",
                    self.broke.len(),
                    if self.broke.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " ({}), as expected of the paper's algorithm",
                            self.broke.join(", ")
                        )
                    }
                )
            } else {
                "\nverdict: FAILED: the client does not hold under the paper's assumptions (see \
                 above)\n"
                    .to_string()
            };
            self.say(&verdict)?;
        }
        Ok(if self.passed { EXIT_OK } else { EXIT_VIOLATION })
    }
}

fn failure_json(failure: &Failure, written: &Written) -> Value {
    let mut value = json!({
        "seed": failure.seed,
        "scenario": failure.seed.map_or("the built-in default scenario", |_| "a swarm seed"),
        "file": written.file.display().to_string(),
        "rerun": written.rerun,
    });
    match &failure.verdict {
        Verdict::Violated { invariant, detail } => {
            value["invariant"] = json!(invariant.name());
            value["detail"] = json!(detail);
        }
        Verdict::NodeFailed(sentence) => {
            value["node_failed"] = json!(sentence);
        }
        Verdict::Held => {}
    }
    match &failure.shrunk {
        Ok(shrunk) => {
            value["shrunk"] = json!({
                "before": shrunk.before.to_string(),
                "after": shrunk.after.to_string(),
                "runs": shrunk.attempts,
            });
        }
        Err(why) => value["not_shrunk"] = json!(why),
    }
    value
}

fn failure_text(assumption: Assumption, failure: &Failure, written: &Written) -> String {
    let status = if assumption.must_hold() {
        "FAILED"
    } else {
        "broke"
    };
    let what = match &failure.verdict {
        Verdict::Violated { invariant, detail } => format!("{invariant}: {detail}"),
        Verdict::NodeFailed(sentence) => sentence.clone(),
        Verdict::Held => String::new(),
    };
    let mut text = row(
        assumption.name(),
        status,
        &format!(
            "{}: {}: {what}",
            assumption.described(),
            failed_run(failure)
        ),
    );
    match &failure.shrunk {
        Ok(shrunk) => {
            text += &more(
                "shrunk",
                &format!(
                    "{} -> {} ({} runs)",
                    shrunk.before, shrunk.after, shrunk.attempts
                ),
            );
        }
        Err(why) => text += &more("not shrunk", why),
    }
    text += &more("file", &written.file.display().to_string());
    text += &more("rerun", &written.rerun);
    text
}

fn failed_run(failure: &Failure) -> String {
    match failure.seed {
        Some(seed) => format!("seed {seed}"),
        None => "the default scenario".to_string(),
    }
}

fn runs_phrase(assumption: Assumption, runs: u64) -> String {
    let runs = if runs == 1 {
        "1 run".to_string()
    } else {
        format!("{runs} runs")
    };
    if assumption.must_hold() {
        format!("{runs} (the default scenario and the seeds)")
    } else {
        runs
    }
}

/// A report row: the part, its status, what it showed.
fn row(part: &str, status: &str, detail: &str) -> String {
    format!("{part:<14}{status:<7}{detail}\n")
}

/// A continuation line under a row.
fn more(label: &str, detail: &str) -> String {
    let label = if label.is_empty() {
        String::new()
    } else {
        format!("{label}: ")
    };
    format!("{:<21}{label}{detail}\n", "")
}

fn write_file(dir: &Path, file: &Path, text: &str) -> Result<(), CliError> {
    let io_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| CliError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    std::fs::write(file, text).map_err(io_error(file))
}
