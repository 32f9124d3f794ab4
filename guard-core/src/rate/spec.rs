//! The rate and quota grammar lives in guard-grammar, shared with the macro;
//! these are its types under `guard_core::rate`.

pub use guard_grammar::rate::{QuotaSpec, RateSpec, RateSpecError, RateSpecProblem, RateUnit};
