//! Identity fields: the names under which a client could try to say who it
//! is, whose data it touches or what it may do.
//!
//! The principal, its owner scope and its roles come from the session only.
//! A body that carries `user_id`, `tenantId` or `is_admin` is either a bug in
//! the client or an attempt at mass assignment; both are refused.

/// Declares [`IDENTITY_FIELDS`] and the `match` that [`is_identity_field`]
/// runs, from one list, so the two cannot drift apart.
macro_rules! identity_fields {
    ($(#[$doc:meta])* $($name:literal,)*) => {
        $(#[$doc])*
        pub const IDENTITY_FIELDS: &[&str] = &[$(ascii($name)),*];

        /// Whether a normalized key is one of [`IDENTITY_FIELDS`]; a `match`
        /// compiles to a switch on the length, then a compare or two.
        fn is_normalized_identity(normalized: &[u8]) -> bool {
            matches!(normalized, $($name)|*)
        }
    };
}

/// A byte-string literal as `&str`, at compile time.
const fn ascii(name: &'static [u8]) -> &'static str {
    match std::str::from_utf8(name) {
        Ok(name) => name,
        // Evaluated in a `const` item: a build error, never a runtime panic.
        Err(_) => panic!("identity field names are ASCII"),
    }
}

identity_fields! {
    /// The identity field names, in normalized form (see [`is_identity_field`]).
    ///
    /// Scope fields (`tenant_id`, `workspace_id`, `org_id`…) are here because the
    /// scope a request acts in is the principal's, not the client's choice.
    b"userid",
    b"owner",
    b"ownerid",
    b"ownedby",
    b"tenantid",
    b"workspaceid",
    b"orgid",
    b"organizationid",
    b"organisationid",
    b"accountid",
    b"principalid",
    b"creatorid",
    b"authorid",
    b"createdby",
    b"updatedby",
    b"role",
    b"roles",
    b"admin",
    b"isadmin",
    b"superuser",
    b"issuperuser",
    b"isstaff",
    b"permission",
    b"permissions",
    b"privileges",
    b"emailverified",
}

/// Shortest identity name: a shorter key cannot match and is not looked at.
const MIN_NAME: usize = 4;
/// Longest key worth normalizing: every identity name is shorter, so a longer
/// key cannot match and is not copied.
const MAX_NAME: usize = 32;

/// Whether `name` is an identity field: ASCII case is ignored and `_` and `-`
/// are dropped before comparing, so `user_id`, `userId`, `USER-ID` and
/// `User_Id` all match `userid`.
///
/// Keys with other characters (`user.id`, `user\u{200b}id`) never match; serde
/// binds fields by exact name, so such keys cannot reach a declared field
/// either and the strict decoder refuses them as unknown.
///
/// Strict decoding asks this of every key of every body, so it rejects early:
/// by length, then at the first byte that no identity name has.
#[must_use]
pub fn is_identity_field(name: &str) -> bool {
    if name.len() < MIN_NAME || name.len() > MAX_NAME {
        return false;
    }
    let mut buf = [0u8; MAX_NAME];
    let mut len = 0;
    for b in name.bytes() {
        match b {
            b'_' | b'-' => {}
            // `len < MAX_NAME` holds: at most `name.len()` bytes are written.
            b'a'..=b'z' | b'A'..=b'Z' => {
                if let Some(slot) = buf.get_mut(len) {
                    // ASCII letters only here: setting bit 5 lowercases.
                    *slot = b | 0x20;
                    len += 1;
                }
            }
            // Identity names are letters only (`the_list_is_normalized`).
            _ => return false,
        }
    }
    is_normalized_identity(buf.get(..len).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_every_spelling_of_an_identity_field() {
        let table = [
            "user_id",
            "userId",
            "UserId",
            "USER_ID",
            "user-id",
            "User-Id",
            "userid",
            "owner_id",
            "ownerId",
            "tenant_id",
            "tenantId",
            "workspace_id",
            "workspaceId",
            "org_id",
            "orgId",
            "organization_id",
            "account_id",
            "accountId",
            "role",
            "Role",
            "roles",
            "is_admin",
            "isAdmin",
            "admin",
            "permissions",
            "created_by",
            "createdBy",
            "is_superuser",
            "email_verified",
            "user__id",
        ];
        for name in table {
            assert!(is_identity_field(name), "{name}");
        }
    }

    #[test]
    fn leaves_ordinary_fields_alone() {
        let table = [
            "title",
            "user",
            "users",
            "username",
            "user_name",
            "project_id",
            "id",
            "role_name",
            "administrator_note",
            "user.id",
            "user\u{200b}id",
            "",
            "ᴜser_id",
            "a_very_long_key_that_is_longer_than_any_identity_name",
        ];
        for name in table {
            assert!(!is_identity_field(name), "{name}");
        }
    }

    #[test]
    fn the_list_is_normalized() {
        for name in IDENTITY_FIELDS {
            assert!((MIN_NAME..=MAX_NAME).contains(&name.len()), "{name}");
            assert!(is_identity_field(name), "{name}");
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase()),
                "{name} must be lowercase letters only"
            );
        }
    }
}
