//! The value grammars of the guard framework, shared by the `#[secure_route]`
//! macro and the runtime so that a value the macro accepts is exactly one
//! the runtime parses, refused with the same message.
//!
//! - [`rate`] — [`RateSpec`](rate::RateSpec) (`"10/min"`, `"5/s, burst = 10"`)
//!   and [`QuotaSpec`](rate::QuotaSpec) (`"1000/day"`).
//! - [`size`] — [`ByteSize`](size::ByteSize) (`"5MiB"`, `"512 KiB"`).
//! - [`FILE_KINDS`] — the upload file-type names.
//!
//! The parsers are `const fn`s and the crate needs nothing but `std`, so the
//! proc-macro crate can depend on it cheaply. guard-core re-exports every
//! type at its own paths (`guard_core::rate::RateSpec`,
//! `guard_core::upload::ByteSize`); use those.
//!
//! | feature | adds |
//! |---|---|
//! | `serde` | `Serialize` / `Deserialize` for the rate and quota specs, as their canonical strings (guard-core turns it on) |

mod kinds;
pub mod rate;
pub mod size;

pub use kinds::FILE_KINDS;
