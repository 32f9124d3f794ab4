//! GA-BODY-008: not built yet.

use super::Ctx;
use crate::findings::Results;

pub(crate) fn run(_ctx: &Ctx<'_, '_>, _out: &mut Results) {}
