//! `JSON.parse(text)` without a reviver: the JSON grammar (ECMA-404) read from the string's
//! bytes straight into objects, fast arrays, strings and numbers, with V8's error messages.

use super::{Budget, Owned, StringBytes, KEY_CACHE};
use rquickjs::{qjs, Ctx, Value};
use std::collections::HashMap;

/// Parses `text` (after ToString) as `JSON.parse(text)` does.
pub(super) fn parse<'js>(ctx: &Ctx<'js>, text: &Value<'js>) -> rquickjs::Result<Value<'js>> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: `text` is a live value of `ctx`; the string is a new reference `Owned` releases,
    // and its bytes are read while it lives.
    unsafe {
        let string = Owned::new(raw, qjs::JS_ToString(raw, text.as_raw()))?;
        let source = StringBytes::of(raw, string.value)?;
        let budget = Budget::new(ctx);
        let mut parser = Parser {
            ctx,
            raw,
            bytes: source.bytes(),
            pos: 0,
            scratch: Vec::new(),
            atoms: HashMap::new(),
            held: 0,
            limit: budget.memory_limit(),
            budget,
        };
        let value = parser.value()?;
        parser.skip_whitespace();
        if parser.pos < parser.bytes.len() {
            return Err(parser.error("Unexpected non-whitespace character after JSON"));
        }
        Ok(Value::from_raw(ctx.clone(), value.into_raw()))
    }
}

/// Where a string's unescaped bytes are: in the source, or copied out to the scratch buffer.
enum Span {
    Source(usize, usize),
    Scratch,
}

struct Parser<'a, 'js> {
    ctx: &'a Ctx<'js>,
    raw: *mut qjs::JSContext,
    /// The text as WTF-8.
    bytes: &'a [u8],
    pos: usize,
    /// A string with escapes, unescaped.
    scratch: Vec<u8>,
    /// ASCII keys and the atoms this parser holds a reference to.
    atoms: HashMap<Box<[u8]>, qjs::JSAtom>,
    budget: Budget,
    /// Elements of the open arrays, held outside the heap until their arrays are made...
    held: usize,
    /// ...which may take no more than these bytes: see [`Budget::memory_limit`].
    limit: usize,
}

impl Drop for Parser<'_, '_> {
    fn drop(&mut self) {
        for atom in self.atoms.values() {
            // SAFETY: the parser took a reference to each cached atom in its live context.
            unsafe { qjs::JS_FreeAtom(self.raw, *atom) }
        }
    }
}

/// An atom for a key, released when dropped unless the parser's cache holds it.
struct KeyAtom {
    raw: *mut qjs::JSContext,
    atom: qjs::JSAtom,
    owned: bool,
}

impl Drop for KeyAtom {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: an owned atom carries a reference in the live context `raw`.
            unsafe { qjs::JS_FreeAtom(self.raw, self.atom) }
        }
    }
}

/// An array or object being parsed: the elements so far, or the object and the key whose
/// value comes next.
enum Open {
    Array(Elements),
    Object(Owned, KeyAtom),
}

/// Values collected for an array, released if the array is never made.
struct Elements {
    raw: *mut qjs::JSContext,
    values: Vec<qjs::JSValue>,
}

impl Drop for Elements {
    fn drop(&mut self) {
        for value in self.values.drain(..) {
            // SAFETY: each element carries a reference in the live context `raw`.
            unsafe { qjs::JS_FreeValue(self.raw, value) }
        }
    }
}

