//! Readers and writers for trace corpora.
//!
//! Two input formats are recognised by content, gzipped or not:
//! - **JSON Lines** (the project's corpus format, `../shared/data/public/*.jsonl.gz`):
//!   one `{"source", "student", "title", "eos", "programs": [{"n", "time", "code"}]}` per line;
//! - **rollouts** (the paper's raw format): one JSON list of `[trace_text, user_hash, title]`,
//!   whose `trace_text` is parsed with [`crate::text_format::parse`].
//!
//! Every error names the file and the line (JSON Lines) or record (rollouts).
//! Traces are returned as written: consecutive duplicates are *not* collapsed
//! here, because the paper's metrics count them.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use crate::text_format;
use crate::trace::{ProgramState, Provenance, Trace};

/// A corpus file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The file could not be opened.
    #[error("{file}: cannot open: {source}")]
    Open {
        /// The file.
        file: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Reading stopped early (for example a truncated gzip stream).
    #[error("{file}:{line}: cannot read further ({source}); is the file truncated?")]
    Read {
        /// The file.
        file: PathBuf,
        /// 1-based line being read when the error happened.
        line: usize,
        /// The cause.
        source: io::Error,
    },
    /// One record is malformed.
    #[error("{file}:{line}: {reason}")]
    BadRecord {
        /// The file.
        file: PathBuf,
        /// 1-based line (JSON Lines) or 1-based record number (rollouts).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file is neither JSON Lines nor a rollout list.
    #[error("{file}: not a trace corpus: {reason}")]
    Format {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// How strictly to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Skip malformed records (and a truncated tail) instead of failing; they
    /// are reported in [`Corpus::skipped`].
    pub skip_bad: bool,
}

/// The traces read from one file.
#[derive(Debug, Default)]
pub struct Corpus {
    /// Traces in file order; `provenance.index` is the 0-based line (or record).
    pub traces: Vec<Trace>,
    /// Errors that were skipped under [`ReadOptions::skip_bad`].
    pub skipped: Vec<CorpusError>,
    /// Rollout records whose text held no program (the paper drops them too).
    pub empty_traces: usize,
}

/// One line of a JSON Lines corpus, as stored.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    #[serde(default)]
    source: Option<String>,
    student: String,
    title: String,
    #[serde(default = "default_eos")]
    eos: bool,
    programs: Vec<ProgramState>,
}

fn default_eos() -> bool {
    true
}

/// Reads a corpus file in either format (see the module docs).
pub fn read_corpus(path: &Path, opts: ReadOptions) -> Result<Corpus, CorpusError> {
    let file = File::open(path).map_err(|source| CorpusError::Open { file: path.to_path_buf(), source })?;
    let mut reader = open_maybe_gzip(BufReader::new(file)).map_err(|source| CorpusError::Read {
        file: path.to_path_buf(),
        line: 1,
        source,
    })?;
    let first = first_non_space(&mut reader).map_err(|source| CorpusError::Read { file: path.to_path_buf(), line: 1, source })?;
    match first {
        Some(b'[') => read_rollouts(path, reader, opts),
        Some(b'{') | None => read_jsonl(path, reader, opts),
        Some(other) => Err(CorpusError::Format {
            file: path.to_path_buf(),
            reason: format!("expected JSON Lines or a JSON list, found byte {other:#04x} first"),
        }),
    }
}

/// Reads traces from an in-memory JSON Lines text (tests, standard input).
pub fn read_jsonl_str(name: &str, text: &str, opts: ReadOptions) -> Result<Corpus, CorpusError> {
    read_jsonl(Path::new(name), Box::new(BufReader::new(text.as_bytes())), opts)
}

/// Writes traces as JSON Lines (one record per line), the format [`read_corpus`] reads.
pub fn write_jsonl<W: Write>(mut out: W, traces: &[Trace]) -> io::Result<()> {
    for t in traces {
        let rec = Record {
            source: Some(t.provenance.source.clone()),
            student: t.student.clone(),
            title: t.title.clone(),
            eos: t.eos,
            programs: t.programs.clone(),
        };
        serde_json::to_writer(&mut out, &rec)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

type DynRead<'a> = Box<dyn BufRead + 'a>;

fn open_maybe_gzip(mut r: BufReader<File>) -> io::Result<DynRead<'static>> {
    let magic = r.fill_buf()?;
    if magic.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::new(MultiGzDecoder::new(r))))
    } else {
        Ok(Box::new(r))
    }
}

