//! Sessions without HTTP: moves, undo and branching, violations, and exports that `run`
//! replays to the same trace, byte for byte.

use std::sync::{Arc, Mutex};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::export::export;
use super::*;
use crate::base::Invariant;
use crate::protocol::ClientId;
use crate::runner::run_scenario;
use crate::scenario::parse_scenario;
use crate::trace::TraceOutput;

fn scenario(file: &str) -> Scenario {
    let path = format!("{}/scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    parse_scenario(&text, &format!("scenarios/{file}")).unwrap()
}

fn c(id: u32) -> ClientId {
    ClientId::new(id)
}

/// The moves that break mutual exclusion in reorder-2: c1's REQUEST m0 stays in flight while
/// c2's REQUEST m1 is answered by c1's REPLY m2, which lets c2 enter.
pub(crate) fn reorder_2_moves() -> Vec<Move> {
    vec![
        Move::Issue { client: c(1) },
        Move::Issue { client: c(2) },
        Move::Deliver { msg_id: 1 },
        Move::Deliver { msg_id: 2 },
        Move::Deliver { msg_id: 0 },
        Move::Deliver { msg_id: 3 },
    ]
}

/// The trace `run` writes for `scenario`, and its digest.
fn run_trace(scenario: &Scenario) -> (Vec<u8>, String) {
    let bytes = Arc::new(Mutex::new(Vec::new()));
    struct Out(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Out {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let output: TraceOutput = Box::new(Out(Arc::clone(&bytes)));
    let report = run_scenario(scenario, RunOptions::default(), vec![output], &mut []).unwrap();
    let trace = bytes.lock().unwrap().clone();
    (trace, report.digest_hex)
}

use crate::sim::RunOptions;

/// Exports `session` and checks that `run` writes exactly the exported trace.
fn assert_run_replays(session: &Session, context: &str) -> export::Exported {
    let exported = export(session).unwrap();
    let scenario = parse_scenario(&exported.scenario_json, "played.json").unwrap();
    let (trace, digest) = run_trace(&scenario);
    if trace != exported.trace {
        let ours = String::from_utf8_lossy(&exported.trace);
        let theirs = String::from_utf8_lossy(&trace);
        for (line, (a, b)) in ours.lines().zip(theirs.lines()).enumerate() {
            assert_eq!(
                a,
                b,
                "{context}: line {} differs; moves {:?}",
                line + 1,
                session.moves()
            );
        }
        assert_eq!(ours.lines().count(), theirs.lines().count(), "{context}");
    }
    assert_eq!(digest, exported.digest_hex, "{context}");
    exported
}

#[test]
fn delivering_the_reply_before_the_request_breaks_mutual_exclusion_in_reorder_2() {
    let session = Session::with_moves(&scenario("reorder-2.json"), &reorder_2_moves()).unwrap();
    assert!(session.played().world.stopped());
    assert!(
        session.choices().is_empty(),
        "a violation stops the session"
    );
    let last = &session.played().steps.last().unwrap().events;
    let kinds: Vec<&str> = last.iter().map(|event| event.kind.name()).collect();
    assert!(
        kinds.contains(&"enter") && kinds.contains(&"violation"),
        "{kinds:?}"
    );
    let exported = assert_run_replays(&session, "reorder-2");
    assert_eq!(exported.violated, Some(Invariant::MutualExclusion));
    let view = view::view(&session, false);
    let violation = view.violation.unwrap();
    assert_eq!(violation.invariant, "mutual_exclusion");
    assert_eq!(violation.step, 6);
    assert!(view.challenge.done);
    // The explanation of c2's entry names what it cannot know.
    let session =
        Session::with_moves(&scenario("reorder-2.json"), &reorder_2_moves()[..4]).unwrap();
    let view = view::view(&session, false);
    assert!(
        view.explained
            .contains("the earlier request (1,1) is not in its queue"),
        "{}",
        view.explained
    );
}

#[test]
fn a_fifo_link_refuses_to_deliver_a_later_message_first() {
    let mut session = Session::new(&scenario("default.json")).unwrap();
    session.make(Move::Issue { client: c(1) }).unwrap();
    // c1's REQUESTs m0 (to c2) and m1 (to c3) are on different links: both may arrive.
    assert!(
        session
            .choices()
            .iter()
            .all(|choice| choice.blocked.is_none())
    );
    let error = session.make(Move::Deliver { msg_id: 7 }).unwrap_err();
    assert!(error.to_string().contains("not possible"), "{error}");
}

#[test]
fn undo_goes_back_and_a_different_move_branches() {
    let moves = reorder_2_moves();
    let mut session = Session::with_moves(&scenario("reorder-2.json"), &moves).unwrap();
    let full: Vec<u64> = session.played().events().map(|event| event.seq).collect();
    session.undo().unwrap();
    assert_eq!(session.moves(), &moves[..5]);
    assert!(!session.played().world.stopped());
    session.go_back(2).unwrap();
    assert_eq!(session.moves(), &moves[..2]);
    assert_eq!(session.redo_moves().len(), 4);
    session.redo().unwrap();
    assert_eq!(session.moves(), &moves[..3]);
    assert_eq!(session.redo_moves().len(), 3);
    // Branch: deliver c1's REQUEST first this time; the undone moves are forgotten.
    session.make(Move::Deliver { msg_id: 0 }).unwrap();
    assert!(session.redo_moves().is_empty());
    let branched = Session::with_moves(
        &scenario("reorder-2.json"),
        &[moves[0], moves[1], moves[2], Move::Deliver { msg_id: 0 }],
    )
    .unwrap();
    let a: Vec<String> = session
        .played()
        .events()
        .map(|e| format!("{e:?}"))
        .collect();
    let b: Vec<String> = branched
        .played()
        .events()
        .map(|e| format!("{e:?}"))
        .collect();
    assert_eq!(a, b, "a branch is the same as playing it from the start");
    assert!(full.len() > a.len());
    assert_run_replays(&session, "branched");
}

/// Random paths, faults included, on every kind of scenario: the exported scenario's run
/// writes the session's trace byte for byte.
#[test]
fn random_paths_with_faults_export_to_scenarios_run_replays_exactly() {
    let (mut faults, mut violated, mut moves) = (0, 0, 0);
    for (file, seeds) in [
        ("reorder-2.json", 0..12),
        ("default.json", 0..8),
        ("crash-restart-ledger.json", 0..8),
        ("crash-restart-nothing.json", 0..6),
        ("duplication-lamport.json", 0..8),
        ("loss-lamport.json", 0..6),
        ("partition-heal.json", 0..4),
        ("fifo-update-ack.json", 0..4),
        ("reorder-ricart-agrawala.json", 0..4),
        ("contention-5.json", 0..3),
    ] {
        let scenario = scenario(file);
        for seed in seeds {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut session = Session::new(&scenario).unwrap();
            let length = rng.random_range(0..60);
            for _ in 0..length {
                let choices: Vec<Choice> = session
                    .choices()
                    .into_iter()
                    .filter(|choice| choice.blocked.is_none())
                    .collect();
                if choices.is_empty() {
                    break;
                }
                let choice = &choices[rng.random_range(0..choices.len())];
                session.make(choice.mv).unwrap();
            }
            let exported = assert_run_replays(&session, &format!("{file} seed {seed}"));
            faults += session.moves().iter().filter(|mv| mv.is_fault()).count();
            violated += usize::from(exported.violated.is_some());
            moves += session.moves().len();
        }
    }
    // The paths do what they are meant to: faults and violations among them.
    eprintln!("{moves} moves, {faults} faults, {violated} violations");
    assert!(
        faults > 30 && violated > 5 && moves > 500,
        "{moves} {faults} {violated}"
    );
}

#[test]
fn the_seed_chooses_the_same_steps_every_time() {
    let scenario = scenario("default.json");
    let mut a = Session::new(&scenario).unwrap();
    let mut b = Session::new(&scenario).unwrap();
    assert_eq!(a.auto(25).unwrap(), 25);
    b.auto(10).unwrap();
    b.auto(15).unwrap();
    assert_eq!(a.moves().len(), 25);
    let c = Session::with_moves(&scenario, a.moves()).unwrap();
    assert_eq!(c.moves(), a.moves());
    assert!(a.moves().iter().all(|mv| !mv.is_fault()));
    assert_run_replays(&a, "auto");
    assert_run_replays(&b, "auto in two parts");
    // Played to the end: nothing left, the run is quiescent.
    let mut d = Session::new(&scenario).unwrap();
    d.auto(MAX_AUTO_STEPS).unwrap();
    assert!(d.choices().is_empty());
    let exported = assert_run_replays(&d, "to the end");
    assert!(String::from_utf8_lossy(&exported.trace).contains("\"end\":\"quiescent\""));
}

#[test]
fn the_challenge_hint_finds_the_next_move_towards_two_clients_inside() {
    let scenario = scenario("reorder-2.json");
    let session = Session::with_moves(&scenario, &reorder_2_moves()[..2]).unwrap();
    let search::Found::Way(path) = search::search(&session.setup, &session.played().world) else {
        panic!("a way exists");
    };
    assert_eq!(path.len(), 4, "{path:?}");
    let mut done = Session::with_moves(&scenario, session.moves()).unwrap();
    for mv in &path {
        done.make(*mv).unwrap();
    }
    assert!(challenge::reached(
        &done.played().events().cloned().collect::<Vec<_>>()
    ));
    let info = view::trace_info(&session);
    let hints = challenge::challenge(&session, &info, true).hints;
    let last = hints.last().unwrap();
    assert!(
        last.contains("4 more moves can do it. Next: deliver m"),
        "{hints:?}"
    );
    assert!(last.contains("ENTERS"), "{last}");
    assert!(
        last.contains("the earlier request (1,1) is not in its queue"),
        "{last}"
    );
    assert!(
        hints
            .iter()
            .any(|hint| hint.starts_with("c1 waits") || hint.starts_with("c2 waits")),
        "{hints:?}"
    );
}

#[test]
fn the_faults_a_scenario_allows_are_offered_and_no_others() {
    let kinds = |file: &str, moves: u64| {
        let mut session = Session::new(&scenario(file)).unwrap();
        session.auto(moves).unwrap();
        let mut kinds: Vec<&str> = session
            .choices()
            .iter()
            .filter(|choice| choice.fault)
            .map(|choice| match choice.mv {
                Move::Drop { .. } => "drop",
                Move::Duplicate { .. } => "duplicate",
                Move::Crash { .. } => "crash",
                Move::Restart { .. } => "restart",
                _ => unreachable!("only faults are marked"),
            })
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    };
    assert!(kinds("reorder-2.json", 2).is_empty());
    assert_eq!(kinds("duplication-lamport.json", 2), ["duplicate"]);
    assert_eq!(kinds("loss-lamport.json", 2), ["drop"]);
    assert_eq!(kinds("crash-restart-ledger.json", 2), ["crash"]);
    // A crashed client is offered its restart, and its messages are lost on arrival.
    let mut session = Session::new(&scenario("crash-restart-ledger.json")).unwrap();
    let crash = session
        .choices()
        .into_iter()
        .find(|choice| matches!(choice.mv, Move::Crash { .. }))
        .unwrap();
    session.make(crash.mv).unwrap();
    let Move::Crash { client } = crash.mv else {
        unreachable!()
    };
    assert!(
        session
            .choices()
            .iter()
            .any(|choice| choice.mv == Move::Restart { client })
    );
    assert!(
        !session
            .choices()
            .iter()
            .any(|choice| choice.mv == Move::Issue { client })
    );
    assert_run_replays(&session, "crashed");
}

#[test]
fn a_hint_on_a_larger_scenario_says_how_far_the_search_looked() {
    for file in ["default.json", "contention-5.json"] {
        let mut session = Session::new(&scenario(file)).unwrap();
        session.auto(6).unwrap();
        let info = view::trace_info(&session);
        let hints = challenge::challenge(&session, &info, true).hints;
        let last = hints.last().unwrap();
        assert!(
            last.contains("gave up after 5000 states") || last.contains("No way within"),
            "{file}: {last}"
        );
    }
}

#[test]
fn with_fifo_links_the_search_finds_no_way_to_two_clients_inside() {
    let mut fifo = scenario("reorder-2.json");
    fifo.network.fifo = true;
    let session = Session::with_moves(&fifo, &reorder_2_moves()[..2]).unwrap();
    assert!(matches!(
        search::search(&session.setup, &session.played().world),
        search::Found::NoneNear
    ));
    let info = view::trace_info(&session);
    let hints = challenge::challenge(&session, &info, true).hints;
    assert!(
        hints.last().unwrap().starts_with("No way within 14 moves"),
        "{hints:?}"
    );
}
