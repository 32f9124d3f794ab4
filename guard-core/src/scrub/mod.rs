//! Masking of secrets and personal data in free text before it reaches a log.
//!
//! The error layer logs the detail of an internal error (a database error, an
//! HTTP client error, a panic message) under the error id the client sees.
//! That detail routinely quotes what it should not: sqlx quotes the row that
//! violated a constraint, reqwest quotes the URL with its `?api_key=`, a
//! header dump carries `Authorization`. [`scrub`] masks those parts and
//! keeps the rest readable, so the log still explains the failure.
//!
//! Every masked part becomes [`REDACTED`] (`[redacted]`), whatever it was:
//!
//! | found in the text | becomes |
//! |---|---|
//! | `Authorization: Bearer x`, `Proxy-Authorization:`, `Cookie:`, `Set-Cookie:` (header lines, any case) | `Authorization: [redacted]` (the rest of the line) |
//! | a sensitive key in `key=value`, `key: value`, `"key":"value"`, `key: Some("value")`, `?key=value&` | `key=[redacted]` (the value only; other query parameters stay) |
//! | `Bearer <token>`, `Basic <base64>` outside a header line | `Bearer [redacted]` |
//! | `scheme://user:password@host` | `scheme://[redacted]@host` |
//! | an email address, also `%40`-encoded | `[redacted]`, the whole address |
//! | a JWT (`eyJ…` in three or five base64url segments) | `[redacted]` |
//! | a provider key by prefix: AWS `AKIA…`/`ASIA…`, Stripe `sk_live_…`, GitHub `ghp_…`, Slack `xoxb-…`, Google `AIza…`, … | `[redacted]` |
//! | a run of at least 32 random-looking hex or base64 characters | `[redacted]` |
//!
//! Sensitive keys are matched case-insensitively with `_`, `-` and `.`
//! ignored: a key *containing* `password`, `passwd`, `passphrase`, `secret`,
//! `apikey`, `privatekey`, `accesskey`, `credential`, `signature`,
//! `sessionid` or `sessid` (so `db_password`, `X-Api-Key`, `client_secret`,
//! `JSESSIONID`), or *ending* in `token`, `pwd`, `sid`, `session`, `auth` or
//! `sig` (so `refresh_token`, `tower.sid`, `connect.sid`, but not
//! `max_tokens`), or equal to `pass`/`pw`.
//!
//! Email addresses are masked whole, domain included: a personal domain
//! identifies its owner as well as the local part does, and the column name
//! quoted beside it (`Key (email)=([redacted])`) is what an operator needs.
//!
//! # What it does not do
//!
//! The scrubber errs towards masking too much: `invalid password: too short`
//! loses `too`, a 40-character git hash is masked as a possible key. It is a
//! net under the log, not a reason to log secrets: wrap them in
//! [`Secret`](crate::secret::Secret) so they never reach the text at all. A
//! bare cookie value (`id=…` outside a `Cookie:` line), a password containing
//! spaces outside quotes, and secrets with no marker, no known prefix and too
//! short to look random cannot be told from ordinary text and stay visible.
//! Hyphenated UUIDs (the error id among them) are kept.
//!
//! # Cost
//!
//! Linear in the length of the text, on any input. The `regex` crate would
//! give that guarantee too, but it is not a dependency of this crate, and the
//! backtracking engines people reach for instead (`fancy-regex`, PCRE) are
//! exactly what an attacker-controlled error message turns into a denial of
//! service. So each rule is a small forward scanner: every scan either
//! consumes what it read or is bounded by the previous match, and no byte is
//! read more than a fixed number of times. The text is copied only when
//! something is masked; otherwise [`scrub`] returns it borrowed.

mod email;
mod key_value;
mod token;
mod userinfo;

use std::borrow::Cow;

use email::mask_emails;
use key_value::mask_key_values;
use token::mask_tokens;
use userinfo::mask_url_userinfo;

/// What every masked part of a text is replaced with, by [`scrub`] and by the
/// `Debug`/`Display` of [`Secret`](crate::secret::Secret).
pub const REDACTED: &str = "[redacted]";

