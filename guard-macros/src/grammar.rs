//! The value grammars shared with the runtime, from guard-grammar, so a value
//! the macro accepts is exactly one the runtime parses and a refusal reads
//! the same at compile time as at run time.

pub(crate) use guard_grammar::{FILE_KINDS, rate, size};
