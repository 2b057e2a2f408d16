//! Lowering a prepared graph to a [`Program`]: every node's `OpDef::lower`
//! emits steps through a [`LowerCx`], which knows where each value lives
//! (caller's input or output array, constant, or arena buffer).

use super::program::*;
use crate::ir::{Graph, NodeId, ValueId};
use crate::tensor::{DType, Tensor};
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::Arc;

/// Where a value lives, with its element type and shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Loc {
    pub operand: Operand,
    /// Element offset within the operand.
    pub offset: usize,
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// The value, when it is a compile-time constant.
    pub constant: Option<Arc<Tensor>>,
}

impl Loc {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same elements under another shape (row-major, same count).
    pub fn reshaped(&self, shape: &[usize]) -> Loc {
        Loc { shape: shape.to_vec(), ..self.clone() }
    }

    /// A view iterating this tensor in row-major order over its own shape.
    pub fn view(&self) -> View {
        View { operand: self.operand, offset: self.offset, strides: row_major_strides(&self.shape) }
    }

    /// A view reading this tensor broadcast (numpy rules) to `shape`.
    pub fn broadcast_view(&self, shape: &[usize]) -> Result<View> {
        let own = row_major_strides(&self.shape);
        let skip = shape.len().checked_sub(self.shape.len()).ok_or_else(|| {
            Error::Op(format!("cannot broadcast {:?} to {shape:?}", self.shape))
        })?;
        let mut strides = vec![0isize; shape.len()];
        for (k, (&d, &s)) in self.shape.iter().zip(&own).enumerate() {
            let target = shape[skip + k];
            if d == target {
                strides[skip + k] = if d == 1 { 0 } else { s };
            } else if d != 1 {
                return Err(Error::Op(format!("cannot broadcast {:?} to {shape:?}", self.shape)));
            }
        }
        Ok(View { operand: self.operand, offset: self.offset, strides })
    }

    /// The whole region as a read argument of a kernel call.
    pub fn arg_in(&self) -> Arg {
        Arg::In { operand: self.operand, offset: self.offset, len: self.len() }
    }

    /// The whole region as a written argument of a kernel call.
    pub fn arg_out(&self) -> Arg {
        Arg::Out { operand: self.operand, offset: self.offset, len: self.len() }
    }
}

/// Row-major strides of a shape.
pub fn row_major_strides(shape: &[usize]) -> Vec<isize> {
    let mut strides = vec![0isize; shape.len()];
    let mut s = 1isize;
    for k in (0..shape.len()).rev() {
        strides[k] = s;
        s = s.saturating_mul(shape[k] as isize);
    }
    strides
}

/// Lowers a prepared graph (every value typed with a fixed shape).
pub fn lower(graph: &Graph, name: &str) -> Result<Program> {
    let mut b = Builder::new(graph, name)?;
    for n in graph.topo_order()? {
        b.lower_node(n).map_err(|e| e.at_node(&graph.node_ref(n)))?;
    }
    b.finish()
}

struct Builder<'g> {
    graph: &'g Graph,
    prog: Program,
    locs: HashMap<ValueId, Loc>,
    /// Graph outputs by value (a value may be several outputs).
    output_slots: HashMap<ValueId, Vec<usize>>,
    idents: Idents,
}

