//! Identity fields: the names under which a client could try to say who it
//! is, whose data it touches or what it may do.
//!
//! The principal, its owner scope and its roles come from the session only.
//! A body that carries `user_id`, `tenantId` or `is_admin` is either a bug in
//! the client or an attempt at mass assignment; both are refused.

/// The identity field names, in normalized form (see [`is_identity_field`]).
///
/// Scope fields (`tenant_id`, `workspace_id`, `org_id`…) are here because the
/// scope a request acts in is the principal's, not the client's choice.
pub const IDENTITY_FIELDS: &[&str] = &[
    "userid",
    "owner",
    "ownerid",
    "ownedby",
    "tenantid",
    "workspaceid",
    "orgid",
    "organizationid",
    "organisationid",
    "accountid",
    "principalid",
    "creatorid",
    "authorid",
    "createdby",
    "updatedby",
    "role",
    "roles",
    "admin",
    "isadmin",
    "superuser",
    "issuperuser",
    "isstaff",
    "permission",
    "permissions",
    "privileges",
    "emailverified",
];

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
#[must_use]
pub fn is_identity_field(name: &str) -> bool {
    if name.len() > MAX_NAME {
        return false;
    }
    let mut buf = [0u8; MAX_NAME];
    let mut len = 0;
    for b in name.bytes() {
        if b == b'_' || b == b'-' {
            continue;
        }
        // `len < MAX_NAME` holds: at most `name.len()` bytes are written.
        if let Some(slot) = buf.get_mut(len) {
            *slot = b.to_ascii_lowercase();
            len += 1;
        }
    }
    let normalized = buf.get(..len).unwrap_or_default();
    IDENTITY_FIELDS
        .iter()
        .any(|known| known.as_bytes() == normalized)
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
            assert!(name.len() <= MAX_NAME, "{name}");
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase()),
                "{name} must be lowercase letters only"
            );
        }
    }
}
