//! Ops written once over `verge_js::Data` take the same arguments on JavaScriptCore as on
//! QuickJS (the Web APIs that run on them are verge-web's tests, on both engines).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use verge_jsc::{Vm, VmLimits};

/// What an op is given is bounded on both engines: a cyclic array or one of a billion holes is
/// a TypeError, not a crash or a hang.
#[test]
fn cyclic_and_enormous_arguments_are_refused_on_both_engines() {
    const SCRIPT: &str = "const cyclic = []; cyclic.push(cyclic);\n\
        const huge = []; huge.length = 1e9;\n\
        [cyclic, huge, [['a', 'b']]].map((pairs) => { try { return formEncode(pairs) } catch (e) { return e.name } }).join(' ')";
    const EXPECTED: &str = "TypeError TypeError a=b";
    let vm = Vm::new(VmLimits::default()).unwrap();
    let (name, op) = form_encode();
    vm.scope()
        .global()
        .set(name, &vm.scope().data_function(op).unwrap())
        .unwrap();
    assert_eq!(
        vm.evaluate(SCRIPT, "args.js").unwrap().to_string().unwrap(),
        EXPECTED
    );

    let isolate = verge_js::Isolate::new(verge_js::IsolateLimits::default()).unwrap();
    let on_quickjs = isolate
        .enter(|ctx| {
            let ops = verge_js::Ops::new(ctx)?;
            let (name, op) = form_encode();
            ops.add_data([(name, op)])?;
            ctx.globals().set(
                name,
                ops.object().get::<_, verge_js::rquickjs::Value>(name)?,
            )?;
            ctx.eval::<String, _>(SCRIPT)
        })
        .unwrap();
    assert_eq!(on_quickjs, EXPECTED);
}

/// The op that serializes urlencoded pairs.
fn form_encode() -> (&'static str, verge_js::DataOp) {
    verge_web::form_ops(&verge_web::WebHost::unreachable())
        .into_iter()
        .find(|(name, _)| *name == "formEncode")
        .unwrap()
}
