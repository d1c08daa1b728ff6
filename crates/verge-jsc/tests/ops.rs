//! Ops written once over `verge_js::Data` run on JavaScriptCore as they do on QuickJS: the URL
//! parser's ops, under the runtime's own `url.js`, and base64's and encoding's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use verge_jsc::{Vm, VmLimits};

const URL_JS: &str = include_str!("../../verge-web/js/url.js");

#[test]
fn url_js_runs_on_javascriptcore_over_the_same_ops() {
    let vm = Vm::new(VmLimits::default()).unwrap();
    let scope = vm.scope();
    let ops = vm.evaluate("({})", "ops.js").unwrap();
    let written_once = verge_web::url_ops()
        .into_iter()
        .chain(verge_web::form_ops())
        .chain(verge_web::base64_ops())
        .chain(verge_web::encoding_ops());
    for (name, op) in written_once {
        ops.set(name, &scope.data_function(op).unwrap()).unwrap();
    }
    let internals = vm
        .evaluate(
            "({ defineGlobal(name, value) { globalThis[name] = value } })",
            "internals.js",
        )
        .unwrap();
    let install = vm.evaluate(URL_JS, "verge:web/url.js").unwrap();
    install.call(&[ops.clone(), internals]).unwrap();
    vm.scope().global().set("ops", &ops).unwrap();
    let result = vm
        .evaluate(
            "const u = new URL('../b?q=1#h', 'https://user@例え.jp:8080/a/c');\n\
             u.hash = 'x y';\n\
             let bad; try { new URL('/relative') } catch (e) { bad = e.name }\n\
             let wrong; try { ops.urlParse(42) } catch (e) { wrong = `${e.name}: ${e.message}` }\n\
             [u.href, u.host, u.pathname, u.search, URL.canParse('nope'), bad, wrong,\n\
              ops.formEncode([['a b', 'c&d']]), JSON.stringify(ops.formDecode('x=1&y=%20')),\n\
              ops.btoa('hi\\xff'), ops.atob(' aGk= '), String(ops.atob('a')),\n\
              ops.utf8Encode('é€').join(), ops.utf8Decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0xc3])),\n\
              ops.encodingForLabel(' Latin1 '), String(ops.encodingForLabel('nope'))].join(' | ')",
            "use.js",
        )
        .unwrap();
    assert_eq!(
        result.to_string().unwrap(),
        "https://user@xn--r8jz45g.jp:8080/b?q=1#x%20y | xn--r8jz45g.jp:8080 | /b | ?q=1 | false | \
         TypeError | TypeError: expected a string, got a number | a+b=c%26d | [[\"x\",\"1\"],[\"y\",\" \"]] | \
         aGn/ | hi | undefined | 195,169,226,130,172 | h\u{fffd} | windows-1252 | undefined"
    );
}

/// What an op is given is bounded on both engines: a cyclic array or one of a billion holes is
/// a TypeError, not a crash or a hang.
#[test]
fn cyclic_and_enormous_arguments_are_refused_on_both_engines() {
    const SCRIPT: &str = "const cyclic = []; cyclic.push(cyclic);\n\
        const huge = []; huge.length = 1e9;\n\
        [cyclic, huge, [['a', 'b']]].map((pairs) => { try { return formEncode(pairs) } catch (e) { return e.name } }).join(' ')";
    const EXPECTED: &str = "TypeError TypeError a=b";
    let vm = Vm::new(VmLimits::default()).unwrap();
    let [_, (name, op)] = verge_web::form_ops();
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
            let [_, (name, op)] = verge_web::form_ops();
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
