//! The trace model as an ONNX graph, written from Rust with the protobuf
//! types of `candle-onnx` (opset 17, standard operators only, so that ort's
//! CPU provider and `candle_onnx::simple_eval` both run it).
//!
//! Graph interface (the contract `pencil_core::inference` relies on):
//!
//! - inputs: `input_ids` int64 `[batch, sequence]`, `soft_token` float
//!   `[batch, n_embd]`, and per layer `past_key_values.{i}.key` / `.value`
//!   float `[batch, n_head, past_sequence, head_dim]` (`past_sequence` may be 0).
//! - outputs: `logits` float `[batch, new_sequence, vocab]`, per layer
//!   `present.{i}.key` / `.value` float `[batch, n_head, past_sequence +
//!   new_sequence, head_dim]`, and `pooled` float `[batch, n_embd]`.
//!
//! The soft token is always fed; the graph prepends it only when the past is
//! empty. It builds `[soft, tokens...]` and slices from `min(past_len, 1)`,
//! so a first call (no past) computes `sequence + 1` positions exactly like
//! candle's `TraceModel::logits` (position 0 is the soft token, position `i`
//! predicts text token `i`), and later calls compute only the new tokens at
//! positions `past_len ..`. One graph, no `If`, no second input signature.
//!
//! `pooled` is the mean of the final (post-`ln_f`) hidden state over the
//! positions computed in this call: for a call without past, the soft token
//! and every text token. The backtracking probe embeds whole prefixes that way.
//!
//! [`build_features_model`] writes the probe's cheaper graph from the same
//! body: the first blocks only, no `logits`, optionally int8.

use std::collections::HashMap;

use candle_core::{DType, Tensor};
use candle_onnx::onnx::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto, AttributeProto, GraphProto,
    ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use pencil_core::model::ModelConfig;

/// ONNX operator set the graph is written for (LayerNormalization needs 17).
pub const OPSET: i64 = 17;
/// ONNX IR version matching opset 17.
const IR_VERSION: i64 = 8;
/// Added to attention scores above the diagonal; exp() of it is exactly 0 in f32.
const MASKED_SCORE: f32 = -1e9;

/// The graph could not be built from the given weights.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// A weight the architecture needs is absent.
    #[error("weight {0:?} is missing from the checkpoint")]
    MissingWeight(String),
    /// A weight has the wrong shape for the configuration.
    #[error("weight {name:?} has shape {found:?}, the configuration needs {expected:?}")]
    BadShape {
        /// The weight's name.
        name: String,
        /// Its shape in the checkpoint.
        found: Vec<usize>,
        /// The shape the configuration implies.
        expected: Vec<usize>,
    },
    /// The configuration itself is inconsistent.
    #[error("invalid model configuration: {0}")]
    Config(String),
    /// A tensor could not be read.
    #[error("reading weight {name:?}: {source}")]
    Tensor {
        /// The weight's name.
        name: String,
        /// The candle error.
        source: candle_core::Error,
    },
}

/// Builds the ONNX model of the trace model from its weights (GPT-2 names, as
/// `TraceModel::load` reads them; `student.*` weights are not part of the graph).
///
/// With `int8`, every weight matrix and the token embedding are stored as in
/// [`build_features_model`]'s int8 graph, so the file is about a quarter of
/// the f32 one. The logits multiply the full-precision final hidden state by
/// the table dequantized per row: the output layer is where rounding the
/// activations would cost most.
pub fn build_model(cfg: &ModelConfig, weights: &HashMap<String, Tensor>, int8: bool) -> Result<ModelProto, GraphError> {
    cfg.validate().map_err(GraphError::Config)?;
    let mut g = GraphWriter::new(weights, int8);
    let d = cfg.n_embd;
    let (hidden, table) = trunk(&mut g, cfg, cfg.n_layer)?;
    let wte = match table {
        TokenTable::F32(wte) => wte,
        TokenTable::Int8 { rows, scales } => g.node1("DequantizeLinear", &[&rows, &scales], vec![attr_int("axis", 0)]),
    };
    // Logits through the tied embedding without storing its transpose: Gemm with transB.
    let flat_shape = g.const_i64(&[-1, d as i64], &[2]);
    let flat = g.node1("Reshape", &[&hidden, &flat_shape], vec![]);
    let flat_logits = g.node1("Gemm", &[&flat, &wte], vec![attr_int("transB", 1)]);
    let lead = g.node1("Shape", &[&hidden], vec![attr_int("start", 0), attr_int("end", 2)]);
    let vocab = g.const_i64(&[cfg.vocab_size as i64], &[1]);
    let logits_shape = g.node1("Concat", &[&lead, &vocab], vec![attr_int("axis", 0)]);
    g.node_named("Reshape", &[&flat_logits, &logits_shape], vec![], "logits");
    let logits = value_info("logits", DataType::Float as i32, &[Dim::Sym("batch"), Dim::Sym("new_sequence"), Dim::Fixed(cfg.vocab_size)]);
    Ok(finish(g, cfg, cfg.n_layer, Some(logits), "pencil_trace_model"))
}

