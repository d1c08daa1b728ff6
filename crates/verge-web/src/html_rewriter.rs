//! HTMLRewriter's engine: lol_html, driven one step at a time from JavaScript.
//!
//! lol_html calls its content handlers synchronously from inside `write`, but Workers' handlers
//! are JavaScript functions that may return promises the rewriter must wait for. So each
//! rewriter runs on its own small stack, a `corosensei` coroutine: when lol_html reaches a token
//! a handler wants, the coroutine suspends with a [`Event::Call`] and JavaScript runs the handler
//! on the isolate's stack. The handler's calls on the token (`setAttribute`, `before`, …) resume
//! the coroutine with an [`Op`], which it applies to the live lol_html token and suspends again
//! with the [`Reply`]; when the handler (or the promise it returned) settles, JavaScript resumes
//! with [`Resume::HandlerDone`] and lol_html carries on. Nothing of lol_html escapes its stack,
//! and output collects in a buffer JavaScript drains after every step, so memory stays bounded
//! by the chunk size.

use crate::WebHost;
use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use lol_html::html_content::{
    Comment, ContentType, Doctype, DocumentEnd, Element, EndTag, TextChunk, TextType,
};
use lol_html::{
    AsciiCompatibleEncoding, DocumentContentHandlers, ElementContentHandlers, HandlerResult,
    HtmlRewriter, MemorySettings, Selector, Settings,
};
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use verge_js::{data_op, Bytes, Data, DataOp, IdTable, IntoData, OpError};

/// The coroutine's own stack: lol_html keeps its element stack on the heap, so this only holds
/// a few frames of parsing and selector matching. Untouched pages cost no memory.
const STACK_SIZE: usize = 256 * 1024;

/// lol_html buffers a tag split across chunks; a tag (or comment) larger than this is refused
/// rather than buffered without bound.
const MAX_BUFFERED: usize = 8 * 1024 * 1024;

/// What JavaScript resumes the coroutine with.
enum Resume {
    Chunk(Vec<u8>),
    End,
    Op(Op),
    HandlerDone,
    HandlerFailed,
}

/// What the coroutine suspends with.
enum Event {
    /// The chunk is consumed; write the next one (or end).
    NeedInput,
    /// Run callback `callback` on a token of `kind`, with the token's read-only fields.
    Call {
        callback: u32,
        kind: TokenKind,
        fields: Vec<Option<String>>,
    },
    /// The answer to an [`Op`].
    Reply(Reply),
}

#[derive(Clone, Copy)]
enum TokenKind {
    Element = 1,
    Comment = 2,
    Text = 3,
    Doctype = 4,
    DocumentEnd = 5,
    EndTag = 6,
}

/// An operation on the token whose handler is running, as `html_rewriter.js` numbers them.
struct Op {
    code: u32,
    text: String,
    value: String,
    html: bool,
}

mod code {
    pub const TAG_NAME: u32 = 1;
    pub const SET_TAG_NAME: u32 = 2;
    pub const GET_ATTRIBUTE: u32 = 3;
    pub const HAS_ATTRIBUTE: u32 = 4;
    pub const SET_ATTRIBUTE: u32 = 5;
    pub const REMOVE_ATTRIBUTE: u32 = 6;
    pub const ATTRIBUTES: u32 = 7;
    pub const NAMESPACE_URI: u32 = 8;
    pub const CAN_HAVE_CONTENT: u32 = 9;
    pub const SELF_CLOSING: u32 = 10;
    pub const REMOVED: u32 = 11;
    pub const BEFORE: u32 = 12;
    pub const AFTER: u32 = 13;
    pub const PREPEND: u32 = 14;
    pub const APPEND: u32 = 15;
    pub const REPLACE: u32 = 16;
    pub const SET_INNER_CONTENT: u32 = 17;
    pub const REMOVE: u32 = 18;
    pub const REMOVE_AND_KEEP_CONTENT: u32 = 19;
    pub const ON_END_TAG: u32 = 20;
    pub const TEXT: u32 = 21;
    pub const SET_TEXT: u32 = 22;
    pub const NAME: u32 = 23;
    pub const SET_NAME: u32 = 24;
}

enum Reply {
    Undefined,
    Null,
    Bool(bool),
    Str(String),
    Pairs(Vec<(String, String)>),
    Error(String),
}

impl Reply {
    fn from_result<E: std::fmt::Display>(result: Result<(), E>) -> Self {
        result.map_or_else(|e| Reply::Error(e.to_string()), |()| Reply::Undefined)
    }

    fn unsupported(op: &Op) -> Self {
        Reply::Error(format!(
            "operation {} is not supported on this token",
            op.code
        ))
    }
}

