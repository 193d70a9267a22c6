//! Model configuration: the architecture of the trace model, deserialised
//! from the run directory's `config.json`, and the named presets.

use serde::{Deserialize, Serialize};

/// Hidden width of the student MLP (the paper's value).
pub const STUDENT_MLP_HIDDEN: usize = 64;

/// Architecture of a trace model; everything needed to rebuild it from weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Tokenizer vocabulary size (rows of the tied embedding).
    pub vocab_size: usize,
    /// Number of transformer blocks.
    pub n_layer: usize,
    /// Attention heads per block.
    pub n_head: usize,
    /// Residual stream width.
    pub n_embd: usize,
    /// Text tokens per window; the model sees one more position (the soft token).
    pub context: usize,
    /// Tokens in the title region before `<start>` (title then `<mask>` padding).
    pub title_tokens: usize,
    /// Width of a student vector in the student table.
    pub student_dim: usize,
    /// Hidden width of the student MLP.
    pub student_hidden: usize,
    /// Known students (rows 1..=n_students of the table; row 0 is "unseen").
    pub n_students: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
}

fn default_eps() -> f64 {
    1e-5
}

impl ModelConfig {
    /// Positions of the learned position table: the soft token plus `context` text tokens.
    pub fn n_positions(&self) -> usize {
        self.context + 1
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.n_embd / self.n_head
    }

    /// Number of parameters (tied output head counted once).
    pub fn n_params(&self) -> usize {
        let d = self.n_embd;
        let block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d);
        let student = (self.n_students + 1) * self.student_dim
            + self.student_dim * self.student_hidden
            + self.student_hidden
            + self.student_hidden * d
            + d;
        self.vocab_size * d + self.n_positions() * d + self.n_layer * block + 2 * d + student
    }

    /// Training FLOPs per text token (forward + backward, the usual 6N plus attention).
    pub fn train_flops_per_token(&self) -> f64 {
        let n = self.n_params() as f64;
        let attn = (self.n_layer * self.n_positions() * self.n_embd) as f64;
        6.0 * n + 12.0 * attn
    }

    /// Checks that the shapes fit together.
    pub fn validate(&self) -> Result<(), String> {
        if self.n_head == 0 || !self.n_embd.is_multiple_of(self.n_head) {
            return Err(format!("n_embd {} is not a multiple of n_head {}", self.n_embd, self.n_head));
        }
        if self.title_tokens + 2 > self.context {
            return Err(format!("title region of {} tokens does not fit a context of {}", self.title_tokens, self.context));
        }
        if self.vocab_size == 0 || self.n_layer == 0 {
            return Err("vocab_size and n_layer must be positive".to_string());
        }
        Ok(())
    }
}

/// Named model sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// For tests: trains in seconds on a CPU.
    Tiny,
    /// The shipped default: runs comfortably on a laptop CPU (<= 30 MB of f32 weights).
    Small,
    /// GPU only: sized for a 10-minute H100 run.
    Base,
}

impl Preset {
    /// All presets, smallest first.
    pub const ALL: [Preset; 3] = [Preset::Tiny, Preset::Small, Preset::Base];

    /// The preset's name as written on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Small => "small",
            Preset::Base => "base",
        }
    }

    /// Parses a preset name.
    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Vocabulary size the tokenizer is trained to for this preset.
    pub fn default_vocab(self) -> usize {
        match self {
            Preset::Tiny => 1024,
            Preset::Small | Preset::Base => 8192,
        }
    }

    /// The architecture for a given tokenizer and number of known students.
    pub fn config(self, vocab_size: usize, n_students: usize) -> ModelConfig {
        let (n_layer, n_head, n_embd, context, title_tokens, student_dim) = match self {
            Preset::Tiny => (2, 2, 64, 128, 16, 16),
            // 1024 tokens: 97.9% of the corpus's failing programs fit twice (read
            // and rewritten) for "Fix in my style"; at 512 only 70.2% did.
            Preset::Small => (4, 4, 256, 1024, 32, 32),
            Preset::Base => (8, 8, 512, 1024, 50, 64),
        };
        ModelConfig {
            vocab_size,
            n_layer,
            n_head,
            n_embd,
            context,
            title_tokens,
            student_dim,
            student_hidden: STUDENT_MLP_HIDDEN,
            n_students,
            layer_norm_eps: default_eps(),
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::from_name(s).ok_or_else(|| format!("unknown preset {s:?} (tiny, small, base)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_fits_the_laptop_budget() {
        // 8k vocabulary and a few thousand students, as on the public corpus.
        let cfg = Preset::Small.config(8192, 3000);
        let bytes = cfg.n_params() * 4;
        assert!(bytes <= 30_000_000, "small is {bytes} bytes of f32");
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn presets_validate_and_grow() {
        let sizes: Vec<usize> = Preset::ALL.iter().map(|p| p.config(p.default_vocab(), 100).n_params()).collect();
        assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");
        for p in Preset::ALL {
            assert!(p.config(p.default_vocab(), 1).validate().is_ok());
            assert_eq!(Preset::from_name(p.name()), Some(p));
        }
    }
}
