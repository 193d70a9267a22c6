//! Synthetic traces (the paper's "synthetic" variant): from a trace's final
//! program, a trace that builds it one Pencil Code instruction per edit,
//! never longer than the real trace, ending exactly at the real final program.

use pencil_core::{ProgramState, Trace};

/// Splits a program into instructions: each non-blank line with the blank
/// lines after it (leading blank lines go with the first one). Concatenated,
/// the instructions give back the program byte for byte.
pub fn instructions(code: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut has_text, mut pos) = (0, false, 0);
    for line in code.split_inclusive('\n') {
        let blank = line.trim().is_empty();
        if !blank && has_text {
            out.push(&code[start..pos]);
            start = pos;
        }
        has_text |= !blank;
        pos += line.len();
    }
    if pos > start {
        out.push(&code[start..pos]);
    }
    out
}

/// The synthetic trace of `trace`: its last `k` states are the prefixes of the
/// final program ending in its last `k` instructions, `k` = min(instructions,
/// real states). Timestamps are the real trace's last `k`. `None` for an empty trace.
pub fn synthesize(trace: &Trace) -> Option<Trace> {
    let last = trace.programs.last()?;
    let instr = instructions(&last.code);
    let k = instr.len().min(trace.programs.len()).max(1);
    let first_len = instr.len().saturating_sub(k) + 1;
    let times = &trace.programs[trace.programs.len() - k..];
    let programs = (0..k)
        .map(|j| {
            let n_instr = (first_len + j).min(instr.len());
            let code: String = instr[..n_instr].concat();
            ProgramState { n: u32::try_from(j + 1).unwrap_or(u32::MAX), time: times[j].time.clone(), code }
        })
        .collect();
    let mut provenance = trace.provenance.clone();
    provenance.source = format!("synthetic:{}", provenance.source);
    Some(Trace { programs, provenance, ..trace.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_concatenate_back() {
        let code = "\npen red\n\nfd 100\n  rt 90\n\n";
        let parts = instructions(code);
        assert_eq!(parts, vec!["\npen red\n\n", "fd 100\n", "  rt 90\n\n"]);
        assert_eq!(parts.concat(), code);
        assert_eq!(instructions(""), Vec::<&str>::new());
    }
}
