//! The Web platform on JavaScriptCore (verge-web's own tests run on both engines; see its
//! `tests/web_apis.rs`): how lazy names behave where the global object's prototype is fixed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use verge_jsc::{VmLimits, Web};
use verge_web::WebHost;

#[test]
fn lazy_globals_load_on_use_and_unknown_names_stay_reference_errors() {
    let web = Web::new(VmLimits::default(), WebHost::unreachable(), &verge_web::WEB).unwrap();
    let answer = web
        .vm()
        .evaluate(
            "let missing; try { notAName } catch (e) { missing = e.name }\n\
             const before = typeof Object.getOwnPropertyDescriptor(globalThis, 'URL').get;\n\
             const href = new URL('b', 'https://a.example/x/').href;\n\
             const after = typeof Object.getOwnPropertyDescriptor(globalThis, 'URL').value;\n\
             globalThis.atob = 'mine';\n\
             [missing, before, href, after, atob, 'HTMLRewriter' in globalThis].join(' ')",
            "names.js",
        )
        .unwrap()
        .to_string()
        .unwrap();
    assert_eq!(
        answer,
        "ReferenceError function https://a.example/x/b function mine true"
    );
    // An API whose ops are QuickJS's alone says so, each time it is asked for.
    for _ in 0..2 {
        let refused = web
            .vm()
            .evaluate("new WebSocketPair()", "pair.js")
            .unwrap_err();
        assert!(
            refused
                .message
                .contains("js/websocket.js is not available on JavaScriptCore yet"),
            "{refused}"
        );
    }
}

/// A VM made ahead of time takes its worker's host until a lazy file has loaded, whose ops
/// were made for the host before.
#[test]
fn a_spare_vm_takes_a_host_until_a_lazy_file_loads() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let web = Web::new(VmLimits::default(), WebHost::unreachable(), &verge_web::WEB).unwrap();
    let lines: Rc<RefCell<Vec<String>>> = Rc::default();
    let sink = lines.clone();
    let host = WebHost {
        console: Rc::new(move |_, text: &str| sink.borrow_mut().push(text.to_owned())),
        ..WebHost::unreachable()
    };
    web.set_host(host).unwrap();
    web.vm()
        .evaluate("console.log('to the worker')", "log.js")
        .unwrap();
    assert_eq!(*lines.borrow(), ["to the worker"]);
    let refused = web.set_host(WebHost::unreachable()).unwrap_err();
    assert!(refused.message.contains("cannot change"), "{refused}");
}
