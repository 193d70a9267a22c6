//! The student embedding module: a table of student vectors, then a 2-layer
//! MLP that turns a vector into one soft token prepended to the sequence.
//!
//! Row 0 of the table is the learned "unseen student" vector; known students
//! take rows `1..=n_students` (the run directory's `students.json`). Keeping
//! the vector outside the transformer lets the language server fit a new
//! student's vector without touching the rest of the model.

use candle_core::{Module, Result, Tensor};
use candle_nn::{linear, Init, Linear, VarBuilder};

use super::config::ModelConfig;

/// Table row of the learned vector for students the model never saw.
pub const UNSEEN_STUDENT_ROW: u32 = 0;

/// Student vectors -> MLP -> soft token.
#[derive(Debug, Clone)]
pub struct StudentEmbedding {
    table: Tensor,
    fc1: Linear,
    fc2: Linear,
}

impl StudentEmbedding {
    /// Builds the module from `vb` (weights under `table`, `mlp.0`, `mlp.2`).
    pub fn load(vb: VarBuilder, cfg: &ModelConfig) -> Result<Self> {
        // Standard-normal rows, like an embedding table: a zero table (the
        // VarBuilder default) gives every student the same soft token, and a
        // row seen only a few times per epoch never grows apart from the rest.
        let init = Init::Randn { mean: 0.0, stdev: 1.0 };
        let table = vb.get_with_hints((cfg.n_students + 1, cfg.student_dim), "table", init)?;
        let fc1 = linear(cfg.student_dim, cfg.student_hidden, vb.pp("mlp.0"))?;
        let fc2 = linear(cfg.student_hidden, cfg.n_embd, vb.pp("mlp.2"))?;
        Ok(StudentEmbedding { table, fc1, fc2 })
    }

    /// Student vectors of table rows (`[b]` u32) -> `[b, student_dim]`.
    pub fn vectors(&self, rows: &Tensor) -> Result<Tensor> {
        self.table.index_select(rows, 0)
    }

    /// The learned vector for unseen students, `[student_dim]`.
    pub fn unseen_vector(&self) -> Result<Tensor> {
        self.table.get(UNSEEN_STUDENT_ROW as usize)
    }

    /// Soft tokens `[b, n_embd]` from student vectors `[b, student_dim]`.
    pub fn soft_token(&self, vectors: &Tensor) -> Result<Tensor> {
        self.fc2.forward(&self.fc1.forward(vectors)?.relu()?)
    }

    /// Soft tokens `[b, n_embd]` for table rows `[b]`.
    pub fn soft_token_for_rows(&self, rows: &Tensor) -> Result<Tensor> {
        self.soft_token(&self.vectors(rows)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn a_fresh_table_gives_students_different_soft_tokens() {
        let cfg = crate::model::Preset::Tiny.config(64, 4);
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let module = StudentEmbedding::load(vb, &cfg).expect("module");
        let rows = Tensor::new(&[1u32, 2], &Device::Cpu).expect("rows");
        let soft = module.soft_token_for_rows(&rows).expect("soft");
        let a = soft.get(0).and_then(|t| t.to_vec1::<f32>()).expect("a");
        let b = soft.get(1).and_then(|t| t.to_vec1::<f32>()).expect("b");
        let dist = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt();
        let norm = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(dist > 0.1 * norm, "students' soft tokens differ by {dist} (norm {norm})");
    }
}
