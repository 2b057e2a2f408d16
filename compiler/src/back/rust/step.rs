//! Rendering one step as a Rust function (documented with the ONNX node it
//! implements) and its call in `Model::run`.
//!
//! Arena buffers are borrowed from their pools with `split_at_mut` chains at
//! constant offsets, so every step is safe Rust with disjoint borrows.

use super::{const_ident, pool_ident, rust_type};
use crate::back::plan::Plan;
use crate::back::program::*;
use crate::back::{collapse, lit_value, type_suffix, LitValue};
use crate::tensor::DType;
use crate::{Error, Result};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use std::collections::BTreeMap;

/// The call in `run` and the step function.
pub fn render(p: &Program, plan: &Plan, k: usize, a: &Annotated) -> Result<(TokenStream, TokenStream)> {
    let mut ctx = Ctx::new(p, plan, &a.step)?;
    let body = match &a.step {
        Step::Map { f, inputs, output, shape } => map(&mut ctx, f, inputs, output, shape)?,
        Step::Copy { src, dst, shape, .. } => copy(&mut ctx, src, dst, shape)?,
        Step::Fill { dst, shape, value } => fill(&mut ctx, dst, shape, value)?,
        Step::Call(c) => call(&mut ctx, c)?,
    };
    let name = format_ident!("step_{}", k);
    let doc = format!(" Node '{}'.", a.node);
    let (params, args) = ctx.signature();
    let bindings = ctx.bindings()?;
    let func = quote! {
        #[doc = #doc]
        #[inline(always)]
        fn #name(#(#params),*) {
            #(#bindings)*
            #body
        }
    };
    Ok((quote! { #name(#(#args),*); }, func))
}

/// What one step touches and how it names it.
struct Ctx<'a> {
    p: &'a Program,
    plan: &'a Plan,
    inputs: Vec<usize>,
    outputs: BTreeMap<usize, bool>,
    /// Arena buffers by pool: (start, len) -> binding, written or not.
    regions: BTreeMap<DType, BTreeMap<(usize, usize), (Ident, bool)>>,
}

impl<'a> Ctx<'a> {
    fn new(p: &'a Program, plan: &'a Plan, step: &Step) -> Result<Ctx<'a>> {
        let mut ctx = Ctx { p, plan, inputs: Vec::new(), outputs: BTreeMap::new(), regions: BTreeMap::new() };
        for op in step.reads() {
            ctx.touch(op, false)?;
        }
        for op in step.writes() {
            ctx.touch(op, true)?;
        }
        Ok(ctx)
    }

    fn touch(&mut self, op: Operand, write: bool) -> Result<()> {
        match op {
            Operand::Input(k) => {
                if !self.inputs.contains(&k) {
                    self.inputs.push(k);
                }
            }
            Operand::Output(k) => *self.outputs.entry(k).or_insert(false) |= write,
            Operand::Const(_) => {}
            Operand::Buf(b) => {
                let buf = &self.p.buffers[b];
                let start = self.plan.offsets[b];
                let pool = self.regions.entry(buf.dtype).or_default();
                let n = pool.len();
                let entry = pool.entry((start, buf.len)).or_insert_with(|| (format_ident!("{}_{}", type_suffix(buf.dtype), n), false));
                entry.1 |= write;
            }
        }
        Ok(())
    }

    /// The expression naming an operand inside the step function.
    fn name(&self, op: Operand) -> TokenStream {
        match op {
            Operand::Input(k) => {
                let id = format_ident!("{}", self.p.inputs[k].ident);
                quote!(#id)
            }
            Operand::Output(k) => {
                let id = format_ident!("{}", self.p.outputs[k].ident);
                quote!(#id)
            }
            Operand::Const(k) => {
                let id = const_ident(&self.p.constants[k].ident);
                quote!(#id)
            }
            Operand::Buf(b) => {
                let buf = &self.p.buffers[b];
                let start = self.plan.offsets[b];
                let (id, _) = &self.regions[&buf.dtype][&(start, buf.len)];
                quote!(#id)
            }
        }
    }

    /// Parameters of the step function and the arguments of its call.
    fn signature(&self) -> (Vec<TokenStream>, Vec<TokenStream>) {
        let (mut params, mut args) = (Vec::new(), Vec::new());
        for &k in &self.inputs {
            let io = &self.p.inputs[k];
            let (id, ty) = (format_ident!("{}", io.ident), rust_type(io.dtype));
            params.push(quote!(#id: &[#ty]));
            args.push(quote!(#id));
        }
        for (&k, &write) in &self.outputs {
            let io = &self.p.outputs[k];
            let (id, ty) = (format_ident!("{}", io.ident), rust_type(io.dtype));
            if write {
                params.push(quote!(#id: &mut [#ty]));
                args.push(quote!(&mut #id[..]));
            } else {
                params.push(quote!(#id: &[#ty]));
                args.push(quote!(&#id[..]));
            }
        }
        for &dtype in self.regions.keys() {
            let (id, ty) = (pool_ident(dtype), rust_type(dtype));
            params.push(quote!(#id: &mut [#ty]));
            args.push(quote!(#id));
        }
        (params, args)
    }

    /// `split_at_mut` chains binding each arena region of the step.
    fn bindings(&self) -> Result<Vec<TokenStream>> {
        let mut out = Vec::new();
        for (&dtype, regions) in &self.regions {
            let pool = pool_ident(dtype);
            let mut at = 0usize;
            out.push(quote! { let rest = #pool; });
            for (&(start, len), (id, _)) in regions {
                if start < at {
                    return Err(Error::Op(format!("internal error: arena regions overlap in one step ({dtype} pool at {start})")));
                }
                let skip = start - at;
                out.push(quote! {
                    let (_, rest) = rest.split_at_mut(#skip);
                    let (#id, rest) = rest.split_at_mut(#len);
                });
                at = start + len;
            }
        }
        Ok(out)
    }
}

fn map(ctx: &mut Ctx, f: &ScalarFn, inputs: &[View], output: &View, shape: &[usize]) -> Result<TokenStream> {
    let mut views: Vec<&View> = vec![output];
    views.extend(inputs.iter());
    let (shape, views) = collapse(shape, &views);
    let vars: Vec<Ident> = (0..shape.len()).map(|i| format_ident!("i{}", i)).collect();
    let out = ctx.name(output.operand);
    let out_idx = index(&views[0], &vars);
    let args: Vec<TokenStream> = inputs
        .iter()
        .zip(&views[1..])
        .map(|(v, cv)| {
            let name = ctx.name(v.operand);
            let idx = index(cv, &vars);
            quote!(#name[#idx])
        })
        .collect();
    let params = f.params.iter().map(lit);
    let func = format_ident!("{}", f.name);
    let body = quote! { #out[#out_idx] = ops::#func(#(#args,)* #(#params),*); };
    Ok(nest(&vars, &shape, body))
}

fn copy(ctx: &mut Ctx, src: &View, dst: &View, shape: &[usize]) -> Result<TokenStream> {
    let (shape, views) = collapse(shape, &[dst, src]);
    let (d, s) = (ctx.name(dst.operand), ctx.name(src.operand));
    if let Some(n) = contiguous(&shape, &views) {
        let (a, b) = (views[0].offset, views[1].offset);
        return Ok(quote! { #d[#a..#a + #n].copy_from_slice(&#s[#b..#b + #n]); });
    }
    let vars: Vec<Ident> = (0..shape.len()).map(|i| format_ident!("i{}", i)).collect();
    let (di, si) = (index(&views[0], &vars), index(&views[1], &vars));
    Ok(nest(&vars, &shape, quote! { #d[#di] = #s[#si]; }))
}

fn fill(ctx: &mut Ctx, dst: &View, shape: &[usize], value: &ElemLit) -> Result<TokenStream> {
    let (shape, views) = collapse(shape, &[dst]);
    let d = ctx.name(dst.operand);
    let v = elem(value)?;
    if let Some(n) = contiguous(&shape, &views) {
        let a = views[0].offset;
        return Ok(quote! { #d[#a..#a + #n].fill(#v); });
    }
    let vars: Vec<Ident> = (0..shape.len()).map(|i| format_ident!("i{}", i)).collect();
    let di = index(&views[0], &vars);
    Ok(nest(&vars, &shape, quote! { #d[#di] = #v; }))
}

fn call(ctx: &mut Ctx, c: &Call) -> Result<TokenStream> {
    let module = format_ident!("{}", c.module);
    let name = format_ident!("{}", c.name);
    let types = c.types.iter().map(|&t| rust_type(t));
    let mut args = Vec::new();
    for a in &c.args {
        args.push(match a {
            Arg::In { operand, offset, len } => {
                let n = ctx.name(*operand);
                quote!(&#n[#offset..#offset + #len])
            }
            Arg::Out { operand, offset, len } => {
                let n = ctx.name(*operand);
                quote!(&mut #n[#offset..#offset + #len])
            }
            Arg::Lit(l) => lit(l),
            Arg::Dims(d) => quote!(&[#(#d),*]),
            Arg::Ints(v) => quote!(&[#(#v),*]),
            Arg::Floats(v, d) => {
                let items = v.iter().map(|&x| lit(&Lit::Float(x, *d)));
                quote!(&[#(#items),*])
            }
        });
    }
    Ok(quote! { kernels::#module::#name::<#(#types),*>(#(#args),*); })
}

/// The element count when every view is one contiguous run.
fn contiguous(shape: &[usize], views: &[View]) -> Option<usize> {
    match shape {
        [] => Some(1),
        [n] if views.iter().all(|v| v.strides == [1]) => Some(*n),
        _ => None,
    }
}

/// `offset + Σ var_k * stride_k`, positive terms before negative ones so
/// that no intermediate value underflows.
fn index(v: &View, vars: &[Ident]) -> TokenStream {
    let off = v.offset;
    let mut expr = quote!(#off);
    for (var, &s) in vars.iter().zip(&v.strides) {
        if s > 0 {
            let s = s as usize;
            expr = if s == 1 { quote!(#expr + #var) } else { quote!(#expr + #var * #s) };
        }
    }
    for (var, &s) in vars.iter().zip(&v.strides) {
        if s < 0 {
            let s = s.unsigned_abs();
            expr = if s == 1 { quote!(#expr - #var) } else { quote!(#expr - #var * #s) };
        }
    }
    expr
}

fn nest(vars: &[Ident], shape: &[usize], body: TokenStream) -> TokenStream {
    let mut out = body;
    for (var, &n) in vars.iter().zip(shape).rev() {
        out = quote! { for #var in 0..#n { #out } };
    }
    out
}

/// A literal of the parameter's type.
pub fn lit(l: &Lit) -> TokenStream {
    match lit_value(l) {
        LitValue::Bool(b) => quote!(#b),
        LitValue::Int(v, d) => int(v, d),
        LitValue::Float(v, d) => float(v, d),
    }
}

fn elem(e: &ElemLit) -> Result<TokenStream> {
    Ok(lit(&Lit::Elem(e.clone())))
}

fn int(v: i64, d: DType) -> TokenStream {
    let ty = rust_type(d);
    let magnitude = if d == DType::U64 { v as u64 } else { v.unsigned_abs() };
    let l = proc_macro2::Literal::u64_unsuffixed(magnitude);
    if v < 0 && d != DType::U64 {
        quote!((-(#l as i128) as #ty))
    } else {
        quote!((#l as #ty))
    }
}

fn float(v: f64, d: DType) -> TokenStream {
    match d {
        DType::F64 => f64_tokens(v),
        DType::F32 => f32_tokens(v as f32),
        DType::F16 => {
            let bits = half::f16::from_f64(v).to_bits();
            quote!(scalar::F16(#bits))
        }
        DType::BF16 => {
            let bits = half::bf16::from_f64(v).to_bits();
            quote!(scalar::BF16(#bits))
        }
        _ => f32_tokens(v as f32),
    }
}

fn f32_tokens(v: f32) -> TokenStream {
    if v.is_nan() {
        quote!(f32::NAN)
    } else if v.is_infinite() {
        if v > 0.0 {
            quote!(f32::INFINITY)
        } else {
            quote!(f32::NEG_INFINITY)
        }
    } else {
        let l = proc_macro2::Literal::f32_suffixed(v.abs());
        if v.is_sign_negative() {
            quote!((-#l))
        } else {
            quote!(#l)
        }
    }
}

fn f64_tokens(v: f64) -> TokenStream {
    if v.is_nan() {
        quote!(f64::NAN)
    } else if v.is_infinite() {
        if v > 0.0 {
            quote!(f64::INFINITY)
        } else {
            quote!(f64::NEG_INFINITY)
        }
    } else {
        let l = proc_macro2::Literal::f64_suffixed(v.abs());
        if v.is_sign_negative() {
            quote!((-#l))
        } else {
            quote!(#l)
        }
    }
}