/// Builds the probe's feature graph: the first `layers` blocks of the trace
/// model, no logits, and (when `int8`) every weight matrix and the token
/// embedding stored as int8 with per-column (per-row for the embedding)
/// scales, multiplied by dynamically quantized activations. Same inputs and
/// `present`/`pooled` outputs as [`build_model`] for its layers; `pooled` is
/// the mean of `ln_f` applied to the residual stream after block `layers`.
///
/// The probe only needs pooled features, so it need not pay for the logits
/// (a third of the full graph's work) nor for full-precision blocks: on a
/// 2-core machine this graph reads a program several times faster.
pub fn build_features_model(
    cfg: &ModelConfig,
    weights: &HashMap<String, Tensor>,
    layers: usize,
    int8: bool,
) -> Result<ModelProto, GraphError> {
    cfg.validate().map_err(GraphError::Config)?;
    if layers == 0 || layers > cfg.n_layer {
        return Err(GraphError::Config(format!("the feature graph needs 1..={} blocks, not {layers}", cfg.n_layer)));
    }
    let mut g = GraphWriter::new(weights, int8);
    trunk(&mut g, cfg, layers)?;
    Ok(finish(g, cfg, layers, None, "pencil_trace_features"))
}

const WTE: &str = "wte.weight";

/// The token embedding as the graph stores it.
enum TokenTable {
    /// The f32 table's initializer name.
    F32(String),
    /// Int8 rows and their per-row scales.
    Int8 { rows: String, scales: String },
}

