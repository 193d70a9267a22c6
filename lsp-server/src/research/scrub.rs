//! The one scrub of everything research sends: `pencil-lsp research scrub`
//! de-identifies any corpus file, and [`upload_scrubber`] builds the scrubber
//! every upload goes through, both with `pencil_core::scrub`, the code the
//! trainer and every export use.

use anyhow::Context as _;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use pencil_core::scrub::{locate_names_dir, NameLists, Roster, ScrubCounts, Scrubber, DICTIONARY};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// Arguments of `pencil-lsp research scrub`.
#[derive(clap::Args, Debug)]
pub struct ScrubArgs {
    /// The corpus file (`.jsonl` or `.jsonl.gz`; one trace per line with `title` and `programs[].code`).
    input: PathBuf,
    /// The class roster: a CSV file with a `name` column, one person per row.
    #[arg(long)]
    roster: Option<PathBuf>,
    /// Where to write the scrubbed corpus (gzipped when it ends in `.gz`; created 0600).
    #[arg(long)]
    out: PathBuf,
    /// Folder with the Census name lists (default: $PENCIL_NAMES_DIR, else `.deps/names` above the current directory).
    #[arg(long)]
    names: Option<PathBuf>,
}

/// Runs `pencil-lsp research scrub`, reporting on `out`.
pub fn run(a: &ScrubArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let lists = NameLists::load(&locate_names_dir(a.names.as_deref()), Path::new(DICTIONARY))?;
    let mut scrubber = Scrubber::new(lists);
    if let Some(roster) = &a.roster {
        scrubber = scrubber.with_roster(Roster::load(roster)?);
    }
    let report = scrub_file(&scrubber, &a.input, &a.out)?;
    writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    Ok(())
}

/// File name of the roster kept for research uploads in the data directory (`research roster`).
pub const ROSTER_FILE: &str = "research-roster.csv";

/// The scrubber every research upload goes through: the published name lists
/// (required: without them nothing is sent), the class roster (`roster`, else
/// the one kept with `research roster`), and the name this student joined the
/// class under, which is a name as likely as any to be typed into a program.
pub fn upload_scrubber(
    names: Option<&Path>,
    roster: Option<&Path>,
    data_dir: &Path,
    extra_names: &[String],
) -> Result<Scrubber, ScrubSetupError> {
    let lists = NameLists::load(&locate_names_dir(names), Path::new(DICTIONARY))?;
    let kept = data_dir.join(ROSTER_FILE);
    let path = roster.map(Path::to_path_buf).or_else(|| kept.exists().then_some(kept));
    let roster = match &path {
        Some(p) => Roster::load(p).map_err(|e| ScrubSetupError::Roster(e.to_string()))?,
        None => Roster::default(),
    };
    let roster = roster.with_names(extra_names);
    Ok(Scrubber::new(lists).with_roster(roster))
}

/// The upload scrubber could not be set up; nothing is sent without it.
#[derive(Debug, thiserror::Error)]
pub enum ScrubSetupError {
    /// The name lists are missing.
    #[error(transparent)]
    Names(#[from] pencil_core::scrub::ScrubError),
    /// The roster could not be read.
    #[error("the class roster could not be read: {0}")]
    Roster(String),
}

/// What `scrub` did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScrubReport {
    /// Traces read.
    pub traces_in: usize,
    /// Traces written.
    pub traces_out: usize,
    /// Replacements per rule (and traces dropped for their title).
    pub counts: ScrubCounts,
}