fn content_type(op: &Op) -> ContentType {
    if op.html {
        ContentType::Html
    } else {
        ContentType::Text
    }
}

/// The way back to JavaScript from inside lol_html's handlers.
///
/// lol_html wants end-tag handlers to be `'static`, but the coroutine's `Yielder` is only lent
/// to the coroutine's body. So the body records where the yielder is for as long as it runs
/// (the [`Attached`] guard clears it when the body returns or unwinds), and handlers reach it
/// through this cell.
#[derive(Clone, Default)]
struct Suspender(Rc<Cell<Option<*const Yielder<Resume, Event>>>>);

struct Attached(Suspender);

impl Drop for Attached {
    fn drop(&mut self) {
        (self.0).0.set(None);
    }
}

impl Suspender {
    fn attach(&self, yielder: &Yielder<Resume, Event>) -> Attached {
        self.0.set(Some(yielder as *const _));
        Attached(self.clone())
    }

    /// Hands `event` to JavaScript and waits for its answer.
    #[allow(unsafe_code)]
    fn suspend(&self, event: Event) -> Result<Resume, &'static str> {
        let yielder = self.0.get().ok_or("the rewriter has finished")?;
        // SAFETY: the pointer is set only while the coroutine body that borrows the yielder is
        // running (see `Attached`), and handlers run only inside that body, on its stack, from
        // lol_html's `write` and `end`. `Rc` keeps all of it on one thread.
        let yielder = unsafe { &*yielder };
        Ok(yielder.suspend(event))
    }

    /// Runs one JavaScript callback on `token`: applies its operations until it is done.
    fn serve(
        &self,
        callback: u32,
        kind: TokenKind,
        fields: Vec<Option<String>>,
        token: &mut dyn Token,
    ) -> HandlerResult {
        let mut resume = self.suspend(Event::Call {
            callback,
            kind,
            fields,
        })?;
        loop {
            match resume {
                Resume::Op(op) => {
                    let reply = token.apply(&op, self);
                    resume = self.suspend(Event::Reply(reply))?;
                }
                Resume::HandlerDone => return Ok(()),
                // JavaScript keeps the exception itself and rethrows it.
                Resume::HandlerFailed => return Err("a content handler threw".into()),
                Resume::Chunk(_) | Resume::End => {
                    return Err("input was written while a content handler was running".into())
                }
            }
        }
    }
}

/// A lol_html token that JavaScript operates on.
trait Token {
    fn apply(&mut self, op: &Op, suspender: &Suspender) -> Reply;
}

impl Token for Element<'_, '_> {
    fn apply(&mut self, op: &Op, suspender: &Suspender) -> Reply {
        match op.code {
            code::TAG_NAME => Reply::Str(self.tag_name()),
            code::SET_TAG_NAME => Reply::from_result(self.set_tag_name(&op.text)),
            code::GET_ATTRIBUTE => self.get_attribute(&op.text).map_or(Reply::Null, Reply::Str),
            code::HAS_ATTRIBUTE => Reply::Bool(self.has_attribute(&op.text)),
            code::SET_ATTRIBUTE => Reply::from_result(self.set_attribute(&op.text, &op.value)),
            code::REMOVE_ATTRIBUTE => {
                self.remove_attribute(&op.text);
                Reply::Undefined
            }
            code::ATTRIBUTES => Reply::Pairs(
                self.attributes()
                    .iter()
                    .map(|attribute| (attribute.name(), attribute.value()))
                    .collect(),
            ),
            code::NAMESPACE_URI => Reply::Str(self.namespace_uri().to_owned()),
            code::CAN_HAVE_CONTENT => Reply::Bool(self.can_have_content()),
            code::SELF_CLOSING => Reply::Bool(self.is_self_closing()),
            code::REMOVED => Reply::Bool(self.removed()),
            code::BEFORE => mutate(|| self.before(&op.text, content_type(op))),
            code::AFTER => mutate(|| self.after(&op.text, content_type(op))),
            code::PREPEND => mutate(|| self.prepend(&op.text, content_type(op))),
            code::APPEND => mutate(|| self.append(&op.text, content_type(op))),
            code::REPLACE => mutate(|| self.replace(&op.text, content_type(op))),
            code::SET_INNER_CONTENT => {
                mutate(|| self.set_inner_content(&op.text, content_type(op)))
            }
            code::REMOVE => mutate(|| self.remove()),
            code::REMOVE_AND_KEEP_CONTENT => mutate(|| self.remove_and_keep_content()),
            code::ON_END_TAG => {
                let Ok(callback) = op.text.parse::<u32>() else {
                    return Reply::unsupported(op);
                };
                let suspender = suspender.clone();
                let handler = Box::new(move |end: &mut EndTag<'_>| {
                    suspender.serve(callback, TokenKind::EndTag, Vec::new(), end)
                });
                self.on_end_tag(handler)
                    .map_or_else(|e| Reply::Error(e.to_string()), |()| Reply::Undefined)
            }
            _ => Reply::unsupported(op),
        }
    }
}

