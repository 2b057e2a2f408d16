//! Einsum equations: `term,term,...->output` (or implicit output), terms of
//! letters and at most one `...` each, resolved against operand ranks into
//! one label per axis (the axes an ellipsis covers get labels of their own,
//! shared right-aligned across operands).

use crate::{bail, Result};

/// A label: a letter's code, or `ELLIPSIS + i` for the i-th ellipsis axis.
pub type Label = u32;

/// First label used for ellipsis axes (above every letter).
const ELLIPSIS: Label = 1 << 16;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Letter(u8),
    Ellipsis,
}

/// A parsed equation.
#[derive(Debug, Clone)]
pub struct Equation {
    inputs: Vec<Vec<Item>>,
    output: Option<Vec<Item>>,
}

fn term(text: &str) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("...") {
            if items.contains(&Item::Ellipsis) {
                bail!("term '{text}' has more than one ellipsis");
            }
            items.push(Item::Ellipsis);
            rest = r;
        } else if c.is_ascii_alphabetic() {
            items.push(Item::Letter(c as u8));
            rest = &rest[1..];
        } else {
            bail!("term '{text}' contains '{c}'; labels are letters and '...'");
        }
    }
    Ok(items)
}

impl Equation {
    pub fn parse(equation: &str) -> Result<Equation> {
        let compact: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
        let (lhs, rhs) = match compact.split_once("->") {
            Some((l, r)) => (l, Some(r)),
            None => (compact.as_str(), None),
        };
        let inputs = lhs.split(',').map(term).collect::<Result<Vec<_>>>()?;
        let output = rhs.map(term).transpose()?;
        if let Some(out) = &output {
            for (i, item) in out.iter().enumerate() {
                if let Item::Letter(l) = item {
                    if out[..i].contains(item) {
                        bail!("output label '{}' appears twice", *l as char);
                    }
                    if !inputs.iter().any(|t| t.contains(item)) {
                        bail!("output label '{}' does not appear in any input", *l as char);
                    }
                }
            }
        }
        Ok(Equation { inputs, output })
    }

    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// Labels of every operand axis and of the output, for operand `ranks`.
    pub fn resolve(&self, ranks: &[usize]) -> Result<(Vec<Vec<Label>>, Vec<Label>)> {
        if ranks.len() != self.inputs.len() {
            bail!("the equation has {} operand(s), but {} were given", self.inputs.len(), ranks.len());
        }
        let mut ellipsis_rank = 0;
        let mut labels = Vec::with_capacity(ranks.len());
        for (t, &rank) in self.inputs.iter().zip(ranks) {
            let letters = t.iter().filter(|i| matches!(i, Item::Letter(_))).count();
            let has_ellipsis = t.contains(&Item::Ellipsis);
            if (!has_ellipsis && letters != rank) || letters > rank {
                bail!("a term with {letters} label(s) does not fit an operand of rank {rank}");
            }
            let covered = rank - letters;
            ellipsis_rank = ellipsis_rank.max(covered);
            labels.push((t, covered));
        }
        let expand = |t: &[Item], covered: usize| -> Vec<Label> {
            let mut out = Vec::new();
            for item in t {
                match item {
                    Item::Letter(l) => out.push(*l as Label),
                    Item::Ellipsis => out.extend((ellipsis_rank - covered..ellipsis_rank).map(|i| ELLIPSIS + i as Label)),
                }
            }
            out
        };
        let inputs: Vec<Vec<Label>> = labels.iter().map(|(t, covered)| expand(t, *covered)).collect();
        let output = match &self.output {
            Some(o) => expand(o, ellipsis_rank),
            None => {
                // Implicit: the ellipsis axes, then the letters used once, sorted.
                let mut out: Vec<Label> = (0..ellipsis_rank).map(|i| ELLIPSIS + i as Label).collect();
                let mut once: Vec<Label> = Vec::new();
                for l in inputs.iter().flatten().filter(|&&l| l < ELLIPSIS) {
                    if inputs.iter().flatten().filter(|&&m| m == *l).count() == 1 {
                        once.push(*l);
                    }
                }
                once.sort_unstable();
                out.extend(once);
                out
            }
        };
        Ok((inputs, output))
    }
}

/// Whether a label stands for an ellipsis axis (those broadcast).
pub fn is_ellipsis(l: Label) -> bool {
    l >= ELLIPSIS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_implicit_and_ellipsis() {
        let e = Equation::parse("ij, jk -> ik").unwrap();
        let (i, o) = e.resolve(&[2, 2]).unwrap();
        assert_eq!(i, vec![vec![105, 106], vec![106, 107]]);
        assert_eq!(o, vec![105, 107]);
        let (_, o) = Equation::parse("ba,b").unwrap().resolve(&[2, 1]).unwrap();
        assert_eq!(o, vec![97]);
        let (i, o) = Equation::parse("...ij,...jk").unwrap().resolve(&[4, 3]).unwrap();
        assert_eq!(i[0], vec![ELLIPSIS, ELLIPSIS + 1, 105, 106]);
        assert_eq!(i[1], vec![ELLIPSIS + 1, 106, 107]);
        assert_eq!(o, vec![ELLIPSIS, ELLIPSIS + 1, 105, 107]);
        assert!(Equation::parse("ij->ii").is_err());
        assert!(Equation::parse("ij->k").is_err());
        assert!(Equation::parse("i$").is_err());
        assert!(Equation::parse("ij").unwrap().resolve(&[3]).is_err());
    }
}
