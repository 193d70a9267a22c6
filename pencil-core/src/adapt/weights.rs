//! The trace model's weights for adaptation, read from the model directory the
//! server already has: the transformer from `model.onnx`'s initializers, the
//! student module from `students.safetensors`.
//!
//! The exporter (`pencil-trainer export`, `onnx_graph.rs`) names initializers
//! after the checkpoint's weights and stores every linear layer's matrix
//! transposed (`[in, out]`, as ONNX `MatMul` wants). A weight may also be int8:
//! either `{name}.int8` with `{name}.scale` (the exporter's own form: one scale
//! per output column, per row for `wte.weight`) or the output of a
//! `DequantizeLinear` node named `{name}`. Both are dequantized to f32 here.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_onnx::onnx::tensor_proto::DataType;
use candle_onnx::onnx::{GraphProto, NodeProto, TensorProto};

use super::AdaptError;
use crate::inference::manifest::{Manifest, MODEL_FILE, STUDENTS_FILE};
use crate::model::{ModelConfig, TraceModel};

/// Loads the whole trace model (transformer and student module) from a model directory.
pub fn load_trace_model(dir: &Path, manifest: &Manifest) -> Result<TraceModel, AdaptError> {
    let graph_path = dir.join(MODEL_FILE);
    let graph_err = |reason: String| AdaptError::ModelFile { path: graph_path.clone(), reason };
    let proto = candle_onnx::read_file(&graph_path).map_err(|e| graph_err(format!("cannot read the graph: {e}")))?;
    let graph = proto.graph.ok_or_else(|| graph_err("has no graph".into()))?;
    let mut tensors = transformer_weights(&graph, &manifest.config).map_err(graph_err)?;
    drop(graph);
    let students_path = dir.join(STUDENTS_FILE);
    let students = candle_core::safetensors::load(&students_path, &Device::Cpu)
        .map_err(|e| AdaptError::ModelFile { path: students_path.clone(), reason: format!("cannot read: {e}") })?;
    tensors.extend(students.into_iter().filter(|(k, _)| k.starts_with("student.")));
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    TraceModel::load(vb, &manifest.config).map_err(|e| AdaptError::ModelFile { path: dir.to_path_buf(), reason: e.to_string() })
}

/// The transformer's weights (every `TraceModel` weight but `student.*`) under
/// the checkpoint's names and layouts, from a graph written by the exporter.
pub fn transformer_weights(graph: &GraphProto, cfg: &ModelConfig) -> Result<HashMap<String, Tensor>, String> {
    let reader = Reader::new(graph);
    let mut names: Vec<String> = ["wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"].map(String::from).to_vec();
    for i in 0..cfg.n_layer {
        for part in ["ln_1", "ln_2", "attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"] {
            names.push(format!("h.{i}.{part}.weight"));
            names.push(format!("h.{i}.{part}.bias"));
        }
    }
    let mut out = HashMap::with_capacity(names.len());
    for name in names {
        let (values, dims) = reader.weight(&name)?;
        let t = Tensor::from_vec(values, dims.as_slice(), &Device::Cpu).map_err(|e| format!("weight {name:?}: {e}"))?;
        // Linear layers are stored [in, out]; candle's Linear holds [out, in].
        let t = if is_linear_matrix(&name) { t.t().and_then(|t| t.contiguous()).map_err(|e| format!("weight {name:?}: {e}"))? } else { t };
        out.insert(name, t);
    }
    Ok(out)
}

fn is_linear_matrix(name: &str) -> bool {
    name.starts_with("h.") && name.ends_with(".weight") && (name.contains(".attn.") || name.contains(".mlp."))
}

/// Initializers and `DequantizeLinear` nodes by name.
struct Reader<'g> {
    initializers: HashMap<&'g str, &'g TensorProto>,
    dequantized: HashMap<&'g str, &'g NodeProto>,
}

impl<'g> Reader<'g> {
    fn new(graph: &'g GraphProto) -> Self {
        let initializers = graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
        let dequantized = graph
            .node
            .iter()
            .filter(|n| n.op_type == "DequantizeLinear")
            .filter_map(|n| n.output.first().map(|o| (o.as_str(), n)))
            .collect();
        Reader { initializers, dequantized }
    }