/// The shared body: embeddings, the soft-token switch, `layers` blocks, then
/// `ln_f`, its mean as `pooled`; returns the final hidden state's name and the
/// token table.
fn trunk(g: &mut GraphWriter, cfg: &ModelConfig, layers: usize) -> Result<(String, TokenTable), GraphError> {
    let d = cfg.n_embd;
    let (h, hd) = (cfg.n_head, cfg.head_dim());
    let wte = g.token_table(cfg)?;
    let wpe = g.weight("wpe.weight", &[cfg.n_positions(), d], false)?;

    // past_len and the soft-token switch.
    let past_len = g.node1("Shape", &["past_key_values.0.key"], vec![attr_int("start", 2), attr_int("end", 3)]);
    let one = g.const_i64(&[1], &[1]);
    let start = g.node1("Min", &[&past_len, &one], vec![]);
    let axis1 = g.const_i64(&[1], &[1]);
    let soft = g.node1("Unsqueeze", &["soft_token", &axis1], vec![]);
    let tok = g.embed(&wte);
    let full = g.node1("Concat", &[&soft, &tok], vec![attr_int("axis", 1)]);
    let end_all = g.const_i64(&[i64::MAX], &[1]);
    let x = g.node1("Slice", &[&full, &start, &end_all, &axis1], vec![]);

    // Absolute positions of the computed rows, and the causal mask with the past offset.
    let new_len = g.node1("Shape", &[&x], vec![attr_int("start", 1), attr_int("end", 2)]);
    let total_len = g.node1("Add", &[&past_len, &new_len], vec![]);
    let axis0 = g.const_i64(&[0], &[1]);
    let past_scalar = g.node1("Squeeze", &[&past_len, &axis0], vec![]);
    let total_scalar = g.node1("Squeeze", &[&total_len, &axis0], vec![]);
    let zero_s = g.const_i64(&[0], &[]);
    let one_s = g.const_i64(&[1], &[]);
    let pos = g.node1("Range", &[&past_scalar, &total_scalar, &one_s], vec![]);
    let pe = g.node1("Gather", &[&wpe, &pos], vec![attr_int("axis", 0)]);
    let mut x = g.node1("Add", &[&x, &pe], vec![]);
    let key_pos = g.node1("Range", &[&zero_s, &total_scalar, &one_s], vec![]);
    let query_col = g.node1("Unsqueeze", &[&pos, &axis1], vec![]);
    let future = g.node1("Greater", &[&key_pos, &query_col], vec![]);
    let masked = g.const_f32(&[MASKED_SCORE], &[]);
    let open = g.const_f32(&[0.0], &[]);
    let mask = g.node1("Where", &[&future, &masked, &open], vec![]);

    let qkv_shape = g.const_i64(&[0, 0, 3, h as i64, hd as i64], &[5]);
    let merge_shape = g.const_i64(&[0, 0, d as i64], &[3]);
    let idx = [g.const_i64(&[0], &[]), g.const_i64(&[1], &[]), g.const_i64(&[2], &[])];
    let scale = g.const_f32(&[1.0 / (hd as f32).sqrt()], &[]);
    let eps = cfg.layer_norm_eps as f32;

    for i in 0..layers {
        let p = format!("h.{i}");
        // Attention.
        let a = g.layer_norm(&x, &format!("{p}.ln_1"), d, eps)?;
        let qkv = g.linear(&a, &format!("{p}.attn.c_attn"), d, 3 * d)?;
        let qkv = g.node1("Reshape", &[&qkv, &qkv_shape], vec![]);
        let qkv = g.node1("Transpose", &[&qkv], vec![attr_ints("perm", &[2, 0, 3, 1, 4])]);
        let q = g.node1("Gather", &[&qkv, &idx[0]], vec![attr_int("axis", 0)]);
        let k = g.node1("Gather", &[&qkv, &idx[1]], vec![attr_int("axis", 0)]);
        let v = g.node1("Gather", &[&qkv, &idx[2]], vec![attr_int("axis", 0)]);
        let present_k = format!("present.{i}.key");
        let present_v = format!("present.{i}.value");
        g.node_named("Concat", &[&format!("past_key_values.{i}.key"), &k], vec![attr_int("axis", 2)], &present_k);
        g.node_named("Concat", &[&format!("past_key_values.{i}.value"), &v], vec![attr_int("axis", 2)], &present_v);
        let kt = g.node1("Transpose", &[&present_k], vec![attr_ints("perm", &[0, 1, 3, 2])]);
        let scores = g.node1("MatMul", &[&q, &kt], vec![]);
        let scores = g.node1("Mul", &[&scores, &scale], vec![]);
        let scores = g.node1("Add", &[&scores, &mask], vec![]);
        let probs = g.node1("Softmax", &[&scores], vec![attr_int("axis", -1)]);
        let y = g.node1("MatMul", &[&probs, &present_v], vec![]);
        let y = g.node1("Transpose", &[&y], vec![attr_ints("perm", &[0, 2, 1, 3])]);
        let y = g.node1("Reshape", &[&y, &merge_shape], vec![]);
        let y = g.linear(&y, &format!("{p}.attn.c_proj"), d, d)?;
        x = g.node1("Add", &[&x, &y], vec![]);
        // MLP.
        let m = g.layer_norm(&x, &format!("{p}.ln_2"), d, eps)?;
        let m = g.linear(&m, &format!("{p}.mlp.c_fc"), d, 4 * d)?;
        let m = g.gelu_tanh(&m);
        let m = g.linear(&m, &format!("{p}.mlp.c_proj"), 4 * d, d)?;
        x = g.node1("Add", &[&x, &m], vec![]);
    }

    let hidden = g.layer_norm(&x, "ln_f", d, eps)?;
    g.node_named("ReduceMean", &[&hidden], vec![attr_ints("axes", &[1]), attr_int("keepdims", 0)], "pooled");
    Ok((hidden, wte))
}

