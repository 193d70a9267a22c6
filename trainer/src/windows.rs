//! Token windows: a trace written in the model's text format, tokenized, and
//! cut into windows of the context length that overlap; and the window sets
//! stored per split (`ids` `[n, context]` and student `rows` `[n]`, u32, in safetensors).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};

/// How traces become windows.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct WindowConfig {
    /// Tokens per window.
    pub context: usize,
    /// Tokens of the title region before `<start>`.
    pub title_tokens: usize,
    /// Tokens shared by consecutive windows of one trace.
    pub overlap: usize,
}

// The training text lives in pencil-core: the language server fits a student's
// vector on exactly the text the model was trained on.
pub use pencil_core::training_text::{cut_windows, trace_ids};

/// Windows of one split: token ids and the student table row of each window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowSet {
    /// Tokens per window.
    pub context: usize,
    /// `n * context` token ids, row-major.
    pub ids: Vec<u32>,
    /// Student table row per window (0 = unseen student).
    pub rows: Vec<u32>,
}

impl WindowSet {
    /// An empty set of windows of `context` tokens.
    pub fn new(context: usize) -> Self {
        WindowSet { context, ids: Vec::new(), rows: Vec::new() }
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no windows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Appends a window.
    pub fn push(&mut self, window: &[u32], row: u32) {
        debug_assert_eq!(window.len(), self.context);
        self.ids.extend_from_slice(window);
        self.rows.push(row);
    }

    /// Appends every window of another set.
    pub fn extend(&mut self, other: &WindowSet) {
        self.ids.extend_from_slice(&other.ids);
        self.rows.extend_from_slice(&other.rows);
    }

    /// Window `i`'s tokens.
    pub fn window(&self, i: usize) -> &[u32] {
        &self.ids[i * self.context..(i + 1) * self.context]
    }

    /// Window `i`'s length without its trailing padding (the title region
    /// may hold `pad` too, so this is one past the last token that is not).
    pub fn length(&self, i: usize, pad: u32) -> usize {
        self.window(i).iter().rposition(|&t| t != pad).map_or(0, |p| p + 1)
    }

    /// Tokens that are not `pad`.
    pub fn real_tokens(&self, pad: u32) -> usize {
        self.ids.iter().filter(|&&t| t != pad).count()
    }

    /// Writes the set as safetensors (`ids`, `rows`).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let n = self.len();
        let mut m = HashMap::new();
        m.insert("ids".to_string(), Tensor::from_vec(self.ids.clone(), (n, self.context), &Device::Cpu)?);
        m.insert("rows".to_string(), Tensor::from_vec(self.rows.clone(), n, &Device::Cpu)?);
        candle_core::safetensors::save(&m, path)?;
        Ok(())
    }

    /// Reads a set written by [`WindowSet::save`].
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let m = candle_core::safetensors::load(path, &Device::Cpu)
            .map_err(|e| anyhow::anyhow!("{}: cannot read windows: {e}", path.display()))?;
        let get = |k: &str| m.get(k).ok_or_else(|| anyhow::anyhow!("{}: no tensor {k:?}", path.display()));
        let ids = get("ids")?;
        let (n, context) = ids.dims2()?;
        let rows = get("rows")?.to_vec1::<u32>()?;
        anyhow::ensure!(rows.len() == n, "{}: {} rows for {n} windows", path.display(), rows.len());
        Ok(WindowSet { context, ids: ids.flatten_all()?.to_vec1::<u32>()?, rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_sets_round_trip_through_safetensors() {
        let mut set = WindowSet::new(3);
        set.push(&[1, 2, 3], 0);
        set.push(&[4, 5, 0], 7);
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("w.safetensors");
        set.save(&p).expect("save");
        assert_eq!(WindowSet::load(&p).expect("load"), set);
        assert_eq!(set.real_tokens(0), 5);
        assert_eq!((set.length(0, 0), set.length(1, 0)), (3, 2));
    }
}
