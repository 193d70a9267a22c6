//! `paper_success` agrees with the real Pencil Code runtime (headless
//! Chromium, the paper's rule) on the 2,577 labelled programs of
//! `shared/data/oracle/`: goal >= 99.5%.

mod common;

use common::{oracle_labels, Label};
use pencil_sandbox::{Sandbox, SandboxConfig, Verdict};

#[test]
fn paper_success_agrees_with_the_chromium_oracle() {
    let labels = oracle_labels();
    assert_eq!(labels.len(), 2577);
    let sandbox = Sandbox::new(SandboxConfig { pool_size: 2, ..common::contained() }).expect("sandbox");
    let verdicts: Vec<(&Label, Verdict)> = std::thread::scope(|scope| {
        let handles: Vec<_> = labels
            .chunks(labels.len().div_ceil(2))
            .map(|part| {
                let sb = sandbox.clone();
                scope.spawn(move || part.iter().map(|l| (l, sb.check(&l.code).expect("verdict"))).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("oracle thread")).collect()
    });
    let disagreements: Vec<_> = verdicts.iter().filter(|(l, v)| l.success != v.paper_success).collect();
    for (l, v) in &disagreements {
        eprintln!("disagreement {} (oracle {}: {}): ours {:?}", l.id, l.success, l.class, v);
    }
    let agreement = 1.0 - disagreements.len() as f64 / labels.len() as f64;
    eprintln!("agreement {:.2}% ({} of {} disagree)", 100.0 * agreement, disagreements.len(), labels.len());
    assert!(agreement >= 0.995, "agreement {:.2}% is below 99.5%", 100.0 * agreement);
}