/// Masks bearer tokens, passwords, API keys, session ids and email addresses
/// in free text such as an error message.
///
/// Returns the text borrowed when nothing was masked. See the
/// [module docs](self) for the full list of what is masked and how.
///
/// ```
/// use guard_core::scrub::scrub;
///
/// let raw = "GET https://api.x.com/v1?api_key=sk_live_4eC39HqLyjWDarjtT1zdp7dc&page=2 failed";
/// assert_eq!(scrub(raw), "GET https://api.x.com/v1?api_key=[redacted]&page=2 failed");
///
/// let raw = "UNIQUE constraint failed: users.email ('alice@example.com')";
/// assert_eq!(scrub(raw), "UNIQUE constraint failed: users.email ('[redacted]')");
/// ```
pub fn scrub(text: &str) -> Cow<'_, str> {
    // Order matters only for readability of the result: the key/value pass
    // masks whole header lines first, so the later passes find `[redacted]`
    // there, which none of them matches.
    const PASSES: [fn(&str) -> Option<String>; 4] =
        [mask_key_values, mask_url_userinfo, mask_emails, mask_tokens];
    let mut text = Cow::Borrowed(text);
    for pass in PASSES {
        if let Some(masked) = pass(&text) {
            text = Cow::Owned(masked);
        }
    }
    text
}

/// Copies the text into a new string, replacing the spans it is given.
///
/// Spans must come in increasing order; a span that starts inside an
/// already-masked one is clamped, and a span end that is not a char boundary
/// is pushed to the next one, so a scanner slip over-masks rather than
/// panicking or leaking.
struct Masker<'a> {
    text: &'a str,
    out: Option<String>,
    copied: usize,
}

impl<'a> Masker<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            out: None,
            copied: 0,
        }
    }

    /// Bytes before this position are already written out.
    fn copied(&self) -> usize {
        self.copied
    }

    fn mask(&mut self, start: usize, end: usize) {
        let start = start.max(self.copied);
        let mut end = end.clamp(start, self.text.len());
        while !self.text.is_char_boundary(end) {
            end += 1;
        }
        if start == end {
            return;
        }
        let text = self.text;
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(text.len()));
        // `start` is always an ASCII position or a previous `end`; should it
        // not be, mask from the last copied position instead of panicking.
        if let Some(kept) = text.get(self.copied..start) {
            out.push_str(kept);
        }
        out.push_str(REDACTED);
        self.copied = end;
    }

    fn finish(self) -> Option<String> {
        let mut out = self.out?;
        out.push_str(self.text.get(self.copied..).unwrap_or_default());
        Some(out)
    }
}

