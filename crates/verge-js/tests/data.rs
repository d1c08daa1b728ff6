//! Data crossing into JavaScript and back keeps every value as it was: numbers (integers,
//! fractions, -0, beyond 32 bits), strings beyond ASCII, bytes and nested lists.

// Test code fails by panicking.
#![allow(clippy::unwrap_used)]

use rquickjs::{Function, IntoJs};
use verge_js::{Data, Isolate, IsolateLimits};

#[test]
fn data_keeps_its_values_through_javascript() {
    let data = Data::List(vec![
        Data::Number(7.0),
        Data::Number(-0.0),
        Data::Number(1.5),
        Data::Number(2_147_483_648.0),
        Data::Number(-2_147_483_648.0),
        Data::String("héllo, 世界 🙂".into()),
        Data::String(String::new()),
        Data::Bool(true),
        Data::Null,
        Data::Undefined,
        Data::Bytes(vec![0, 1, 255]),
        Data::List(vec![]),
        Data::List(vec![Data::List(vec![Data::String("deep".into())])]),
    ]);
    let isolate = Isolate::new(IsolateLimits::default()).unwrap();
    isolate
        .enter(|ctx| {
            let value = data.clone().into_js(ctx)?;
            // What scripts see: -0 stays -0, an integer is an integer, a list an Array.
            let describe: Function = ctx.eval(
                "(list) => [Array.isArray(list), list.length, Object.is(list[1], -0), \
                 Number.isInteger(list[0]), list[5].length, list[10] instanceof Uint8Array, \
                 list[12][0][0]].join(' ')",
            )?;
            let seen: String = describe.call((value.clone(),))?;
            assert_eq!(seen, "true 13 true true 12 true deep");
            let back: Data = rquickjs::FromJs::from_js(ctx, value)?;
            assert_eq!(back, data);
            Ok(())
        })
        .unwrap();
}