impl<'g> Builder<'g> {
    fn new(graph: &'g Graph, name: &str) -> Result<Builder<'g>> {
        let mut idents = Idents::default();
        let mut prog = Program {
            name: name.to_string(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            constants: Vec::new(),
            buffers: Vec::new(),
            steps: Vec::new(),
            modules: Vec::new(),
        };
        let mut locs = HashMap::new();
        for (k, &v) in graph.inputs.iter().enumerate() {
            let (dtype, shape) = fixed_type(graph, v)?;
            let value = graph.value(v);
            let quant = graph.io_quant.get(&v).copied();
            prog.inputs.push(Io { name: value.name.clone(), ident: idents.fresh(&value.name), dtype, shape: shape.clone(), quant });
            locs.insert(v, Loc { operand: Operand::Input(k), offset: 0, dtype, shape, constant: None });
        }
        let mut output_slots: HashMap<ValueId, Vec<usize>> = HashMap::new();
        for (k, &v) in graph.outputs.iter().enumerate() {
            let (dtype, shape) = fixed_type(graph, v)?;
            let value = graph.value(v);
            let quant = graph.io_quant.get(&v).copied();
            prog.outputs.push(Io { name: value.name.clone(), ident: idents.fresh(&value.name), dtype, shape, quant });
            output_slots.entry(v).or_default().push(k);
        }
        Ok(Builder { graph, prog, locs, output_slots, idents })
    }

    /// Where a value lives; constants get a read-only array on first use.
    fn loc(&mut self, v: ValueId) -> Result<Loc> {
        if let Some(l) = self.locs.get(&v) {
            return Ok(l.clone());
        }
        let value = self.graph.value(v);
        let Some(t) = value.constant.clone() else {
            return Err(Error::Op(format!("value '{}' is used before it is computed", value.name)));
        };
        let loc = self.add_constant(&value.name.clone(), t);
        self.locs.insert(v, loc.clone());
        Ok(loc)
    }

    fn add_constant(&mut self, name: &str, t: Arc<Tensor>) -> Loc {
        let k = self.prog.constants.len();
        let ident = self.idents.fresh(&format!("c_{name}"));
        let loc = Loc { operand: Operand::Const(k), offset: 0, dtype: t.dtype(), shape: t.shape().to_vec(), constant: Some(t.clone()) };
        self.prog.constants.push(Constant { ident, value: t });
        loc
    }

    fn lower_node(&mut self, n: NodeId) -> Result<()> {
        let graph = self.graph;
        let node = graph.node(n);
        let mut inputs = Vec::new();
        for v in graph.node_inputs(n) {
            inputs.push(match v {
                Some(v) => Some(self.loc(v)?),
                None => None,
            });
        }
        let outputs = graph.node_outputs(n);
        let mut out_types = Vec::new();
        for v in &outputs {
            out_types.push(match v {
                Some(v) => Some(fixed_type(graph, *v)?),
                None => None,
            });
        }
        let mut cx = LowerCx { b: self, node: node.name.clone(), inputs, outputs: outputs.clone(), out_types, done: vec![None; outputs.len()] };
        node.op.lower(&mut cx)?;
        let done = std::mem::take(&mut cx.done);
        for (slot, v) in outputs.iter().enumerate() {
            let Some(v) = v else { continue };
            let Some(loc) = done[slot].clone() else {
                return Err(Error::Op(format!("code generation produced no output {slot}")));
            };
            self.locs.insert(*v, loc);
        }
        Ok(())
    }

    /// Copies every graph output that no node wrote into its array (inputs,
    /// constants and aliases passed through), then returns the program.
    fn finish(mut self) -> Result<Program> {
        for (k, &v) in self.graph.outputs.clone().iter().enumerate() {
            let loc = self.loc(v)?;
            if loc.operand == Operand::Output(k) {
                continue;
            }
            let dst = Loc { operand: Operand::Output(k), offset: 0, ..loc.clone() };
            let node = format!("graph output '{}'", self.graph.value(v).name);
            self.push(node, copy_step(&loc, &dst));
        }
        drop_unused_constants(&mut self.prog);
        Ok(self.prog)
    }

    /// Appends a step; a Map, Copy or Fill over no elements is dropped, so
    /// the backends never see an empty loop or a function nothing calls.
    fn push(&mut self, node: String, step: Step) {
        if let Step::Map { shape, .. } | Step::Copy { shape, .. } | Step::Fill { shape, .. } = &step {
            if shape.contains(&0) {
                return;
            }
        }
        self.prog.steps.push(Annotated { step, node });
    }
}

/// Removes the constants no step reads (operator parameters such as axes
/// and pads that lowering consumed at compile time) and renumbers the rest.
fn drop_unused_constants(p: &mut Program) {
    let mut used = vec![false; p.constants.len()];
    for a in &p.steps {
        for op in a.step.reads() {
            if let Operand::Const(k) = op {
                used[k] = true;
            }
        }
    }
    let mut renumber = vec![usize::MAX; used.len()];
    let mut kept = Vec::new();
    for (k, c) in std::mem::take(&mut p.constants).into_iter().enumerate() {
        if used[k] {
            renumber[k] = kept.len();
            kept.push(c);
        }
    }
    p.constants = kept;
    for a in &mut p.steps {
        for op in a.step.operands_mut() {
            if let Operand::Const(k) = op {
                *k = renumber[*k];
            }
        }
    }
}

pub fn copy_step(src: &Loc, dst: &Loc) -> Step {
    Step::Copy { src: src.view(), dst: dst.view(), shape: dst.shape.clone(), dtype: dst.dtype }
}

/// The fixed element type and shape of a value.
fn fixed_type(graph: &Graph, v: ValueId) -> Result<(DType, Vec<usize>)> {
    let ty = graph.ty(v)?;
    match ty.shape.as_fixed() {
        Some(shape) => Ok((ty.dtype, shape)),
        None => Err(Error::Unsupported(format!(
            "'{}' has shape {} that depends on input data; generated code needs shapes known at compile time",
            graph.value(v).name,
            ty.shape
        ))),
    }
}

/// What an operator's `lower` sees: its inputs' locations and its outputs'
/// types, and the means to emit steps and place its outputs.
pub struct LowerCx<'b, 'g> {
    b: &'b mut Builder<'g>,
    node: String,
    inputs: Vec<Option<Loc>>,
    outputs: Vec<Option<ValueId>>,
    out_types: Vec<Option<(DType, Vec<usize>)>>,
    done: Vec<Option<Loc>>,
}

impl LowerCx<'_, '_> {
    /// Input `i`, which the operator requires.
    pub fn input(&self, i: usize) -> Result<&Loc> {
        self.inputs.get(i).and_then(Option::as_ref).ok_or_else(|| Error::Op(format!("required input {i} is missing")))
    }

    /// Input `i`, if present.
    pub fn opt_input(&self, i: usize) -> Option<&Loc> {
        self.inputs.get(i).and_then(Option::as_ref)
    }

    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// Whether output `i` is used.
    pub fn has_output(&self, i: usize) -> bool {
        self.outputs.get(i).is_some_and(Option::is_some)
    }

    /// Element type and shape of output `i`.
    pub fn output_type(&self, i: usize) -> Result<(DType, &[usize])> {
        match self.out_types.get(i).and_then(Option::as_ref) {
            Some((d, s)) => Ok((*d, s)),
            None => Err(Error::Op(format!("output {i} is not used"))),
        }
    }

    /// Storage for output `i`: the caller's output array when the value is a
    /// graph output, else a new arena buffer.
    pub fn output(&mut self, i: usize) -> Result<Loc> {
        if let Some(loc) = self.done.get(i).and_then(Option::clone) {
            return Ok(loc);
        }
        let (dtype, shape) = self.output_type(i).map(|(d, s)| (d, s.to_vec()))?;
        let v = self.outputs[i].ok_or_else(|| Error::Op(format!("output {i} is not used")))?;
        let operand = match self.b.output_slots.get(&v).and_then(|s| s.first()) {
            Some(&k) => Operand::Output(k),
            None => {
                let len = shape.iter().product();
                self.b.prog.buffers.push(Buffer { dtype, len });
                Operand::Buf(self.b.prog.buffers.len() - 1)
            }
        };
        let loc = Loc { operand, offset: 0, dtype, shape, constant: None };
        self.done[i] = Some(loc.clone());
        Ok(loc)
    }

    /// Declares that output `i` is `loc` itself (a reshape of an input): no
    /// step is emitted unless the output is a graph output.
    pub fn alias_output(&mut self, i: usize, loc: Loc) -> Result<()> {
        let v = self.outputs.get(i).copied().flatten().ok_or_else(|| Error::Op(format!("output {i} is not used")))?;
        if self.b.output_slots.contains_key(&v) {
            let dst = self.output(i)?;
            self.push(copy_step(&loc.reshaped(&dst.shape), &dst));
            return Ok(());
        }
        self.done[i] = Some(loc);
        Ok(())
    }

    /// A scratch buffer of `len` elements, live for this node only.
    pub fn scratch(&mut self, dtype: DType, len: usize) -> Loc {
        self.b.prog.buffers.push(Buffer { dtype, len });
        Loc { operand: Operand::Buf(self.b.prog.buffers.len() - 1), offset: 0, dtype, shape: vec![len], constant: None }
    }

    /// A constant computed at compile time (transposed weights, tables).
    pub fn constant(&mut self, what: &str, t: Tensor) -> Loc {
        let name = format!("{}_{what}", self.node);
        self.b.add_constant(&name, Arc::new(t))
    }

    /// Emits a step.
    pub fn push(&mut self, step: Step) {
        let node = self.node.clone();
        self.b.push(node, step);
    }

    /// `out = f(inputs...)` elementwise, inputs broadcast to `out`'s shape.
    pub fn map(&mut self, f: ScalarFn, inputs: &[&Loc], out: &Loc) -> Result<()> {
        let views = inputs.iter().map(|l| l.broadcast_view(&out.shape)).collect::<Result<Vec<_>>>()?;
        self.push(Step::Map { f, inputs: views, output: out.view(), shape: out.shape.clone() });
        Ok(())
    }

    /// The common elementwise case: output 0 is `f(inputs...)` over every
    /// present input, broadcast, with the runtime scalar function `name`
    /// and literal parameters `params`.
    pub fn elementwise(&mut self, name: &'static str, params: Vec<Lit>) -> Result<()> {
        let inputs: Vec<Loc> = self.inputs.iter().flatten().cloned().collect();
        self.elementwise_of(name, params, &inputs)
    }

    /// Like [`LowerCx::elementwise`] over the given input locations.
    pub fn elementwise_of(&mut self, name: &'static str, params: Vec<Lit>, inputs: &[Loc]) -> Result<()> {
        let out = self.output(0)?;
        let f = ScalarFn::new(name, inputs.iter().map(|l| l.dtype).collect(), out.dtype).with_params(params);
        let refs: Vec<&Loc> = inputs.iter().collect();
        self.map(f, &refs, &out)
    }

    /// Declares that the kernels this node calls use kernel `module`
    /// (instantiated for `types`) too, so generated code includes it.
    pub fn needs(&mut self, module: &'static str, types: Vec<DType>) {
        let m = (module, types);
        if !self.b.prog.modules.contains(&m) {
            self.b.prog.modules.push(m);
        }
    }

    /// Emits a kernel call.
    pub fn call(&mut self, module: &'static str, name: &'static str, types: Vec<DType>, args: Vec<Arg>) {
        self.push(Step::Call(Call { module, name, types, args }));
    }
}

/// Unique identifiers for generated code, derived from ONNX names.
#[derive(Default)]
pub struct Idents {
    used: std::collections::HashSet<String>,
}

impl Idents {
    /// A lower-case identifier from `name` (non-alphanumerics become `_`),
    /// made unique with a numeric suffix.
    pub fn fresh(&mut self, name: &str) -> String {
        let mut base = identifier_base(name);
        if base.is_empty() || base.starts_with(|c: char| c.is_ascii_digit()) {
            base = format!("v_{base}");
        }
        if RESERVED.contains(&base.as_str()) {
            base.push('_');
        }
        let mut ident = base.clone();
        let mut k = 1;
        while !self.used.insert(ident.clone()) {
            k += 1;
            ident = format!("{base}_{k}");
        }
        ident
    }
}

/// `name` in lower-case ASCII letters, digits and single `_` (every other
/// character becomes `_`), without leading or trailing `_`. May be empty or
/// start with a digit; callers decide what to do then.
pub fn identifier_base(name: &str) -> String {
    let mut base: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    while base.contains("__") {
        base = base.replace("__", "_");
    }
    base.trim_matches('_').to_string()
}

/// Words that are keywords in Rust or C, or names the generated code uses.
const RESERVED: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in", "let",
    "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
    "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final",
    "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "auto", "case", "char", "default",
    "double", "float", "goto", "int", "long", "register", "short", "signed", "sizeof", "switch", "typedef", "union",
    "unsigned", "void", "volatile", "inline", "restrict", "bool", "model", "arena", "runtime", "ops", "kernels",
];
