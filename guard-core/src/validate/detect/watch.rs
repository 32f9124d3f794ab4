//! [`Watch`]: what one decode saw, and the fast mode's judgement of the
//! text a visitor receives.

use std::cell::Cell;

use serde::de;

use crate::validate::options::StrictOptions;

/// What one decode saw; shared by every wrapper of that decode.
pub(crate) struct Watch<'o> {
    /// `Some` in fast mode: the route's options, to judge identity keys.
    pub(super) options: Option<&'o StrictOptions>,
    /// Input was buffered where unknown fields are invisible.
    tripped: Cell<bool>,
    /// Fast mode found something the reporting passes must name.
    flagged: Cell<bool>,
    /// Fast mode met text only the identity scan can judge.
    pub(super) needs_scan: Cell<bool>,
}

impl<'o> Watch<'o> {
    /// Only buffering is watched; every key and ignored value passes (the
    /// reporting pass, where `serde_ignored` lists the ignored fields).
    pub(crate) fn reporting() -> Self {
        Self {
            options: None,
            tripped: Cell::new(false),
            flagged: Cell::new(false),
            needs_scan: Cell::new(false),
        }
    }

    /// Buffering, refused identity keys and ignored values are watched.
    pub(crate) fn fast(options: &'o StrictOptions) -> Self {
        Self {
            options: Some(options),
            ..Self::reporting()
        }
    }

    pub(crate) fn tripped(&self) -> bool {
        self.tripped.get()
    }

    pub(crate) fn flagged(&self) -> bool {
        self.flagged.get()
    }

    pub(crate) fn needs_scan(&self) -> bool {
        self.needs_scan.get()
    }

    pub(super) fn trip<E: de::Error>(&self) -> E {
        self.tripped.set(true);
        E::custom("input buffered where unknown fields cannot be detected")
    }

    pub(super) fn flag<E: de::Error>(&self) -> E {
        self.flagged.set(true);
        E::custom("strict decoding has a field to report")
    }

    /// In fast mode, judges text read as `role`; `true` stops the decode
    /// (a refused map key).
    #[inline]
    pub(super) fn stops_at(&self, role: Role, text: &str) -> bool {
        let Some(options) = self.options else {
            return false;
        };
        match role {
            // Data: the hot path, every string value of the body.
            Role::Value => false,
            Role::MapKey => {
                let refused = options.refuses(text);
                if refused {
                    self.flagged.set(true);
                }
                refused
            }
            // A key in `{"Variant": …}` but a plain value in `"Variant"`, and
            // the two look alike from here: an enum value named `admin` or
            // `owner` is common and fine, so let the scan tell them apart.
            Role::Variant => {
                if options.refuses(text) {
                    self.needs_scan.set(true);
                }
                false
            }
        }
    }

    pub(super) fn stops_at_bytes(&self, role: Role, text: &[u8]) -> bool {
        // Text that is not UTF-8 cannot be an identity name (all ASCII).
        std::str::from_utf8(text).is_ok_and(|text| self.stops_at(role, text))
    }
}

/// What the text a visitor receives is, for the identity check.
#[derive(Clone, Copy)]
pub(super) enum Role {
    /// Data: never checked.
    Value,
    /// A map key or struct field name.
    MapKey,
    /// An enum variant name.
    Variant,
}
