use guard_axum::{GuardError, Owned, OwnedResource, Owner, Resource, Upload, secure_route};

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

// A path parameter named twice: one `Owned<T>` per parameter.
#[secure_route(auth, owner = ["project", "project"])]
async fn owner_twice(Owned(_p): Owned<Project>) {}

// A role or an upload type listed twice is a slip, not a second rule.
#[secure_route(auth, roles = ["admin", "ops", "admin"])]
async fn role_twice() {}

#[secure_route(auth, upload(max = "5MiB", types = ["png", "png"]))]
async fn type_twice(_file: Upload) {}

fn main() {}
