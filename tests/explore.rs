use lamport_ledger::explore::search::{SearchOptions, search};
use lamport_ledger::explore::settings;
use lamport_ledger::explore::system::SystemModel;

#[test]
fn scratch_scenarios() {
    for name in [
        "reorder-2",
        "default",
        "mutation-tiebreak-timestamp-only",
        "mutation-receive-clock-no-max",
        "mutation-release-pops-head",
        "mutation-unchained-hash",
        "loss-lamport",
        "crash-restart-ledger",
        "crash-restart-nothing",
        "duplication-lamport",
        "duplication-reply-count",
        "reorder-ricart-agrawala",
        "fifo-ricart-agrawala",
        "fifo-update-ack",
        "reorder-update-ack",
        "fifo-reply-count",
        "contention-5",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(format!("{name}.json"));
        let setup = match settings::load(&path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{name}: {e}");
                continue;
            }
        };
        let model = SystemModel::new(setup.system.clone());
        let mut options = SearchOptions::default();
        options.max_states = Some(3_000_000);
        let result = search(&model, &options);
        let s = &result.stats;
        eprintln!(
            "{name}: distinct {} transitions {} depth {} stop {:?} {:.3}s {:.0}/s interned {:?} expect {:?}",
            s.distinct,
            s.transitions,
            s.depth,
            s.stop,
            s.seconds,
            s.distinct as f64 / s.seconds,
            model.interned(),
            setup.expect.map(|e| e.0)
        );
        for f in &result.found {
            eprintln!(
                "   {} after {} steps: {}",
                f.finding.name,
                f.path.len(),
                f.finding.detail
            );
        }
    }
}

#[test]
#[ignore]
fn scratch_perf() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/default.json");
    let setup = settings::load(&path).unwrap();
    let model = SystemModel::new(setup.system.clone());
    let mut options = SearchOptions::default();
    options.max_states = Some(2_000_000);
    let result = search(&model, &options);
    let s = &result.stats;
    eprintln!(
        "distinct {} transitions {} {:.3}s {:.0}/s store {} enc {}",
        s.distinct,
        s.transitions,
        s.seconds,
        s.distinct as f64 / s.seconds,
        s.store_bytes,
        s.encoding_bytes
    );
}