fn mutate(apply: impl FnOnce()) -> Reply {
    apply();
    Reply::Undefined
}

/// The operations every content token shares (insert around it, replace or remove it), after
/// the arms particular to the token.
macro_rules! content_ops {
    ($token:expr, $op:expr, { $($arm:tt)* }) => {
        match $op.code {
            $($arm)*
            code::BEFORE => mutate(|| $token.before(&$op.text, content_type($op))),
            code::AFTER => mutate(|| $token.after(&$op.text, content_type($op))),
            code::REPLACE => mutate(|| $token.replace(&$op.text, content_type($op))),
            code::REMOVE => mutate(|| $token.remove()),
            code::REMOVED => Reply::Bool($token.removed()),
            _ => Reply::unsupported($op),
        }
    };
}

impl Token for EndTag<'_> {
    fn apply(&mut self, op: &Op, _: &Suspender) -> Reply {
        content_ops!(self, op, {
            code::NAME => Reply::Str(self.name()),
            code::SET_NAME => mutate(|| self.set_name_str(op.text.clone())),
        })
    }
}

impl Token for TextChunk<'_> {
    fn apply(&mut self, op: &Op, _: &Suspender) -> Reply {
        content_ops!(self, op, {})
    }
}

impl Token for Comment<'_> {
    fn apply(&mut self, op: &Op, _: &Suspender) -> Reply {
        content_ops!(self, op, {
            code::TEXT => Reply::Str(self.text()),
            code::SET_TEXT => Reply::from_result(self.set_text(&op.text)),
        })
    }
}

impl Token for Doctype<'_> {
    fn apply(&mut self, op: &Op, _: &Suspender) -> Reply {
        match op.code {
            code::REMOVE => mutate(|| self.remove()),
            code::REMOVED => Reply::Bool(self.removed()),
            _ => Reply::unsupported(op),
        }
    }
}

impl Token for DocumentEnd<'_> {
    fn apply(&mut self, op: &Op, _: &Suspender) -> Reply {
        match op.code {
            code::APPEND => mutate(|| self.append(&op.text, content_type(op))),
            _ => Reply::unsupported(op),
        }
    }
}

/// The callbacks (indices into the JavaScript side's table) of one `on(selector, …)`.
struct ElementCallbacks {
    selector: String,
    element: Option<u32>,
    comments: Option<u32>,
    text: Option<u32>,
}

/// The callbacks of one `onDocument(…)`.
struct DocumentCallbacks {
    doctype: Option<u32>,
    comments: Option<u32>,
    text: Option<u32>,
    end: Option<u32>,
}

/// Which callbacks run on what, and the document's encoding.
struct Plan {
    elements: Vec<ElementCallbacks>,
    documents: Vec<DocumentCallbacks>,
    encoding: AsciiCompatibleEncoding,
}

fn text_type_name(text_type: TextType) -> &'static str {
    match text_type {
        TextType::PlainText => "plaintext",
        TextType::RCData => "rcdata",
        TextType::RawText => "rawtext",
        TextType::ScriptData => "script",
        TextType::Data => "data",
        TextType::CDataSection => "cdata",
    }
}