/// Declares the interface of a graph over `layers` blocks and wraps it in a model.
fn finish(g: GraphWriter, cfg: &ModelConfig, layers: usize, logits: Option<ValueInfoProto>, name: &str) -> ModelProto {
    let d = cfg.n_embd;
    let (h, hd) = (cfg.n_head, cfg.head_dim());
    let f32_ty = DataType::Float as i32;
    let mut inputs = vec![
        value_info("input_ids", DataType::Int64 as i32, &[Dim::Sym("batch"), Dim::Sym("sequence")]),
        value_info("soft_token", f32_ty, &[Dim::Sym("batch"), Dim::Fixed(d)]),
    ];
    let mut outputs: Vec<ValueInfoProto> = logits.into_iter().collect();
    for i in 0..layers {
        for kind in ["key", "value"] {
            let past = [Dim::Sym("batch"), Dim::Fixed(h), Dim::Sym("past_sequence"), Dim::Fixed(hd)];
            inputs.push(value_info(&format!("past_key_values.{i}.{kind}"), f32_ty, &past));
            let present = [Dim::Sym("batch"), Dim::Fixed(h), Dim::Sym("total_sequence"), Dim::Fixed(hd)];
            outputs.push(value_info(&format!("present.{i}.{kind}"), f32_ty, &present));
        }
    }
    outputs.push(value_info("pooled", f32_ty, &[Dim::Sym("batch"), Dim::Fixed(d)]));

    let graph = GraphProto {
        name: name.to_string(),
        node: g.nodes,
        initializer: g.initializers,
        input: inputs,
        output: outputs,
        ..Default::default()
    };
    ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        producer_name: "pencil-trainer".to_string(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        graph: Some(graph),
        ..Default::default()
    }
}

/// A graph under construction: nodes in topological order and initializers.
struct GraphWriter<'w> {
    weights: &'w HashMap<String, Tensor>,
    /// Store weight matrices and the token embedding as int8.
    int8: bool,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    next_id: usize,
}

impl<'w> GraphWriter<'w> {
    fn new(weights: &'w HashMap<String, Tensor>, int8: bool) -> Self {
        GraphWriter { weights, int8, nodes: Vec::new(), initializers: Vec::new(), next_id: 0 }
    }

    fn fresh(&mut self, op: &str) -> String {
        self.next_id += 1;
        format!("{op}_{}", self.next_id)
    }

    /// Adds a one-output node and returns the output's name.
    fn node1(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(op);
        self.node_named(op, inputs, attrs, &out);
        out
    }

    fn node_named(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>, output: &str) {
        self.node_outputs(op, inputs, attrs, &[output]);
    }

    fn node_outputs(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>, outputs: &[&str]) {
        let name = self.fresh(&format!("{op}_node"));
        self.nodes.push(NodeProto {
            op_type: op.to_string(),
            name,
            input: inputs.iter().map(|s| (*s).to_string()).collect(),
            output: outputs.iter().map(|s| (*s).to_string()).collect(),
            attribute: attrs,
            ..Default::default()
        });
    }

