//! Registering native ops: the functions that a file of the runtime's JavaScript receives in its
//! hidden `ops` object, each added by name in one line with its Rust closure, whose arguments and
//! result rquickjs converts (`Ctx` first where the op needs the isolate), or, for an op written
//! once for every engine, over [`Data`](crate::Data).

use crate::{AsyncDataOp, Data, DataOp};
use rquickjs::function::{IntoJsFunc, Rest};
use rquickjs::{Ctx, Function, IntoJs, Object, Promise};

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

    /// Adds each engine-neutral op of `table` as `ops[name]`: its arguments taken as [`Data`],
    /// its result given back, or its error thrown. A name the object has already is kept as
    /// it is: two files that share an op share its state (the clock's origin).
    pub fn add_data(
        &self,
        table: impl IntoIterator<Item = (&'static str, DataOp)>,
    ) -> rquickjs::Result<()> {
        self.add_missing(table, |name, op| {
            self.add(
                name,
                move |ctx: Ctx<'js>, arguments: Rest<Data>| -> rquickjs::Result<Data> {
                    op(arguments.0).map_err(|error| ctx.throw(error.into_value(&ctx)))
                },
            )
        })
    }

    /// Adds each engine-neutral async op of `table` as `ops[name]`, returning a promise its
    /// future settles; a name the object has already is kept, as by [`Ops::add_data`].
    pub fn add_async_data(
        &self,
        table: impl IntoIterator<Item = (&'static str, AsyncDataOp)>,
    ) -> rquickjs::Result<()> {
        self.add_missing(table, |name, op| {
            self.add(
                name,
                move |ctx: Ctx<'js>, arguments: Rest<Data>| -> rquickjs::Result<Promise<'js>> {
                    let future =
                        op(arguments.0).map_err(|error| ctx.throw(error.into_value(&ctx)))?;
                    crate::spawn_promise(&ctx, future, |ctx, data: Data| data.into_js(ctx))
                },
            )
        })
    }

    /// Runs `add` for each op of `table` whose name the object does not have yet.
    fn add_missing<Op>(
        &self,
        table: impl IntoIterator<Item = (&'static str, Op)>,
        mut add: impl FnMut(&str, Op) -> rquickjs::Result<()>,
    ) -> rquickjs::Result<()> {
        table.into_iter().try_for_each(|(name, op)| {
            if self.0.contains_key(name)? {
                return Ok(());
            }
            add(name, op)
        })
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
