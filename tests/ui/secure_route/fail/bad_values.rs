use guard_axum::secure_route;

#[secure_route(public = 5)]
async fn number_reason() {}

#[secure_route(auth, roles = "admin")]
async fn roles_not_a_list() {}

#[secure_route(auth, roles = [])]
async fn no_roles() {}

#[secure_route(auth, roles = [admin])]
async fn roles_not_strings() {}

#[secure_route(auth = true)]
async fn auth_with_value() {}

#[secure_route(auth, permission)]
async fn permission_without_value() {}

fn main() {}