fn starts_with_redacted(bytes: &[u8], at: usize) -> bool {
    bytes
        .get(at..)
        .is_some_and(|rest| rest.starts_with(REDACTED.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_scrubs(cases: &[(&str, &str)]) {
        for (input, expected) in cases {
            let once = scrub(input);
            assert_eq!(once, *expected, "scrubbing {input:?}");
            // Log pipelines scrub twice; the second pass must change nothing.
            assert!(
                matches!(scrub(&once), Cow::Borrowed(_)),
                "not idempotent on {input:?}: {once:?} -> {:?}",
                scrub(&once)
            );
        }
    }

    #[test]
    fn masks_database_errors_that_quote_rows() {
        assert_scrubs(&[
            (
                "error returned from database: (code: 2067) UNIQUE constraint failed: users.email; row ('alice@example.com', 'Alice')",
                "error returned from database: (code: 2067) UNIQUE constraint failed: users.email; row ('[redacted]', 'Alice')",
            ),
            (
                "duplicate key value violates unique constraint \"users_email_key\"\nDETAIL: Key (email)=(bob@x.org) already exists.",
                "duplicate key value violates unique constraint \"users_email_key\"\nDETAIL: Key (email)=([redacted]) already exists.",
            ),
            (
                "Failing row contains (7, carol.o'brien+test@mail.example.co.uk, $argon2id$v=19$m=19456).",
                "Failing row contains (7, [redacted], $argon2id$v=19$m=19456).",
            ),
            (
                "error connecting to postgres://app:S3cr3t!pass@db.internal:5432/app",
                "error connecting to postgres://[redacted]@db.internal:5432/app",
            ),
        ]);
    }

    #[test]
    fn masks_query_secrets_and_keeps_other_parameters() {
        assert_scrubs(&[
            (
                "error sending request for url (https://api.x.com/v1?api_key=sk_live_51Hx9aBcDeFgHiJkLmNoP&page=2)",
                "error sending request for url (https://api.x.com/v1?api_key=[redacted]&page=2)",
            ),
            ("GET /cb?token=abc&x=1", "GET /cb?token=[redacted]&x=1"),
            (
                "/oauth?access_token=at1&refresh_token=rt2&state=s",
                "/oauth?access_token=[redacted]&refresh_token=[redacted]&state=s",
            ),
            (
                "https://s3.amazonaws.com/b/k?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101&X-Amz-Signature=abc123&X-Amz-Expires=60",
                "https://s3.amazonaws.com/b/k?X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]&X-Amz-Expires=60",
            ),
            (
                "https://x.blob.core.windows.net/c?sv=2022&sig=Zm9v%3D",
                "https://x.blob.core.windows.net/c?sv=2022&sig=[redacted]",
            ),
        ]);
    }

    #[test]
    fn masks_header_lines_whatever_their_case() {
        assert_scrubs(&[
            (
                "Host: api.x.com\nAuthorization: Bearer abc.def.ghi\nAccept: */*",
                "Host: api.x.com\nAuthorization: [redacted]\nAccept: */*",
            ),
            (
                "cookie: tower.sid=AbC123; theme=dark\r\nset-cookie: id=xyz; HttpOnly; Secure\r\n",
                "cookie: [redacted]\r\nset-cookie: [redacted]\r\n",
            ),
            (
                "PROXY-AUTHORIZATION: Basic dXNlcjpwYXNz",
                "PROXY-AUTHORIZATION: [redacted]",
            ),
            (
                r#"headers: {"authorization": "Bearer t0k3n", "x-api-key": "k1", "accept": "*/*"}"#,
                r#"headers: {"authorization": "[redacted]", "x-api-key": "[redacted]", "accept": "*/*"}"#,
            ),
        ]);
    }

    #[test]
    fn masks_secrets_in_json_and_debug_output() {
        assert_scrubs(&[
            (
                r#"{"email":"a@b.io","password":"hunter2","remember":true}"#,
                r#"{"email":"[redacted]","password":"[redacted]","remember":true}"#,
            ),
            (
                r#"{"password" : "with \"quote\" inside"}"#,
                r#"{"password" : "[redacted]"}"#,
            ),
            (
                r#"Login { user: "dave", password: Some("hunter2"), otp: None }"#,
                r#"Login { user: "dave", password: Some("[redacted]"), otp: None }"#,
            ),
            (
                "Config { client_secret: s3cr3t, port: 8080 }",
                "Config { client_secret: [redacted], port: 8080 }",
            ),
            (
                "password=hunter2, user=bob",
                "password=[redacted], user=bob",
            ),
            ("db_password = 'p@ss w0rd'", "db_password = '[redacted]'"),
            (
                "run --password=hunter2 --verbose",
                "run --password=[redacted] --verbose",
            ),
            (
                "PASSWD:x pwd=y passphrase=z session=q tower.sid=r connect.sid=s",
                "PASSWD:[redacted] pwd=[redacted] passphrase=[redacted] session=[redacted] tower.sid=[redacted] connect.sid=[redacted]",
            ),
            (
                "apikey=1 api-key=2 API_KEY=3 JSESSIONID=4",
                "apikey=[redacted] api-key=[redacted] API_KEY=[redacted] JSESSIONID=[redacted]",
            ),
        ]);
    }

    #[test]
    fn masks_bearer_and_basic_credentials_in_prose() {
        assert_scrubs(&[
            (
                "rejected bearer abc123 for user 5",
                "rejected bearer [redacted] for user 5",
            ),
            (
                "sent BEARER ya29.a0AfH6SMB, got 401",
                "sent BEARER [redacted], got 401",
            ),
            (
                "upstream said: Basic dXNlcjpwYXNzd29yZA== is invalid",
                "upstream said: Basic [redacted] is invalid",
            ),
        ]);
    }

    #[test]
    fn masks_jwts_provider_keys_and_random_runs() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_scrubs(&[
            (
                &format!("invalid jwt {jwt} supplied"),
                "invalid jwt [redacted] supplied",
            ),
            (&format!("GET /auth/{jwt}/cb"), "GET /auth/[redacted]/cb"),
            (
                "unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. token",
                "unsigned [redacted] token",
            ),
            ("key id AKIAIOSFODNN7EXAMPLE.", "key id [redacted]."),
            ("key=AKIAIOSFODNN7EXAMPLE", "key=[redacted]"),
            (
                "gh ghp_16C7e42F292c6912E7710c838347Ae178B4a ok",
                "gh [redacted] ok",
            ),
            (
                "slack xoxb-2648-98234-ABCdef123 down",
                "slack [redacted] down",
            ),
            (
                "openai sk-proj-Abc123Def456Ghi789Jkl0 failed",
                "openai [redacted] failed",
            ),
            (
                "hmac 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 mismatch",
                "hmac [redacted] mismatch",
            ),
            (
                "opaque dGhpcyBpcyBhIHNlY3JldCBrZXkgMTIzNDU2Nzg5MA== rejected",
                "opaque [redacted] rejected",
            ),
        ]);
    }

    #[test]
    fn leaves_ordinary_text_borrowed_and_unchanged() {
        let untouched = [
            "",
            "record not found",
            "error 1a2b3c4d-0000-4000-8000-123456789abc: relation \"projects\" does not exist",
            "error id 550E8400-E29B-41D4-A716-446655440000",
            "no rows returned by a query that expected to return at least one row",
            "path /usr/local/lib/rustlib/x86_64-unknown-linux-gnu/lib not found",
            "the bearer of bad news; basic usage; a token of thanks",
            "upgrade lodash@4.17.21 and ssh git@github",
            "std::session::Store failed: key (id)=(42)",
            "Größe überschritten: 10 MiB, 日本語のテキスト, emoji 🎉",
            "AbstractSingletonProxyFactoryBean2 and ThisIsAVeryLongCamelCaseIdentifierVersion2024Final",
            "null value in column \"password_hash\" of relation \"users\" violates not-null constraint",
            "usage tokens_used=1500 max_tokens=4096",
            "request 01HZX3K7QW8Y2V5N9M4B6C1D0E at src/handlers/projects.rs:42:17",
            "timeout after 30s at 12:30:45 on 2024-01-01T00:00:00Z",
        ];
        for text in untouched {
            assert!(
                matches!(scrub(text), Cow::Borrowed(t) if t == text),
                "changed {text:?}: {:?}",
                scrub(text)
            );
        }
    }

    #[test]
    fn masks_inside_unicode_text_without_breaking_it() {
        assert_scrubs(&[
            (
                "Ошибка: пароль password=секрет для josé@exämple.com",
                "Ошибка: пароль password=[redacted] для [redacted]",
            ),
            ("📧 ünïcödé@例え.jp 📧", "📧 [redacted] 📧"),
            ("user=bob%40example.com&next=/", "user=[redacted]&next=/"),
        ]);
    }

    #[test]
    fn handles_truncated_and_degenerate_input() {
        assert_scrubs(&[
            ("password=", "password="),
            ("password", "password"),
            (r#""password":"unterminated"#, r#""password":"[redacted]"#),
            ("Authorization:", "Authorization:"),
            ("Bearer", "Bearer"),
            ("@", "@"),
            ("a@", "a@"),
            ("@b.com", "@b.com"),
            ("://@", "://@"),
            ("token=\\", "token=[redacted]"),
            ("\"token\":\"\\", "\"token\":\"[redacted]"),
        ]);
    }

    #[test]
    fn stays_linear_on_hostile_input() {
        let unit_patterns = [
            "a@",
            "%40",
            "password=",
            "\"password\":\"",
            "Bearer ",
            "://",
            "eyJ.",
            "a.",
            "@a.",
            "x=",
            "Authorization: ",
            "aB3",
            "'",
            "Some(",
        ];
        for unit in unit_patterns {
            let hostile = unit.repeat(200_000 / unit.len());
            let started = std::time::Instant::now();
            let out = scrub(&hostile);
            // A quadratic scan of 200 kB takes minutes; a linear one, milliseconds.
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "slow on {unit:?}"
            );
            assert!(
                out.len() <= hostile.len() * 11,
                "output blew up on {unit:?}"
            );
        }
    }

    #[test]
    fn masks_secrets_anywhere_in_long_input() {
        let filler = "row 42 failed validation; retrying with backoff. ".repeat(5_000);
        let text = format!(
            "{filler}Authorization: Bearer abc123\n{filler}user dave@example.com\n{filler}"
        );
        let out = scrub(&text);
        assert!(
            !out.contains("abc123") && !out.contains("dave@"),
            "secret survived"
        );
        assert_eq!(out.matches(REDACTED).count(), 2);
        assert_eq!(
            out.len(),
            text.len() - "Bearer abc123".len() - "dave@example.com".len() + 2 * REDACTED.len()
        );
    }
}
