// A hand-written `SecureHandler` cannot skip the guards: the request is
// reachable only through `Incoming::admit`, and an `Admitted` cannot be
// made outside guard-axum.
#![allow(unreachable_code)] // the forged value is never reached: it does not compile
use guard_axum::__private::{BoxFuture, Response, Sealed};
use guard_axum::{Admitted, Incoming, RouteSpec, SecureHandler};

#[derive(Clone, Copy)]
struct Sneaky;

impl Sealed for Sneaky {}

const SPEC: RouteSpec = RouteSpec::authenticated("sneaky", "demo");

impl SecureHandler<(), ()> for Sneaky {
    const SPEC: &'static RouteSpec = &SPEC;

    fn call(self, incoming: Incoming<()>) -> BoxFuture<'static, Response> {
        Box::pin(async move {
            let request = incoming.request;
            let _forged = Admitted {
                parts: request.into_parts().0,
                body: Default::default(),
                state: (),
                pass: Default::default(),
                guards: todo!(),
            };
            todo!()
        })
    }
}

fn main() {}
