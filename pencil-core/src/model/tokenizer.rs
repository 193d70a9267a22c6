//! Loading the trace tokenizer (`tokenizer.json`, a byte-level BPE trained by
//! `pencil-trainer tokenizer`) and the special tokens the model relies on.

use std::path::Path;

use crate::text_format::{END_OF_TEXT, MASK, PAD, START};

/// Replaces a scrubbed person name or short string literal.
pub const UNK: &str = "<UNK>";
/// Replaces a scrubbed URL.
pub const URL: &str = "<URL>";
/// Every special token, in the order they get the first ids.
pub const SPECIAL_TOKENS: [&str; 6] = [MASK, START, END_OF_TEXT, PAD, UNK, URL];

/// A tokenizer could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// The file could not be read or parsed.
    #[error("{path}: cannot load tokenizer: {reason}")]
    Load {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A special token the model needs is missing.
    #[error("tokenizer has no single id for the special token {0:?}")]
    MissingSpecial(&'static str),
    /// Encoding failed.
    #[error("cannot encode text: {0}")]
    Encode(String),
}

/// Ids of the special tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialIds {
    /// `<mask>`.
    pub mask: u32,
    /// `<start>`.
    pub start: u32,
    /// `<|endoftext|>`.
    pub end_of_text: u32,
    /// `<pad>`.
    pub pad: u32,
    /// `<UNK>`.
    pub unk: u32,
    /// `<URL>`.
    pub url: u32,
}

/// The trace tokenizer with its special ids resolved.
pub struct TraceTokenizer {
    inner: tokenizers::Tokenizer,
    /// Ids of the special tokens.
    pub special: SpecialIds,
}

impl TraceTokenizer {
    /// Loads `tokenizer.json`.
    pub fn load(path: &Path) -> Result<Self, TokenizerError> {
        let inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| TokenizerError::Load { path: path.display().to_string(), reason: e.to_string() })?;
        Self::from_tokenizer(inner)
    }

    /// Wraps an in-memory tokenizer (e.g. one just trained).
    pub fn from_tokenizer(inner: tokenizers::Tokenizer) -> Result<Self, TokenizerError> {
        let id = |t: &'static str| inner.token_to_id(t).ok_or(TokenizerError::MissingSpecial(t));
        let special = SpecialIds {
            mask: id(MASK)?,
            start: id(START)?,
            end_of_text: id(END_OF_TEXT)?,
            pad: id(PAD)?,
            unk: id(UNK)?,
            url: id(URL)?,
        };
        Ok(TraceTokenizer { inner, special })
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Vocabulary size, special tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Token ids of a text; special tokens written in the text map to their ids.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        let enc = self.inner.encode(text, false).map_err(|e| TokenizerError::Encode(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of token ids, special tokens kept.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        self.inner.decode(ids, false).map_err(|e| TokenizerError::Encode(e.to_string()))
    }

    /// The title region as ids: the title's tokens cut to `title_tokens`,
    /// `<mask>` padding up to `title_tokens`, then `<start>`. With `masked`
    /// the title itself is masked too (as for 15% of training titles).
    pub fn title_region(&self, title: &str, title_tokens: usize, masked: bool) -> Result<Vec<u32>, TokenizerError> {
        let mut ids = if masked { Vec::new() } else { self.encode(title)? };
        ids.truncate(title_tokens);
        ids.resize(title_tokens, self.special.mask);
        ids.push(self.special.start);
        Ok(ids)
    }
}