fn comment_handler(
    s: &Suspender,
    callback: u32,
) -> impl FnMut(&mut Comment<'_>) -> HandlerResult + 'static {
    let s = s.clone();
    move |comment| s.serve(callback, TokenKind::Comment, Vec::new(), comment)
}

fn text_handler(
    s: &Suspender,
    callback: u32,
) -> impl FnMut(&mut TextChunk<'_>) -> HandlerResult + 'static {
    let s = s.clone();
    move |text| {
        let fields = vec![
            Some(text.as_str().to_owned()),
            text.last_in_text_node().then(String::new),
            Some(text_type_name(text.text_type()).to_owned()),
        ];
        s.serve(callback, TokenKind::Text, fields, text)
    }
}

impl Plan {
    fn settings<'h>(&self, s: &Suspender) -> Result<Settings<'h, 'static>, String> {
        let memory = MemorySettings::new().with_max_allowed_memory_usage(MAX_BUFFERED);
        let mut settings = Settings::new()
            .with_encoding(self.encoding)
            .with_memory_settings(memory);
        for on in &self.elements {
            let selector: Selector = on.selector.parse().map_err(|e| format!("{e}"))?;
            let mut handlers = ElementContentHandlers::default();
            if let Some(callback) = on.element {
                let s = s.clone();
                handlers = handlers.element(move |element: &mut Element<'_, '_>| {
                    s.serve(callback, TokenKind::Element, Vec::new(), element)
                });
            }
            if let Some(callback) = on.comments {
                handlers = handlers.comments(comment_handler(s, callback));
            }
            if let Some(callback) = on.text {
                handlers = handlers.text(text_handler(s, callback));
            }
            settings = settings.append_element_content_handler((Cow::Owned(selector), handlers));
        }
        for on in &self.documents {
            let mut handlers = DocumentContentHandlers::default();
            if let Some(callback) = on.doctype {
                let s = s.clone();
                handlers = handlers.doctype(move |doctype: &mut Doctype<'_>| {
                    let fields = vec![doctype.name(), doctype.public_id(), doctype.system_id()];
                    s.serve(callback, TokenKind::Doctype, fields, doctype)
                });
            }
            if let Some(callback) = on.comments {
                handlers = handlers.comments(comment_handler(s, callback));
            }
            if let Some(callback) = on.text {
                handlers = handlers.text(text_handler(s, callback));
            }
            if let Some(callback) = on.end {
                let s = s.clone();
                handlers = handlers.end(move |end: &mut DocumentEnd<'_>| {
                    s.serve(callback, TokenKind::DocumentEnd, Vec::new(), end)
                });
            }
            settings = settings.append_document_content_handler(handlers);
        }
        Ok(settings)
    }

    /// The coroutine's body: feeds lol_html each chunk JavaScript resumes it with.
    fn run(
        self,
        yielder: &Yielder<Resume, Event>,
        mut input: Resume,
        output: Rc<RefCell<Vec<u8>>>,
    ) -> Result<(), String> {
        let suspender = Suspender::default();
        let _attached = suspender.attach(yielder);
        let settings = self.settings(&suspender)?;
        let mut rewriter = HtmlRewriter::new(settings, move |chunk: &[u8]| {
            output.borrow_mut().extend_from_slice(chunk)
        });
        loop {
            match input {
                Resume::Chunk(bytes) => rewriter.write(&bytes).map_err(|e| e.to_string())?,
                Resume::End => return rewriter.end().map_err(|e| e.to_string()),
                Resume::Op(_) | Resume::HandlerDone | Resume::HandlerFailed => {
                    return Err("no content handler is running".into())
                }
            }
            input = yielder.suspend(Event::NeedInput);
        }
    }
}

struct Rewriter {
    coroutine: Coroutine<Resume, Event, Result<(), String>, DefaultStack>,
    output: Rc<RefCell<Vec<u8>>>,
}

/// Where a step left the rewriter.
enum Step {
    Event(Event),
    Finished,
    Failed(String),
}

impl Rewriter {
    fn new(plan: Plan) -> std::io::Result<Self> {
        let output = Rc::new(RefCell::new(Vec::new()));
        let sink = output.clone();
        let coroutine = Coroutine::with_stack(DefaultStack::new(STACK_SIZE)?, move |y, input| {
            plan.run(y, input, sink)
        });
        Ok(Self { coroutine, output })
    }

    fn resume(&mut self, input: Resume) -> Step {
        if self.coroutine.done() {
            return Step::Failed("the rewriter has finished".into());
        }
        match self.coroutine.resume(input) {
            CoroutineResult::Yield(event) => Step::Event(event),
            CoroutineResult::Return(Ok(())) => Step::Finished,
            CoroutineResult::Return(Err(message)) => Step::Failed(message),
        }
    }
}

type RewriterTable = IdTable<Rewriter>;

fn resume(table: &RewriterTable, id: u32, input: Resume) -> Result<Step, OpError> {
    table
        .with(id, |rewriter| rewriter.resume(input))
        .ok_or_else(|| OpError::Type("This HTMLRewriter has finished or failed.".into()))
}

fn reply_to_data(reply: Reply) -> Result<Data, OpError> {
    Ok(match reply {
        Reply::Undefined => Data::Undefined,
        Reply::Null => Data::Null,
        Reply::Bool(b) => Data::Bool(b),
        Reply::Str(s) => Data::String(s),
        Reply::Pairs(pairs) => pairs.into_data(),
        Reply::Error(message) => return Err(OpError::Type(message)),
    })
}