/// Scrubs `input` into `output`. The output is written to a temporary file beside it
/// and renamed at the end, so a malformed line leaves no half-written corpus.
pub fn scrub_file(scrubber: &Scrubber, input: &Path, output: &Path) -> anyhow::Result<ScrubReport> {
    let file = std::fs::File::open(input).with_context(|| format!("opening {}", input.display()))?;
    let reader: Box<dyn Read> = if is_gz(input) { Box::new(MultiGzDecoder::new(file)) } else { Box::new(file) };
    let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new().prefix(".scrub-").tempfile_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
    let file = crate::store::create_private_file(tmp.path())?;
    let mut writer: Box<dyn Write> = if is_gz(output) {
        Box::new(GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::default()))
    } else {
        Box::new(std::io::BufWriter::new(file))
    };
    let mut report = ScrubReport { traces_in: 0, traces_out: 0, counts: ScrubCounts::default() };
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.with_context(|| format!("{}: reading line {}", input.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut trace: Value =
            serde_json::from_str(&line).with_context(|| format!("{}:{}: not a JSON object", input.display(), i + 1))?;
        report.traces_in += 1;
        if scrub_trace(scrubber, &mut trace, &mut report.counts).with_context(|| format!("{}:{}", input.display(), i + 1))? {
            serde_json::to_writer(&mut writer, &trace)?;
            writer.write_all(b"\n")?;
            report.traces_out += 1;
        }
    }
    writer.flush()?;
    drop(writer);
    tmp.persist(output).with_context(|| format!("writing {}", output.display()))?;
    Ok(report)
}

/// Scrubs one trace in place, keeping every field it does not scrub; false: drop it.
pub fn scrub_trace(scrubber: &Scrubber, trace: &mut Value, counts: &mut ScrubCounts) -> anyhow::Result<bool> {
    let title = trace.get("title").and_then(Value::as_str).context("a trace has no string `title`")?;
    if scrubber.drops_title(title) {
        counts.dropped_name_titles += 1;
        return Ok(false);
    }
    let programs = trace.get_mut("programs").and_then(Value::as_array_mut).context("a trace has no `programs` list")?;
    for p in programs {
        let code = p.get_mut("code").context("a program has no `code`")?;
        let text = code.as_str().context("a program's `code` is not a string")?;
        *code = Value::String(scrubber.scrub_program(text, counts));
    }
    Ok(true)
}

fn is_gz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn scrubber() -> Scrubber {
        let set = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        Scrubber::new(NameLists::from_lists(set(&["maya"]), set(&["lopez"]), set(&["house", "red"])))
            .with_roster(Roster::from_names(["Theo Quist"]))
    }

    #[test]
    fn scrubs_code_drops_name_titles_and_keeps_every_other_field() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("in.jsonl");
        std::fs::write(
            &input,
            concat!(
                r#"{"student":"s1","title":"house","eos":true,"extra":{"k":[1,2]},"programs":[{"n":1,"time":"t","code":"pen red\n# by Theo Quist, theo@x.org\n"}]}"#,
                "\n",
                r#"{"student":"s2","title":"quist car","programs":[{"code":"fd 1\n"}]}"#,
                "\n"
            ),
        )
        .expect("write");
        let out = dir.path().join("out.jsonl.gz");
        let report = scrub_file(&scrubber(), &input, &out).expect("scrub");
        assert_eq!((report.traces_in, report.traces_out), (2, 1));
        assert_eq!((report.counts.roster_names, report.counts.emails, report.counts.dropped_name_titles), (2, 1, 1));
        let mut text = String::new();
        MultiGzDecoder::new(std::fs::File::open(&out).expect("open")).read_to_string(&mut text).expect("gunzip");
        let v: Value = serde_json::from_str(text.trim()).expect("json");
        assert_eq!(v["programs"][0]["code"], "pen red\n# by <UNK> <UNK>, <UNK>\n");
        assert_eq!(v["extra"], serde_json::json!({"k": [1, 2]}));
        assert_eq!((v["student"].as_str(), v["eos"].as_bool(), v["programs"][0]["time"].as_str()), (Some("s1"), Some(true), Some("t")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&out).expect("stat").permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_malformed_line_is_named_and_nothing_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("in.jsonl");
        std::fs::write(&input, "{\"title\":\"a\",\"programs\":[]}\n{not json\n").expect("write");
        let out = dir.path().join("out.jsonl");
        let e = scrub_file(&scrubber(), &input, &out).expect_err("malformed");
        assert!(format!("{e:#}").contains("in.jsonl:2"), "{e:#}");
        assert!(!out.exists());
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1, "no temporary file left behind");
    }
}
