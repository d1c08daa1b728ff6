//! Registering native ops: the functions that a file of the runtime's JavaScript receives in its
//! hidden `ops` object, each added by name in one line with its Rust closure, whose arguments and
//! result rquickjs converts (`Ctx` first where the op needs the isolate).

use rquickjs::function::IntoJsFunc;
use rquickjs::{Ctx, Function, Object};

/// The `ops` object of one isolate's runtime files.
#[derive(Clone)]
pub struct Ops<'js>(Object<'js>);

impl<'js> Ops<'js> {
    pub fn new(ctx: &Ctx<'js>) -> rquickjs::Result<Self> {
        Object::new(ctx.clone()).map(Self)
    }

    /// Adds `op` as `ops[name]`, replacing an op of that name.
    pub fn add<P>(&self, name: &str, op: impl IntoJsFunc<'js, P> + 'js) -> rquickjs::Result<()> {
        self.0.set(name, Function::new(self.ctx().clone(), op)?)
    }

    pub fn ctx(&self) -> &Ctx<'js> {
        self.0.ctx()
    }

    /// The object as JavaScript receives it.
    pub fn object(&self) -> &Object<'js> {
        &self.0
    }
}

impl<'js> From<Object<'js>> for Ops<'js> {
    fn from(object: Object<'js>) -> Self {
        Self(object)
    }
}
