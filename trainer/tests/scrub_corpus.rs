//! The scrub on the public corpus with the real names lists (installed by
//! scripts/setup.sh): no comment keeps a first name that is not also a common
//! word, and the `#Firstname Lastname` headers students write become `#<UNK> <UNK>`.

use std::path::Path;

use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_trainer::scrub::{locate_names_dir, NameLists, ScrubCounts, Scrubber, DICTIONARY};

#[test]
fn public_corpus_keeps_no_first_names_in_comments() {
    let lists = NameLists::load(&locate_names_dir(None), Path::new(DICTIONARY)).expect("names lists (run scripts/setup.sh)");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/public/trace-model.jsonl.gz");
    let traces = read_corpus(&corpus, ReadOptions::default()).expect("corpus").traces;
    let scrubber = Scrubber::new(lists.clone());
    let mut counts = ScrubCounts::default();
    let kept = scrubber.scrub_traces(traces, &mut counts);
    assert!(counts.dropped_name_titles > 0 && counts.names > 1000 && counts.urls > 0 && counts.short_strings > 0, "{counts:?}");
    let (mut headers, mut leaks) = (0, Vec::new());
    for t in &kept {
        assert!(!t.title.to_lowercase().contains("name"));
        for p in &t.programs {
            for line in p.code.lines() {
                let Some(i) = line.find('#') else { continue };
                let comment = &line[i..];
                if comment.trim() == "#<UNK> <UNK>" {
                    headers += 1;
                }
                for w in comment.split(|c: char| !c.is_ascii_alphabetic()).filter(|w| w.len() >= 3) {
                    let lw = w.to_lowercase();
                    if lists.first.contains(&lw) && !lists.common.contains(&lw) {
                        leaks.push(comment.len());
                    }
                }
            }
        }
    }
    // Lengths only: the test must not print what it found.
    assert!(leaks.is_empty(), "{} comments keep a first name", leaks.len());
    assert!(headers > 100, "only {headers} name headers scrubbed");
}
