//! (in progress) Masks secrets in free text before it reaches a log.
use std::borrow::Cow;

/// Masks bearer tokens, passwords, API keys, session ids and email addresses.
pub fn scrub(text: &str) -> Cow<'_, str> {
    Cow::Borrowed(text)
}
