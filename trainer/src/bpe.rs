//! Training the byte-level BPE tokenizer on (scrubbed) trace texts.

use pencil_core::model::tokenizer::SPECIAL_TOKENS;
use pencil_core::model::TraceTokenizer;
use serde::Serialize;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};

/// Trains a byte-level BPE of `vocab` tokens (special tokens first, ids 0..6).
pub fn train_bpe(texts: &[String], vocab: usize) -> anyhow::Result<Tokenizer> {
    // No prefix space: code is not prose, and a leading space would shift every first token.
    let byte_level = ByteLevel::default().add_prefix_space(false);
    let mut tokenizer = Tokenizer::new(BPE::default());
    tokenizer.with_pre_tokenizer(Some(byte_level));
    tokenizer.with_decoder(Some(byte_level));
    let specials: Vec<AddedToken> = SPECIAL_TOKENS.iter().map(|t| AddedToken::from(*t, true)).collect();
    let trainer = BpeTrainerBuilder::new()
        .vocab_size(vocab)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(specials)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build();
    let mut trainer = TrainerWrapper::BpeTrainer(trainer);
    tokenizer.train(&mut trainer, texts.iter()).map_err(|e| anyhow::anyhow!("BPE training failed: {e}"))?;
    Ok(tokenizer)
}

/// How well a tokenizer covers a set of texts.
#[derive(Debug, Clone, Serialize)]
pub struct TokenizerReport {
    /// Vocabulary size, special tokens included.
    pub vocab_size: usize,
    /// Programs measured.
    pub programs: usize,
    /// Mean tokens per program.
    pub tokens_per_program: f64,
    /// Mean bytes per token.
    pub bytes_per_token: f64,
    /// Fraction of input bytes that did not survive encode -> decode.
    pub unknown_byte_rate: f64,
}

/// Measures tokens per program and the unknown-byte rate on `programs`.
pub fn measure(tok: &TraceTokenizer, programs: &[&str]) -> anyhow::Result<TokenizerReport> {
    let (mut tokens, mut bytes, mut lost) = (0usize, 0usize, 0usize);
    for p in programs {
        let ids = tok.encode(p)?;
        tokens += ids.len();
        bytes += p.len();
        let back = tok.decode(&ids)?;
        if back != *p {
            lost += p.len().abs_diff(back.len()).max(1);
        }
    }
    let n = programs.len().max(1) as f64;
    Ok(TokenizerReport {
        vocab_size: tok.vocab_size(),
        programs: programs.len(),
        tokens_per_program: tokens as f64 / n,
        bytes_per_token: bytes as f64 / tokens.max(1) as f64,
        unknown_byte_rate: lost as f64 / bytes.max(1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trains_round_trips_and_keeps_special_tokens_whole() {
        let texts: Vec<String> = (0..50)
            .map(|i| format!("house<mask><start>CODE 1 (2019-01-01 00:00:0{}):\npen red\nfd {}\nrt 90\n<|endoftext|>", i % 10, i * 10))
            .collect();
        let tok = TraceTokenizer::from_tokenizer(train_bpe(&texts, 300).expect("train")).expect("specials");
        assert_eq!(tok.special.mask, 0);
        let ids = tok.encode("<UNK> fd 100<start>").expect("encode");
        assert_eq!(ids[0], tok.special.unk);
        assert_eq!(*ids.last().expect("ids"), tok.special.start);
        let progs = ["pen blue\nfd 100\n", "write 'héllo ☃'\n"];
        let report = measure(&tok, &progs).expect("measure");
        assert_eq!(report.unknown_byte_rate, 0.0);
        assert!(report.tokens_per_program > 1.0);
    }
}