/// Peeks the first non-whitespace byte without consuming anything else.
fn first_non_space(r: &mut DynRead<'_>) -> io::Result<Option<u8>> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => return Ok(Some(buf[i])),
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
}

fn read_jsonl(path: &Path, mut reader: DynRead<'_>, opts: ReadOptions) -> Result<Corpus, CorpusError> {
    let mut corpus = Corpus::default();
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        line_no += 1;
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(source) => {
                let err = CorpusError::Read { file: path.to_path_buf(), line: line_no, source };
                if opts.skip_bad {
                    corpus.skipped.push(err);
                    break;
                }
                return Err(err);
            }
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_record(&buf) {
            Ok(rec) => corpus.traces.push(Trace {
                student: rec.student,
                title: rec.title,
                programs: rec.programs,
                eos: rec.eos,
                provenance: Provenance {
                    source: rec.source.unwrap_or_default(),
                    file: Some(path.display().to_string()),
                    index: Some(line_no - 1),
                },
            }),
            Err(reason) => {
                let err = CorpusError::BadRecord { file: path.to_path_buf(), line: line_no, reason };
                if !opts.skip_bad {
                    return Err(err);
                }
                corpus.skipped.push(err);
            }
        }
    }
    Ok(corpus)
}

fn parse_record(bytes: &[u8]) -> Result<Record, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 ({e})"))?;
    serde_json::from_str::<Record>(text.trim_end()).map_err(|e| format!("bad trace record: {e}"))
}