    fn const_i64(&mut self, values: &[i64], dims: &[i64]) -> String {
        let name = self.fresh("const_i64");
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: dims.to_vec(),
            data_type: DataType::Int64 as i32,
            raw_data: raw,
            ..Default::default()
        });
        name
    }

    fn const_u8(&mut self, value: u8) -> String {
        let name = self.fresh("const_u8");
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: vec![],
            data_type: DataType::Uint8 as i32,
            raw_data: vec![value],
            ..Default::default()
        });
        name
    }

    fn const_f32(&mut self, values: &[f32], dims: &[i64]) -> String {
        let name = self.fresh("const_f32");
        self.push_f32(&name, values, dims);
        name
    }

    fn push_f32(&mut self, name: &str, values: &[f32], dims: &[i64]) {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(TensorProto {
            name: name.to_string(),
            dims: dims.to_vec(),
            data_type: DataType::Float as i32,
            raw_data: raw,
            ..Default::default()
        });
    }

    /// Checkpoint weight `name` as f32 values and dims (transposed when
    /// `transpose`: candle's `Linear` stores `[out, in]`, MatMul wants `[in, out]`).
    fn weight_values(&self, name: &str, shape: &[usize], transpose: bool) -> Result<(Vec<f32>, Vec<i64>), GraphError> {
        let t = self.weights.get(name).ok_or_else(|| GraphError::MissingWeight(name.to_string()))?;
        if t.dims() != shape {
            return Err(GraphError::BadShape { name: name.to_string(), found: t.dims().to_vec(), expected: shape.to_vec() });
        }
        let wrap = |source| GraphError::Tensor { name: name.to_string(), source };
        let t = if transpose { t.t().map_err(wrap)? } else { t.clone() };
        let dims: Vec<i64> = t.dims().iter().map(|&d| d as i64).collect();
        let values = t.to_dtype(DType::F32).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>()).map_err(wrap)?;
        Ok((values, dims))
    }

    /// Adds checkpoint weight `name` as an f32 initializer (see [`Self::weight_values`]).
    fn weight(&mut self, name: &str, shape: &[usize], transpose: bool) -> Result<String, GraphError> {
        let (values, dims) = self.weight_values(name, shape, transpose)?;
        self.push_f32(name, &values, &dims);
        Ok(name.to_string())
    }

    /// Adds `values` (`[rows, cols]`, row-major) as an int8 initializer with one
    /// symmetric scale per column (`per_row`: per row), and the scales as f32.
    fn push_int8(&mut self, name: &str, values: &[f32], rows: usize, cols: usize, per_row: bool) -> (String, String) {
        let group = |i: usize| if per_row { i / cols } else { i % cols };
        let mut scales = vec![0.0f32; if per_row { rows } else { cols }];
        for (i, v) in values.iter().enumerate() {
            let s = &mut scales[group(i)];
            *s = s.max(v.abs() / 127.0);
        }
        for s in &mut scales {
            // An all-zero group quantizes to zeros under any positive scale.
            if *s == 0.0 {
                *s = 1.0;
            }
        }
        let raw = values.iter().enumerate().map(|(i, v)| (v / scales[group(i)]).round().clamp(-127.0, 127.0) as i8 as u8).collect();
        let q = format!("{name}.int8");
        self.initializers.push(TensorProto {
            name: q.clone(),
            dims: vec![rows as i64, cols as i64],
            data_type: DataType::Int8 as i32,
            raw_data: raw,
            ..Default::default()
        });
        let s = format!("{name}.scale");
        self.push_f32(&s, &scales, &[scales.len() as i64]);
        (q, s)
    }

    /// Adds the tied token embedding: f32, or (in an int8 graph) int8 rows and their scales.
    fn token_table(&mut self, cfg: &ModelConfig) -> Result<TokenTable, GraphError> {
        let shape = [cfg.vocab_size, cfg.n_embd];
        if !self.int8 {
            return Ok(TokenTable::F32(self.weight(WTE, &shape, false)?));
        }
        let (values, _) = self.weight_values(WTE, &shape, false)?;
        let (rows, scales) = self.push_int8(WTE, &values, shape[0], shape[1], true);
        Ok(TokenTable::Int8 { rows, scales })
    }

    /// Embeddings of `input_ids`.
    fn embed(&mut self, table: &TokenTable) -> String {
        match table {
            TokenTable::F32(wte) => self.node1("Gather", &[wte, "input_ids"], vec![attr_int("axis", 0)]),
            TokenTable::Int8 { rows, scales } => {
                let x = self.node1("Gather", &[rows, "input_ids"], vec![attr_int("axis", 0)]);
                let x = self.node1("Cast", &[&x], vec![attr_int("to", DataType::Float as i64)]);
                let s = self.node1("Gather", &[scales, "input_ids"], vec![attr_int("axis", 0)]);
                let last = self.const_i64(&[-1], &[1]);
                let s = self.node1("Unsqueeze", &[&s, &last], vec![]);
                self.node1("Mul", &[&x, &s], vec![])
            }
        }
    }

    fn layer_norm(&mut self, x: &str, prefix: &str, d: usize, eps: f32) -> Result<String, GraphError> {
        let w = self.weight(&format!("{prefix}.weight"), &[d], false)?;
        let b = self.weight(&format!("{prefix}.bias"), &[d], false)?;
        Ok(self.node1("LayerNormalization", &[x, &w, &b], vec![attr_int("axis", -1), attr_float("epsilon", eps)]))
    }

    fn linear(&mut self, x: &str, prefix: &str, d_in: usize, d_out: usize) -> Result<String, GraphError> {
        let name = format!("{prefix}.weight");
        if !self.int8 {
            let w = self.weight(&name, &[d_out, d_in], true)?;
            let b = self.weight(&format!("{prefix}.bias"), &[d_out], false)?;
            let y = self.node1("MatMul", &[x, &w], vec![]);
            return Ok(self.node1("Add", &[&y, &b], vec![]));
        }
        let b = self.weight(&format!("{prefix}.bias"), &[d_out], false)?;
        // Activations are quantized per position (symmetric, one scale per
        // row), so a position's features do not depend on which other positions
        // share the call: a prefix read through the KV cache gets the features
        // of one whole pass, as the probe was fitted on.
        let (values, _) = self.weight_values(&name, &[d_out, d_in], true)?;
        let (wq, ws) = self.push_int8(&name, &values, d_in, d_out, false);
        let amax = self.node1("Abs", &[x], vec![]);
        let amax = self.node1("ReduceMax", &[&amax], vec![attr_ints("axes", &[-1]), attr_int("keepdims", 1)]);
        let levels = self.const_f32(&[127.0], &[]);
        let tiny = self.const_f32(&[1e-12], &[]);
        let xs = self.node1("Div", &[&amax, &levels], vec![]);
        let xs = self.node1("Max", &[&xs, &tiny], vec![]);
        let xq = self.node1("Div", &[x, &xs], vec![]);
        let xq = self.node1("Round", &[&xq], vec![]);
        // uint8 around a fixed zero point of 128: ONNX Runtime's fast integer
        // kernels take uint8 activations and only a scalar zero point.
        let shift = self.const_f32(&[128.0], &[]);
        let xq = self.node1("Add", &[&xq, &shift], vec![]);
        let xq = self.node1("Cast", &[&xq], vec![attr_int("to", DataType::Uint8 as i64)]);
        let zero = self.const_u8(128);
        let yi = self.node1("MatMulInteger", &[&xq, &wq, &zero], vec![]);
        let yf = self.node1("Cast", &[&yi], vec![attr_int("to", DataType::Float as i64)]);
        let y = self.node1("Mul", &[&yf, &xs], vec![]);
        let y = self.node1("Mul", &[&y, &ws], vec![]);
        Ok(self.node1("Add", &[&y, &b], vec![]))
    }

    /// candle's `Tensor::gelu` (the tanh approximation), op for op:
    /// `0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2)))`.
    fn gelu_tanh(&mut self, x: &str) -> String {
        let c = self.const_f32(&[(2.0f32 / std::f32::consts::PI).sqrt()], &[]);
        let k = self.const_f32(&[0.044715], &[]);
        let one = self.const_f32(&[1.0], &[]);
        let half = self.const_f32(&[0.5], &[]);
        let xx = self.node1("Mul", &[x, x], vec![]);
        let kxx = self.node1("Mul", &[&xx, &k], vec![]);
        let inner = self.node1("Add", &[&kxx, &one], vec![]);
        let inner = self.node1("Mul", &[x, &inner], vec![]);
        let inner = self.node1("Mul", &[&inner, &c], vec![]);
        let th = self.node1("Tanh", &[&inner], vec![]);
        let th = self.node1("Add", &[&th, &one], vec![]);
        let y = self.node1("Mul", &[x, &th], vec![]);
        self.node1("Mul", &[&y, &half], vec![])
    }
}

enum Dim<'a> {
    Fixed(usize),
    Sym(&'a str),
}

fn value_info(name: &str, elem_type: i32, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                Dim::Fixed(n) => tensor_shape_proto::dimension::Value::DimValue(*n as i64),
                Dim::Sym(s) => tensor_shape_proto::dimension::Value::DimParam((*s).to_string()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.to_string(), r#type: AttributeType::Int as i32, i, ..Default::default() }
}

fn attr_ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto { name: name.to_string(), r#type: AttributeType::Ints as i32, ints: ints.to_vec(), ..Default::default() }
}

fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto { name: name.to_string(), r#type: AttributeType::Float as i32, f, ..Default::default() }
}