impl Parser<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// A JSON value, leading whitespace skipped. Iterative, with the open arrays and objects
    /// on a heap stack: nesting costs no native stack.
    ///
    /// # Safety
    /// The parser's context is live (as every method here assumes).
    unsafe fn value(&mut self) -> rquickjs::Result<Owned> {
        let mut open: Vec<Open> = Vec::new();
        loop {
            // The start of a value: a scalar, or a container opened.
            self.budget.step(self.ctx)?;
            self.skip_whitespace();
            let mut value = match self.peek() {
                Some(b'[') => {
                    self.pos += 1;
                    self.skip_whitespace();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        Owned::new(self.raw, qjs::JS_NewArray(self.raw))?
                    } else {
                        self.open(
                            &mut open,
                            Open::Array(Elements {
                                raw: self.raw,
                                values: Vec::new(),
                            }),
                        )?;
                        continue;
                    }
                }
                Some(b'{') => {
                    self.pos += 1;
                    let object = Owned::new(self.raw, qjs::JS_NewObject(self.raw))?;
                    self.skip_whitespace();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        object
                    } else {
                        let key = self.member_key(true)?;
                        self.open(&mut open, Open::Object(object, key))?;
                        continue;
                    }
                }
                Some(b'"') => {
                    let span = self.string()?;
                    let bytes = self.span_bytes(&span);
                    Owned::new(
                        self.raw,
                        qjs::JS_NewStringLen(self.raw, bytes.as_ptr().cast(), bytes.len() as _),
                    )?
                }
                Some(b't') => self.literal(b"true", qjs::JS_MKVAL(qjs::JS_TAG_BOOL, 1))?,
                Some(b'f') => self.literal(b"false", qjs::JS_MKVAL(qjs::JS_TAG_BOOL, 0))?,
                Some(b'n') => self.literal(b"null", qjs::JS_MKVAL(qjs::JS_TAG_NULL, 0))?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                _ => return Err(self.unexpected()),
            };
            // A value is complete: it goes into the innermost container, which either expects
            // another value or closes, completing a value in turn.
            loop {
                let Some(container) = open.pop() else {
                    return Ok(value);
                };
                self.skip_whitespace();
                match container {
                    Open::Array(mut elements) => {
                        elements.values.push(value.into_raw());
                        self.held += 1;
                        if self
                            .held
                            .saturating_mul(std::mem::size_of::<qjs::JSValue>())
                            > self.limit
                        {
                            return Err(crate::out_of_memory(self.ctx));
                        }
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                open.push(Open::Array(elements));
                                break;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                value = self.array(elements)?;
                            }
                            None => return Err(self.unexpected()),
                            Some(_) => {
                                return Err(
                                    self.error("Expected ',' or ']' after array element in JSON")
                                )
                            }
                        }
                    }
                    Open::Object(object, key) => {
                        // CreateDataProperty: a repeated key keeps its place, with the later value.
                        let flags = qjs::JS_PROP_C_W_E as i32;
                        if qjs::JS_DefinePropertyValue(
                            self.raw,
                            object.value,
                            key.atom,
                            value.into_raw(),
                            flags,
                        ) < 0
                        {
                            return Err(rquickjs::Error::Exception);
                        }
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                let key = self.member_key(false)?;
                                open.push(Open::Object(object, key));
                                break;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                value = object;
                            }
                            None => return Err(self.unexpected()),
                            Some(_) => {
                                return Err(
                                    self.error("Expected ',' or '}' after property value in JSON")
                                )
                            }
                        }
                    }
                }
            }
        }
    }

    /// Pushes a container opened, within the bound on nesting.
    fn open(&self, open: &mut Vec<Open>, container: Open) -> rquickjs::Result<()> {
        if open.len() >= super::MAX_NESTING {
            return Err(super::too_deep(self.ctx));
        }
        open.push(container);
        Ok(())
    }

    unsafe fn literal(&mut self, word: &[u8], value: qjs::JSValue) -> rquickjs::Result<Owned> {
        for &expected in word {
            if self.peek() != Some(expected) {
                return Err(self.unexpected());
            }
            self.pos += 1;
        }
        Owned::new(self.raw, value)
    }

    /// A member's key and the colon after it (whitespace before both skipped).
    unsafe fn member_key(&mut self, first: bool) -> rquickjs::Result<KeyAtom> {
        self.skip_whitespace();
        if self.peek() != Some(b'"') {
            return Err(match (self.peek(), first) {
                (None, _) => self.unexpected(),
                (_, true) => self.error("Expected property name or '}' in JSON"),
                (_, false) => self.error("Expected double-quoted property name in JSON"),
            });
        }
        let key = self.key()?;
        self.skip_whitespace();
        match self.peek() {
            Some(b':') => {
                self.pos += 1;
                Ok(key)
            }
            None => Err(self.unexpected()),
            Some(_) => Err(self.error("Expected ':' after property name in JSON")),
        }
    }

    /// The array of `elements`, as a fast array.
    unsafe fn array(&mut self, mut elements: Elements) -> rquickjs::Result<Owned> {
        let Ok(count) = i32::try_from(elements.values.len()) else {
            return Err(crate::out_of_memory(self.ctx));
        };
        let values = std::mem::take(&mut elements.values);
        self.held -= values.len();
        // `JS_NewArrayFrom` takes the elements' references, whether or not it succeeds.
        Owned::new(
            self.raw,
            qjs::JS_NewArrayFrom(self.raw, count, values.as_ptr()),
        )
    }

    /// A key's atom: ASCII keys through the cache, others made from their string.
    #[inline(never)]
    unsafe fn key(&mut self) -> rquickjs::Result<KeyAtom> {
        let span = self.string()?;
        let bytes = self.span_bytes(&span);
        if !bytes.is_ascii() {
            // `JS_NewAtomLen` would read these bytes as Latin-1.
            let string = Owned::new(
                self.raw,
                qjs::JS_NewStringLen(self.raw, bytes.as_ptr().cast(), bytes.len() as _),
            )?;
            let atom = qjs::JS_ValueToAtom(self.raw, string.value);
            return self.key_atom(atom, true);
        }
        if let Some(&atom) = self.atoms.get(bytes) {
            return Ok(KeyAtom {
                raw: self.raw,
                atom,
                owned: false,
            });
        }
        let atom = qjs::JS_NewAtomLen(self.raw, bytes.as_ptr().cast(), bytes.len() as _);
        if self.atoms.len() < KEY_CACHE && atom != qjs::JS_ATOM_NULL {
            let key = bytes.into();
            self.atoms.insert(key, atom);
            return self.key_atom(atom, false);
        }
        self.key_atom(atom, true)
    }

    fn key_atom(&self, atom: qjs::JSAtom, owned: bool) -> rquickjs::Result<KeyAtom> {
        if atom == qjs::JS_ATOM_NULL {
            return Err(rquickjs::Error::Exception);
        }
        Ok(KeyAtom {
            raw: self.raw,
            atom,
            owned,
        })
    }

    fn span_bytes(&self, span: &Span) -> &[u8] {
        match *span {
            Span::Source(start, end) => &self.bytes[start..end],
            Span::Scratch => &self.scratch,
        }
    }

    /// A string literal, unescaped: in place when it has no escapes.
    #[inline(never)]
    fn string(&mut self) -> rquickjs::Result<Span> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Span::Source(start, self.pos - 1));
                }
                Some(b'\\') => break,
                Some(0..=0x1f) => {
                    return Err(self.error("Bad control character in string literal in JSON"))
                }
                Some(_) => self.pos += 1,
                None => return Err(self.error("Unterminated string in JSON")),
            }
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(&self.bytes[start..self.pos]);
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Span::Scratch);
                }
                Some(b'\\') => self.escape()?,
                Some(0..=0x1f) => {
                    return Err(self.error("Bad control character in string literal in JSON"))
                }
                Some(byte) => {
                    self.scratch.push(byte);
                    self.pos += 1;
                }
                None => return Err(self.error("Unterminated string in JSON")),
            }
        }
    }

    /// One escape sequence into the scratch buffer. A `\uXXXX` code unit is written as its own
    /// (WTF-8) sequence, surrogates too: the engine reads two in a row back as a pair.
    fn escape(&mut self) -> rquickjs::Result<()> {
        self.pos += 1;
        let unescaped = match self.peek() {
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => {
                let hex = self.bytes.get(self.pos + 1..self.pos + 5);
                let unit = hex
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok());
                let Some(unit) = unit else {
                    return Err(self.error("Bad Unicode escape in JSON"));
                };
                push_code_unit(&mut self.scratch, unit);
                self.pos += 5;
                return Ok(());
            }
            None => return Err(self.error("Unterminated string in JSON")),
            Some(_) => return Err(self.error("Bad escaped character in JSON")),
        };
        self.scratch.push(unescaped);
        self.pos += 1;
        Ok(())
    }

    #[inline(never)]
    unsafe fn number(&mut self) -> rquickjs::Result<Owned> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ if negative => return Err(self.error("No number after minus sign in JSON")),
            _ => return Err(self.unexpected()),
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("Unterminated fractional number in JSON"));
            }
            self.digits();
            integral = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("Exponent part is missing a number in JSON"));
            }
            self.digits();
            integral = false;
        }
        let text = &self.bytes[start..self.pos];
        let digits = &text[usize::from(negative)..];
        if integral && digits.len() <= 9 {
            // Fits an i32 and is exact: the common case, without a float parse. (-0 is not
            // an integer to the engine.)
            let magnitude = digits
                .iter()
                .fold(0i32, |n, d| n * 10 + i32::from(d - b'0'));
            if !(negative && magnitude == 0) {
                let value = if negative { -magnitude } else { magnitude };
                return Owned::new(self.raw, qjs::JS_MKVAL(qjs::JS_TAG_INT, value));
            }
        }
        // The grammar above admits only ASCII digits, signs, '.' and 'e', all of which Rust's
        // correctly rounded parser accepts.
        let number = std::str::from_utf8(text)
            .ok()
            .and_then(|text| text.parse::<f64>().ok())
            .unwrap_or(f64::NAN);
        Owned::new(self.raw, qjs::JS_NewNumber(self.raw, number))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// The SyntaxError for what is at the current position, as V8 words it.
    #[cold]
    #[inline(never)]
    fn unexpected(&self) -> rquickjs::Error {
        let Some(rest) = self.bytes.get(self.pos..).filter(|rest| !rest.is_empty()) else {
            return rquickjs::Exception::throw_syntax(self.ctx, "Unexpected end of JSON input");
        };
        let token = String::from_utf8_lossy(&rest[..utf8_width(rest[0]).min(rest.len())]);
        // A window of the text around the token, cut at character boundaries.
        let boundary = |mut at: usize| {
            while at < self.bytes.len() && (0x80..0xc0).contains(&self.bytes[at]) {
                at += 1;
            }
            at
        };
        let (start, end) = (
            boundary(self.pos.saturating_sub(40)),
            boundary(self.pos + 40),
        );
        let before = String::from_utf8_lossy(&self.bytes[start..self.pos]);
        let after = String::from_utf8_lossy(&self.bytes[self.pos..end.min(self.bytes.len())]);
        let whole = start == 0 && end >= self.bytes.len();
        let context = if whole && before.chars().count() + after.chars().count() <= 40 {
            format!("\"{before}{after}\"")
        } else {
            let mut near: Vec<char> = before.chars().rev().take(10).collect();
            near.reverse();
            near.extend(after.chars().take(10));
            format!("...\"{}\"...", near.into_iter().collect::<String>())
        };
        rquickjs::Exception::throw_syntax(
            self.ctx,
            &format!("Unexpected token '{token}', {context} is not valid JSON"),
        )
    }

    /// A SyntaxError `message` at the current position, as V8 words it.
    #[cold]
    #[inline(never)]
    fn error(&self, message: &str) -> rquickjs::Error {
        let before = &self.bytes[..self.pos.min(self.bytes.len())];
        // Positions count UTF-16 code units, as the script sees its string.
        let units = |bytes: &[u8]| -> usize {
            bytes
                .iter()
                .map(|&b| match b {
                    0x80..=0xbf => 0,
                    0xf0..=0xff => 2,
                    _ => 1,
                })
                .sum()
        };
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |at| at + 1);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = units(&before[line_start..]) + 1;
        rquickjs::Exception::throw_syntax(
            self.ctx,
            &format!(
                "{message} at position {} (line {line} column {column})",
                units(before)
            ),
        )
    }
}

/// Bytes in the UTF-8 sequence that `lead` begins.
fn utf8_width(lead: u8) -> usize {
    match lead {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// Appends the UTF-16 code unit `unit` as its (WTF-8) byte sequence.
fn push_code_unit(out: &mut Vec<u8>, unit: u32) {
    if unit < 0x80 {
        out.push(unit as u8);
    } else if unit < 0x800 {
        out.extend_from_slice(&[0xc0 | (unit >> 6) as u8, 0x80 | (unit & 0x3f) as u8]);
    } else {
        out.extend_from_slice(&[
            0xe0 | (unit >> 12) as u8,
            0x80 | ((unit >> 6) & 0x3f) as u8,
            0x80 | (unit & 0x3f) as u8,
        ]);
    }
}