/// An event as JavaScript sees it: `0` for "write more", `-1` for "finished", or
/// `[kind, callback, ...fields]`.
fn event_to_data(step: Step) -> Result<Data, OpError> {
    match step {
        Step::Finished => Ok(Data::Number(-1.0)),
        Step::Failed(message) => Err(OpError::Type(format!("HTMLRewriter: {message}"))),
        Step::Event(Event::NeedInput) => Ok(Data::Number(0.0)),
        Step::Event(Event::Reply(_)) => Err(OpError::Type("HTMLRewriter: unexpected reply".into())),
        Step::Event(Event::Call {
            callback,
            kind,
            fields,
        }) => {
            let head = [Data::Number(f64::from(kind as u32)), callback.into_data()];
            let fields = fields.into_iter().map(IntoData::into_data);
            Ok(Data::List(head.into_iter().chain(fields).collect()))
        }
    }
}

/// The ops, sharing one table of rewriters by id.
pub(crate) fn ops(_host: &WebHost) -> Vec<(&'static str, DataOp)> {
    let rewriters: Rc<RewriterTable> = Rc::default();
    let (new, step, op) = (rewriters.clone(), rewriters.clone(), rewriters.clone());
    let (output, free) = (rewriters.clone(), rewriters);
    vec![
        (
            "htmlCheckSelector",
            data_op(|selector: String| {
                selector
                    .parse::<Selector>()
                    .map(|_| ())
                    .map_err(|e| OpError::Type(format!("Invalid selector \"{selector}\": {e}")))
            }),
        ),
        (
            "htmlRewriterNew",
            data_op(
                move |selectors: Vec<String>,
                      element_callbacks: Vec<i32>,
                      document_callbacks: Vec<i32>,
                      charset: String| {
                    let encoding = encoding_rs::Encoding::for_label(charset.as_bytes())
                        .and_then(AsciiCompatibleEncoding::new)
                        .ok_or_else(|| {
                            OpError::Type(format!(
                                "HTMLRewriter cannot rewrite content in charset \"{charset}\"."
                            ))
                        })?;
                    let callback = |index: Option<&i32>| index.and_then(|&i| u32::try_from(i).ok());
                    let plan = Plan {
                        elements: selectors
                            .into_iter()
                            .zip(element_callbacks.chunks(3))
                            .map(|(selector, c)| ElementCallbacks {
                                selector,
                                element: callback(c.first()),
                                comments: callback(c.get(1)),
                                text: callback(c.get(2)),
                            })
                            .collect(),
                        documents: document_callbacks
                            .chunks(4)
                            .map(|c| DocumentCallbacks {
                                doctype: callback(c.first()),
                                comments: callback(c.get(1)),
                                text: callback(c.get(2)),
                                end: callback(c.get(3)),
                            })
                            .collect(),
                        encoding,
                    };
                    let rewriter = Rewriter::new(plan).map_err(|e| {
                        OpError::Type(format!("HTMLRewriter could not allocate its stack: {e}"))
                    })?;
                    Ok(new.insert(rewriter))
                },
            ),
        ),
        // Steps: 0 writes a chunk, 1 ends the input, 2 reports the handler done, 3 failed.
        (
            "htmlRewriterStep",
            data_op(move |id: u32, kind: u32, chunk: Option<Bytes>| {
                let input = match kind {
                    0 => Resume::Chunk(chunk.map(|bytes| bytes.0).unwrap_or_default()),
                    1 => Resume::End,
                    2 => Resume::HandlerDone,
                    _ => Resume::HandlerFailed,
                };
                event_to_data(resume(&step, id, input)?)
            }),
        ),
        (
            "htmlRewriterOp",
            data_op(
                move |id: u32, code: u32, text: String, value: String, html: bool| {
                    let request = Op {
                        code,
                        text,
                        value,
                        html,
                    };
                    match resume(&op, id, Resume::Op(request))? {
                        Step::Event(Event::Reply(reply)) => reply_to_data(reply),
                        Step::Failed(message) => {
                            Err(OpError::Type(format!("HTMLRewriter: {message}")))
                        }
                        _ => Err(OpError::Type(
                            "HTMLRewriter: no content handler is running".into(),
                        )),
                    }
                },
            ),
        ),
        (
            "htmlRewriterOutput",
            data_op(move |id: u32| {
                let drained = output
                    .with(id, |rewriter| {
                        std::mem::take(&mut *rewriter.output.borrow_mut())
                    })
                    .unwrap_or_default();
                (!drained.is_empty()).then_some(Bytes(drained))
            }),
        ),
        (
            "htmlRewriterFree",
            data_op(move |id: u32| {
                free.remove(id);
            }),
        ),
    ]
}
