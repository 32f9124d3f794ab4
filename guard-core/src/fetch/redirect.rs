//! The redirect policy: every hop is checked by the [`UrlPolicy`] before it
//! is followed, and at most `max` hops are.

use std::fmt;
use std::sync::Arc;

use crate::ssrf::UrlPolicy;
use reqwest::redirect::{Attempt, Policy};

/// The redirect chain was longer than the client follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooManyRedirects {
    pub(crate) max: usize,
}

impl fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {} redirects", self.max)
    }
}

impl std::error::Error for TooManyRedirects {}

/// A reqwest redirect policy that follows at most `max` hops, each one only
/// after `policy` allowed it.
///
/// A refused hop ends the fetch with the [`UrlRefusal`] itself as the cause,
/// before anything is sent to it: a literal address is decided here, and a
/// host name is checked here by name and then, like every name, by the
/// vetting resolver on the addresses it resolves to.
///
/// [`UrlRefusal`]: crate::ssrf::UrlRefusal
pub(crate) fn policy(policy: Arc<UrlPolicy>, max: usize) -> Policy {
    Policy::custom(move |attempt| decide(&policy, max, attempt))
}

fn decide(policy: &UrlPolicy, max: usize, attempt: Attempt<'_>) -> reqwest::redirect::Action {
    // `previous` holds the first URL and every hop followed so far, so this
    // attempt is hop number `previous().len()`.
    if attempt.previous().len() > max {
        return attempt.error(TooManyRedirects { max });
    }
    match policy.check(attempt.url()) {
        Ok(_) => attempt.follow(),
        Err(refusal) => {
            tracing::debug!(reason = %refusal, "redirect hop refused");
            attempt.error(refusal)
        }
    }
}
