//! [`StrictOptions`]: what one route relaxes in strict decoding.

use std::borrow::Cow;

use super::identity::is_identity_field;

/// Per-route settings of strict decoding.
///
/// By default every identity field ([`is_identity_field`]) is refused at any
/// depth of the input. A route that really takes one (an admin route that
/// assigns a `role`) opts in by exact name:
///
/// ```
/// use guard_core::validate::StrictOptions;
///
/// let options = StrictOptions::new().allow_identity_field("role")?;
/// assert!(options.allows_identity_field("role"));
/// assert!(!options.allows_identity_field("Role")); // exact name only
/// assert!(StrictOptions::new().allow_identity_field("title").is_err()); // not an identity field
/// # Ok::<(), guard_core::validate::StrictConfigError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct StrictOptions {
    allowed_identity: Vec<Cow<'static, str>>,
}

/// A [`StrictOptions`] setting that cannot be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StrictConfigError {
    /// The opt-in names a field that is not an identity field, so it would
    /// do nothing (usually a typo of the intended name).
    #[error("`{0}` is not an identity field; only identity fields need an opt-in")]
    NotAnIdentityField(String),
}

impl StrictOptions {
    /// Every identity field refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts the identity field `name`, by exact key, at any depth.
    ///
    /// # Errors
    ///
    /// [`StrictConfigError::NotAnIdentityField`] when `name` is not one.
    pub fn allow_identity_field(
        mut self,
        name: impl Into<Cow<'static, str>>,
    ) -> Result<Self, StrictConfigError> {
        let name = name.into();
        if !is_identity_field(&name) {
            return Err(StrictConfigError::NotAnIdentityField(name.into_owned()));
        }
        if !self.allowed_identity.contains(&name) {
            self.allowed_identity.push(name);
        }
        Ok(self)
    }

    /// [`StrictOptions::allow_identity_field`] for each name.
    ///
    /// # Errors
    ///
    /// The first name that is not an identity field.
    pub fn allow_identity_fields<N>(
        self,
        names: impl IntoIterator<Item = N>,
    ) -> Result<Self, StrictConfigError>
    where
        N: Into<Cow<'static, str>>,
    {
        names
            .into_iter()
            .try_fold(self, |options, name| options.allow_identity_field(name))
    }

    /// Whether the key `name` is an identity field this route accepts.
    #[must_use]
    pub fn allows_identity_field(&self, name: &str) -> bool {
        self.allowed_identity.iter().any(|allowed| allowed == name)
    }

    /// Whether the key `name` must be refused as an identity field.
    #[must_use]
    #[inline]
    pub fn refuses(&self, name: &str) -> bool {
        is_identity_field(name) && !self.allows_identity_field(name)
    }

    /// The accepted identity fields.
    pub fn allowed_identity_fields(&self) -> impl Iterator<Item = &str> {
        self.allowed_identity.iter().map(|name| name.as_ref())
    }
}
