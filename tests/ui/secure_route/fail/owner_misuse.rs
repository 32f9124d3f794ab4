use guard_axum::{GuardError, Owned, OwnedResource, Owner, Resource, secure_route};

struct Project;

impl Resource for Project {
    const PARAM: &'static str = "project";
    type Id = u64;
}

impl OwnedResource<()> for Project {
    async fn load(_: &(), _: u64, _: &Owner<'_>) -> Result<Option<Self>, GuardError> {
        Ok(None)
    }
}

// `owner` without `auth`: ownership needs a principal.
#[secure_route(public = "docs", owner = "project")]
async fn public_owner(Owned(_p): Owned<Project>) {}

// `owner` but the handler never takes the resource.
#[secure_route(auth, owner = "project")]
async fn forgot_owned() {}

// `Owned<T>` without `owner`.
#[secure_route(auth)]
async fn undeclared(Owned(_p): Owned<Project>) {}

// `owner` names a parameter `Project` does not load.
#[secure_route(auth, owner = "file")]
async fn wrong_param(Owned(_p): Owned<Project>) {}

fn main() {}