fn read_rollouts(path: &Path, mut reader: DynRead<'_>, opts: ReadOptions) -> Result<Corpus, CorpusError> {
    let mut bytes = Vec::new();
    if let Err(source) = reader.read_to_end(&mut bytes) {
        let line = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
        return Err(CorpusError::Read { file: path.to_path_buf(), line, source });
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        CorpusError::BadRecord { file: path.to_path_buf(), line, reason: format!("not UTF-8 ({e})") }
    })?;
    let items: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| CorpusError::BadRecord {
        file: path.to_path_buf(),
        line: e.line(),
        reason: format!("bad rollout JSON: {e}"),
    })?;
    let mut corpus = Corpus::default();
    for (i, item) in items.into_iter().enumerate() {
        let fields = item.as_array().and_then(|a| match a.as_slice() {
            [text, user, title] => Some((text.as_str()?, user.as_str()?, title.as_str()?)),
            _ => None,
        });
        let Some((trace_text, user, title)) = fields else {
            let err = CorpusError::BadRecord {
                file: path.to_path_buf(),
                line: i + 1,
                reason: "rollout record is not [trace_text, user_hash, title]".into(),
            };
            if !opts.skip_bad {
                return Err(err);
            }
            corpus.skipped.push(err);
            continue;
        };
        let provenance = Provenance {
            source: "rollout".into(),
            file: Some(path.display().to_string()),
            index: Some(i),
        };
        let trace = text_format::parse_trace(trace_text, user, Some(title), provenance);
        if trace.programs.is_empty() {
            corpus.empty_traces += 1;
            continue;
        }
        corpus.traces.push(trace);
    }
    Ok(corpus)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};

    const GOOD: &str = r#"{"source":"trace-model","student":"s1","title":"car","eos":true,"programs":[{"n":1,"time":"2019-05-09 16:18:59","code":"fd 1\n"}]}"#;

    fn write_tmp(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("tmp");
        f.write_all(bytes).expect("write");
        f
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).expect("gz");
        e.finish().expect("gz")
    }

    #[test]
    fn reads_plain_and_gzipped_jsonl() {
        let text = format!("{GOOD}\n\n{GOOD}\n");
        for bytes in [text.as_bytes().to_vec(), gzip(text.as_bytes())] {
            let f = write_tmp(&bytes);
            let c = read_corpus(f.path(), ReadOptions::default()).expect("read");
            assert_eq!(c.traces.len(), 2);
            assert_eq!(c.traces[1].provenance.index, Some(2));
            assert_eq!(c.traces[0].programs[0].code, "fd 1\n");
        }
    }

    fn expect_bad(bytes: &[u8], line: usize, needle: &str) {
        let f = write_tmp(bytes);
        let err = read_corpus(f.path(), ReadOptions::default()).expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.contains(&format!("{}:{line}:", f.path().display())), "{msg}");
        assert!(msg.contains(needle), "{msg}");
        let c = read_corpus(f.path(), ReadOptions { skip_bad: true }).expect("skip-bad reads");
        assert_eq!(c.skipped.len(), 1, "{:?}", c.skipped);
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        expect_bad(format!("{GOOD}\n{{not json\n{GOOD}\n").as_bytes(), 2, "bad trace record");
        expect_bad(format!("{GOOD}\n{{\"student\":\"x\",\"programs\":[]}}\n").as_bytes(), 2, "missing field `title`");
        let mut non_utf8 = format!("{GOOD}\n{GOOD}\n").into_bytes();
        non_utf8.extend_from_slice(b"{\"student\":\"\xff\"}\n");
        expect_bad(&non_utf8, 3, "not UTF-8");
    }

    #[test]
    fn truncated_gzip_is_reported_and_skippable() {
        let text = format!("{GOOD}\n").repeat(200);
        let gz = gzip(text.as_bytes());
        let cut = &gz[..gz.len() * 2 / 3];
        let f = write_tmp(cut);
        let err = read_corpus(f.path(), ReadOptions::default()).expect_err("truncated");
        assert!(matches!(err, CorpusError::Read { .. } | CorpusError::BadRecord { .. }), "{err}");
        assert!(err.to_string().contains(&f.path().display().to_string()));
        let c = read_corpus(f.path(), ReadOptions { skip_bad: true }).expect("skip-bad");
        assert!(!c.skipped.is_empty());
        assert!(c.traces.len() < 200 && !c.traces.is_empty());
    }

    #[test]
    fn reads_rollouts() {
        let json = r#"[["car<mask><start>CODE 1 (2019-05-09 16:18:59):\nfd 1\nCODE 2 (2019-05-09 16:19:00):\nfd 2<|endoftext|><pad>", "u1", "car"],
                       ["car<mask><start>CODE 1 (x):\nfd", "u2", "car"]]"#;
        let f = write_tmp(json.as_bytes());
        let c = read_corpus(f.path(), ReadOptions::default()).expect("read");
        assert_eq!(c.traces.len(), 1);
        assert_eq!(c.empty_traces, 1);
        assert_eq!(c.traces[0].programs.len(), 2);
        assert!(c.traces[0].eos);
        assert_eq!(c.traces[0].student, "u1");
        let bad = write_tmp(br#"[["only", "two"]]"#);
        assert!(read_corpus(bad.path(), ReadOptions::default()).is_err());
        assert_eq!(read_corpus(bad.path(), ReadOptions { skip_bad: true }).expect("skip").skipped.len(), 1);
    }

    #[test]
    fn jsonl_writer_round_trips() {
        let f = write_tmp(format!("{GOOD}\n").as_bytes());
        let c = read_corpus(f.path(), ReadOptions::default()).expect("read");
        let mut out = Vec::new();
        write_jsonl(&mut out, &c.traces).expect("write");
        let back = read_jsonl_str("mem", std::str::from_utf8(&out).expect("utf8"), ReadOptions::default()).expect("read back");
        assert_eq!(back.traces[0].programs, c.traces[0].programs);
        assert_eq!(back.traces[0].student, "s1");
    }

    /// The public corpus, written in the paper's raw rollout shape (title
    /// region, end tokens, `<pad>` tail) and read back, gives the same traces.
    #[test]
    fn rollout_reader_agrees_with_corpus_on_real_traces() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/public/trace-model.jsonl.gz");
        let corpus = read_corpus(&path, ReadOptions::default()).expect("corpus");
        let sample: Vec<&Trace> = corpus.traces.iter().filter(|t| t.eos).step_by(7).take(500).collect();
        let items: Vec<serde_json::Value> = sample
            .iter()
            .map(|t| {
                let text = text_format::write(t, 49).expect("writable") + &"<|endoftext|>".repeat(3) + &"<pad>".repeat(5);
                serde_json::json!([text, t.student, t.title])
            })
            .collect();
        let f = write_tmp(serde_json::to_string_pretty(&items).expect("json").as_bytes());
        let back = read_corpus(f.path(), ReadOptions::default()).expect("rollouts");
        assert_eq!(back.traces.len(), sample.len());
        for (a, b) in sample.iter().zip(&back.traces) {
            assert_eq!((&a.student, &a.title, &a.programs, a.eos), (&b.student, &b.title, &b.programs, b.eos));
        }
    }
}