    fn get(&self, name: &str) -> Result<&'g TensorProto, String> {
        self.initializers.get(name).copied().ok_or_else(|| format!("the graph has no initializer {name:?}"))
    }

    /// Weight `name` as f32 values and its dims as stored in the graph.
    fn weight(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>), String> {
        if let Some(t) = self.initializers.get(name) {
            return Ok((values_f32(t)?, dims(t)?));
        }
        let (q, s) = (format!("{name}.int8"), format!("{name}.scale"));
        if self.initializers.contains_key(q.as_str()) {
            let (q, s) = (self.get(&q)?, self.get(&s)?);
            let d = dims(q)?;
            // The exporter's int8 form: the token table per row, matrices per column.
            let axis = if name == "wte.weight" { 0 } else { 1 };
            return Ok((dequantize(&values_f32(q)?, &d, &values_f32(s)?, None, axis)?, d));
        }
        if let Some(node) = self.dequantized.get(name) {
            let input = |i: usize| node.input.get(i).filter(|s| !s.is_empty()).map(|s| self.get(s)).transpose();
            let q = input(0)?.ok_or_else(|| format!("DequantizeLinear {name:?} has no input"))?;
            let s = input(1)?.ok_or_else(|| format!("DequantizeLinear {name:?} has no scale"))?;
            let zero = input(2)?.map(values_f32).transpose()?;
            let axis = node.attribute.iter().find(|a| a.name == "axis").map_or(1, |a| a.i);
            let d = dims(q)?;
            let axis = if axis < 0 { axis + d.len() as i64 } else { axis };
            let axis = usize::try_from(axis).map_err(|_| format!("DequantizeLinear {name:?}: bad axis"))?;
            return Ok((dequantize(&values_f32(q)?, &d, &values_f32(s)?, zero.as_deref(), axis)?, d));
        }
        Err(format!("the graph has no weight {name:?} (neither f32, int8 with a scale, nor DequantizeLinear)"))
    }
}

fn dims(t: &TensorProto) -> Result<Vec<usize>, String> {
    t.dims.iter().map(|&d| usize::try_from(d).map_err(|_| format!("initializer {:?} has a negative dimension", t.name))).collect()
}

/// An initializer's values as f32 (f32, int8 and uint8 tensors; raw or typed data).
fn values_f32(t: &TensorProto) -> Result<Vec<f32>, String> {
    let n: usize = dims(t)?.iter().product();
    let values: Vec<f32> = match DataType::try_from(t.data_type) {
        Ok(DataType::Float) if !t.raw_data.is_empty() => {
            t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
        }
        Ok(DataType::Float) => t.float_data.clone(),
        Ok(DataType::Int8) if !t.raw_data.is_empty() => t.raw_data.iter().map(|&b| f32::from(b as i8)).collect(),
        Ok(DataType::Uint8) if !t.raw_data.is_empty() => t.raw_data.iter().map(|&b| f32::from(b)).collect(),
        // ONNX keeps typed 8-bit data in int32_data.
        Ok(DataType::Int8 | DataType::Uint8) => t.int32_data.iter().map(|&v| v as f32).collect(),
        _ => return Err(format!("initializer {:?} has data type {}, not f32, int8 or uint8", t.name, t.data_type)),
    };
    if values.len() != n {
        return Err(format!("initializer {:?} holds {} values for {n} elements", t.name, values.len()));
    }
    Ok(values)
}

/// `(q - zero) * scale`, with one scale (and zero point) per index of `axis`, or one for all.
fn dequantize(q: &[f32], dims: &[usize], scale: &[f32], zero: Option<&[f32]>, axis: usize) -> Result<Vec<f32>, String> {
    let per = |v: &[f32], what: &str| -> Result<(), String> {
        let along = dims.get(axis).copied().unwrap_or(1);
        match v.len() {
            1 => Ok(()),
            n if n == along => Ok(()),
            n => Err(format!("{n} {what}s for an axis of {along}")),
        }
    };
    per(scale, "scale")?;
    if let Some(z) = zero {
        per(z, "zero point")?;
    }
    // Elements between consecutive indices of `axis`, and the axis's length.
    let inner: usize = dims.iter().skip(axis + 1).product();
    let along = dims.get(axis).copied().unwrap_or(1);
    Ok(q.iter()
        .enumerate()
        .map(|(i, &v)| {
            let k = (i / inner.max(1)) % along.max(1);
            let pick = |a: &[f32]| if a.len() == 1 { a[0] } else { a[k] };
            (v - zero.map_or(0.0, pick)) * pick(scale)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dequantizes_per_row_per_column_and_per_tensor() {
        let q = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(dequantize(&q, &[2, 3], &[10.0, 100.0], None, 0).expect("rows"), vec![10.0, 20.0, 30.0, 400.0, 500.0, 600.0]);
        assert_eq!(dequantize(&q, &[2, 3], &[1.0, 10.0, 100.0], None, 1).expect("cols"), vec![1.0, 20.0, 300.0, 4.0, 50.0, 600.0]);
        assert_eq!(dequantize(&q, &[2, 3], &[2.0], Some(&[1.0]), 1).expect("tensor"), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert!(dequantize(&q, &[2, 3], &[1.0, 2.0], None, 1).is_err());
    }
}
