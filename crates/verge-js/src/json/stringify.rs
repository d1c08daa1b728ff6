//! `JSON.stringify(value, null, space)` without a replacer: SerializeJSONProperty (ECMA-262
//! §25.5.2.2) over the engine's own property calls, written into one buffer.

use super::{Budget, Owned, StringBytes, KEY_CACHE};
use rquickjs::{qjs, Ctx, Function, Object, Value};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Open containers searched one by one for a cycle; those deeper are found in a set.
const SCANNED: usize = 32;

/// Class ids of the objects serialized by their primitive value, read from the engine (its
/// class table is internal). Built-in classes have the same ids in every runtime: read once per
/// process, not at each isolate's start.
pub(super) struct Classes {
    number: qjs::JSClassID,
    string: qjs::JSClassID,
    boolean: qjs::JSClassID,
    bigint: qjs::JSClassID,
    raw_json: Option<qjs::JSClassID>,
}

impl Classes {
    pub(super) fn of(ctx: &Ctx<'_>) -> rquickjs::Result<&'static Self> {
        static CLASSES: OnceLock<Classes> = OnceLock::new();
        if let Some(classes) = CLASSES.get() {
            return Ok(classes);
        }
        let classes = Self::read(ctx)?;
        Ok(CLASSES.get_or_init(|| classes))
    }

    fn read<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Self> {
        let class_of = |value: Value<'js>| -> rquickjs::Result<qjs::JSClassID> {
            // SAFETY: `value` is a live value of `ctx`; `JS_ToObject` returns a new reference,
            // which `Owned` releases.
            unsafe {
                let object = Owned::new(
                    ctx.as_raw().as_ptr(),
                    qjs::JS_ToObject(ctx.as_raw().as_ptr(), value.as_raw()),
                )?;
                Ok(qjs::JS_GetClassID(object.value))
            }
        };
        let json: Object = ctx.globals().get("JSON")?;
        let raw_json = match json.get::<_, Option<Function>>("rawJSON")? {
            Some(raw) => Some(class_of(raw.call(("0",))?)?),
            None => None,
        };
        Ok(Self {
            number: class_of(Value::new_number(ctx.clone(), 0.5))?,
            string: class_of(rquickjs::String::from_str(ctx.clone(), "")?.into_value())?,
            boolean: class_of(Value::new_bool(ctx.clone(), false))?,
            bigint: class_of(rquickjs::BigInt::from_i64(ctx.clone(), 0)?.into_value())?,
            raw_json,
        })
    }
}

/// The indentation `space` asks for, when the fast path can give it: at most 10 spaces for a
/// number, the first 10 characters of an ASCII string, none for another primitive. `None` for
/// what the engine's own is left to unwrap (a Number or String object, a non-ASCII string).
pub(super) fn gap(space: &Value<'_>) -> Option<Vec<u8>> {
    if let Some(number) = space.as_number() {
        let count = if number.is_nan() {
            0.0
        } else {
            number.trunc().clamp(0.0, 10.0)
        };
        return Some(vec![b' '; count as usize]);
    }
    if let Some(string) = space.as_string() {
        let text = string.to_string().ok().filter(|text| text.is_ascii())?;
        return Some(text.as_bytes()[..text.len().min(10)].to_vec());
    }
    (!space.is_object()).then(Vec::new)
}

/// Serializes `value` as `JSON.stringify(value, null, space)` does, with `gap` as [`gap`] reads
/// `space`: a string, or undefined.
pub(super) fn stringify<'js>(
    ctx: &Ctx<'js>,
    value: &Value<'js>,
    classes: &Classes,
    gap: Vec<u8>,
) -> rquickjs::Result<Value<'js>> {
    let raw = ctx.as_raw().as_ptr();
    let budget = Budget::new(ctx);
    let mut writer = Writer {
        ctx,
        raw,
        classes,
        out: Vec::new(),
        open: Vec::new(),
        gap,
        deep: HashSet::new(),
        keys: HashMap::new(),
        // SAFETY: `raw` is the live context of `ctx`; "toJSON" is a NUL-terminated name.
        to_json: unsafe { qjs::JS_NewAtom(raw, c"toJSON".as_ptr()) },
        limit: budget.memory_limit(),
        budget,
    };
    // SAFETY: a new reference to the argument, which the writer releases.
    let value = unsafe { Owned::new(raw, qjs::JS_DupValue(raw, value.as_raw()))? };
    let written = writer.serialize(value)?;
    if !written {
        return Ok(Value::new_undefined(ctx.clone()));
    }
    // SAFETY: the buffer is UTF-8 (strings are escaped from the engine's own UTF-8), and the
    // string returned is a new reference handed to the caller's `Value`.
    unsafe {
        let string = Owned::new(
            raw,
            qjs::JS_NewStringLen(raw, writer.out.as_ptr().cast(), writer.out.len() as _),
        )?;
        Ok(Value::from_raw(ctx.clone(), string.into_raw()))
    }
}

/// The key a value is found under, made a string only for a `toJSON` that asks.
#[derive(Clone, Copy)]
enum Key {
    Root,
    Index(i64),
    Atom(qjs::JSAtom),
}

/// What a serialization left in the buffer.
type Written = bool;

/// An array or object being serialized, and how far.
enum Container {
    Array {
        holder: Owned,
        next: i64,
        length: i64,
    },
    Object {
        holder: Owned,
        keys: OwnKeys,
        next: usize,
        empty: bool,
    },
}

impl Container {
    fn holder(&self) -> &Owned {
        match self {
            Self::Array { holder, .. } | Self::Object { holder, .. } => holder,
        }
    }
}

struct Writer<'a, 'js> {
    ctx: &'a Ctx<'js>,
    raw: *mut qjs::JSContext,
    classes: &'a Classes,
    out: Vec<u8>,
    /// The arrays and objects being serialized, innermost last: on a heap stack, so nesting
    /// costs no native stack; an object found in it again is a cycle.
    open: Vec<Container>,
    /// The indentation of one level (`space`), ASCII; empty for none.
    gap: Vec<u8>,
    /// The objects of containers open deeper than the first `SCANNED`, which a linear search
    /// would make quadratic.
    deep: HashSet<*mut std::ffi::c_void>,
    /// Each key as `"key":`, for atoms this writer holds a reference to.
    keys: HashMap<qjs::JSAtom, Box<[u8]>>,
    to_json: qjs::JSAtom,
    budget: Budget,
    /// Bytes the output may not outgrow: see [`Budget::memory_limit`].
    limit: usize,
}

impl Drop for Writer<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: the writer took a reference to each of these atoms in its live context.
        unsafe {
            qjs::JS_FreeAtom(self.raw, self.to_json);
            for atom in self.keys.keys() {
                qjs::JS_FreeAtom(self.raw, *atom);
            }
        }
    }
}

impl<'js> Writer<'_, 'js> {
    /// `value` and everything in it: SerializeJSONProperty, SerializeJSONArray and
    /// SerializeJSONObject as a loop over the open containers.
    fn serialize(&mut self, value: Owned) -> rquickjs::Result<Written> {
        let written = self.property(Key::Root, value)?;
        // SAFETY: each holder is a live object, kept by its container while its members are
        // read; every call returns a reference that `Owned` takes.
        unsafe {
            while let Some(depth) = self.open.len().checked_sub(1) {
                let Some(container) = self.open.last_mut() else {
                    break;
                };
                match container {
                    Container::Array {
                        holder,
                        next,
                        length,
                    } => {
                        if *next == *length {
                            let had_content = *length > 0;
                            self.close(b']', had_content);
                            continue;
                        }
                        let (holder, index) = (holder.value, *next);
                        *next += 1;
                        if index > 0 {
                            self.out.push(b',');
                        }
                        self.newline(depth + 1);
                        let element = Owned::new(
                            self.raw,
                            qjs::JS_GetPropertyInt64(self.raw, holder, index),
                        )?;
                        if !self.property(Key::Index(index), element)? {
                            self.out.extend_from_slice(b"null");
                        }
                    }
                    Container::Object {
                        holder,
                        keys,
                        next,
                        empty,
                    } => {
                        let Some(atom) = keys.entries().get(*next).map(|entry| entry.atom) else {
                            let had_content = !*empty;
                            self.close(b'}', had_content);
                            continue;
                        };
                        let (holder, first) = (holder.value, *empty);
                        *next += 1;
                        let value =
                            Owned::new(self.raw, qjs::JS_GetProperty(self.raw, holder, atom))?;
                        let mark = self.out.len();
                        if !first {
                            self.out.push(b',');
                        }
                        self.newline(depth + 1);
                        self.key(atom)?;
                        if !self.gap.is_empty() {
                            self.out.push(b' ');
                        }
                        if !self.property(Key::Atom(atom), value)? {
                            self.out.truncate(mark);
                        } else if let Some(Container::Object { empty, .. }) =
                            self.open.get_mut(depth)
                        {
                            *empty = false;
                        }
                    }
                }
            }
        }
        self.within_limit()?;
        Ok(written)
    }

    /// The engine's uncatchable out-of-memory error once the output has outgrown the memory
    /// limit.
    fn within_limit(&self) -> rquickjs::Result<()> {
        if self.out.len() > self.limit {
            return Err(crate::out_of_memory(self.ctx));
        }
        Ok(())
    }

    /// With indentation, a line break and `depth` gaps.
    fn newline(&mut self, depth: usize) {
        if self.gap.is_empty() {
            return;
        }
        self.out.push(b'\n');
        for _ in 0..depth {
            self.out.extend_from_slice(&self.gap);
        }
    }

    /// Ends the innermost container with `bracket`, on a line of its own when indented and not
    /// empty.
    fn close(&mut self, bracket: u8, had_content: bool) {
        if let Some(container) = self.open.pop() {
            if self.open.len() >= SCANNED {
                // SAFETY: reading the pointer of a live object's value.
                self.deep
                    .remove(&unsafe { qjs::JS_VALUE_GET_PTR(container.holder().value) });
            }
        }
        if had_content {
            self.newline(self.open.len());
        }
        self.out.push(bracket);
    }

    /// SerializeJSONProperty: `value`, found under `key`, after its `toJSON`.
    fn property(&mut self, key: Key, value: Owned) -> rquickjs::Result<Written> {
        self.budget.step(self.ctx)?;
        // Looked at before each value, the output outgrows the limit by one value at most.
        self.within_limit()?;
        let value = self.apply_to_json(key, value)?;
        // SAFETY: `value` is a live value of this context, and every call below returns either
        // a borrowed answer or a reference that `Owned` takes.
        unsafe {
            let v = value.value;
            match qjs::JS_VALUE_GET_NORM_TAG(v) {
                qjs::JS_TAG_INT => {
                    let mut digits = itoa::Buffer::new();
                    self.out
                        .extend_from_slice(digits.format(qjs::JS_VALUE_GET_INT(v)).as_bytes());
                }
                qjs::JS_TAG_FLOAT64 => self.number(qjs::JS_VALUE_GET_FLOAT64(v)),
                qjs::JS_TAG_STRING | qjs::JS_TAG_STRING_ROPE => self.string(v)?,
                qjs::JS_TAG_BOOL => self.out.extend_from_slice(if qjs::JS_VALUE_GET_BOOL(v) {
                    b"true"
                } else {
                    b"false"
                }),
                qjs::JS_TAG_NULL => self.out.extend_from_slice(b"null"),
                qjs::JS_TAG_BIG_INT | qjs::JS_TAG_SHORT_BIG_INT => return Err(self.bigint()),
                qjs::JS_TAG_OBJECT if !qjs::JS_IsFunction(self.raw, v) => {
                    return self.object(value)
                }
                _ => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Step 2 of SerializeJSONProperty: an object's or BigInt's callable `toJSON`, called.
    #[inline(never)]
    fn apply_to_json(&mut self, key: Key, value: Owned) -> rquickjs::Result<Owned> {
        // SAFETY: as in `property`.
        unsafe {
            let v = value.value;
            if !qjs::JS_IsObject(v) && !qjs::JS_IsBigInt(v) {
                return Ok(value);
            }
            let method = Owned::new(self.raw, qjs::JS_GetProperty(self.raw, v, self.to_json))?;
            if !qjs::JS_IsFunction(self.raw, method.value) {
                return Ok(value);
            }
            let key = self.key_value(key)?;
            let mut args = [key.value];
            Owned::new(
                self.raw,
                qjs::JS_Call(self.raw, method.value, v, 1, args.as_mut_ptr()),
            )
        }
    }

    /// `key` as the string `toJSON` receives.
    #[cold]
    fn key_value(&self, key: Key) -> rquickjs::Result<Owned> {
        // SAFETY: each call returns a new reference, or an exception `Owned` reports.
        unsafe {
            let raw = match key {
                Key::Root => qjs::JS_NewStringLen(self.raw, c"".as_ptr(), 0),
                Key::Atom(atom) => qjs::JS_AtomToString(self.raw, atom),
                Key::Index(index) => {
                    let mut digits = itoa::Buffer::new();
                    let text = digits.format(index);
                    qjs::JS_NewStringLen(self.raw, text.as_ptr().cast(), text.len() as _)
                }
            };
            Owned::new(self.raw, raw)
        }
    }

    /// An object: a wrapper of a primitive as the primitive, raw JSON as itself; an array or
    /// another object opened, for `serialize` to go through its elements or properties.
    ///
    /// # Safety
    /// As in `property`: `value` holds an object of this context.
    #[inline(never)]
    unsafe fn object(&mut self, value: Owned) -> rquickjs::Result<Written> {
        let v = value.value;
        let class = qjs::JS_GetClassID(v);
        let classes = self.classes;
        if class == classes.number {
            let mut number = 0.0;
            if qjs::JS_ToFloat64(self.raw, &mut number, v) < 0 {
                return Err(rquickjs::Error::Exception);
            }
            self.number(number);
            return Ok(true);
        }
        if class == classes.string {
            let string = Owned::new(self.raw, qjs::JS_ToString(self.raw, v))?;
            self.string(string.value)?;
            return Ok(true);
        }
        if class == classes.boolean {
            let this = Value::from_raw(self.ctx.clone(), qjs::JS_DupValue(self.raw, v));
            let value_of = super::original(self.ctx, |originals| &originals.boolean_value)?;
            let primitive: bool = value_of.call((rquickjs::function::This(this),))?;
            self.out
                .extend_from_slice(if primitive { b"true" } else { b"false" });
            return Ok(true);
        }
        if class == classes.bigint {
            return Err(self.bigint());
        }
        if Some(class) == classes.raw_json {
            let text = Owned::new(
                self.raw,
                qjs::JS_GetPropertyStr(self.raw, v, c"rawJSON".as_ptr()),
            )?;
            let bytes = StringBytes::of(self.raw, text.value)?;
            self.out.extend_from_slice(bytes.bytes());
            return Ok(true);
        }

        let pointer = qjs::JS_VALUE_GET_PTR(v);
        if self.is_open(pointer) {
            return Err(rquickjs::Exception::throw_type(
                self.ctx,
                "Converting circular structure to JSON",
            ));
        }
        if self.open.len() >= super::MAX_NESTING {
            return Err(super::too_deep(self.ctx));
        }
        let container = if self.is_array(v)? {
            let mut length = 0i64;
            if qjs::JS_GetLength(self.raw, v, &mut length) < 0 {
                return Err(rquickjs::Error::Exception);
            }
            self.out.push(b'[');
            Container::Array {
                holder: value,
                next: 0,
                length,
            }
        } else {
            let keys = OwnKeys::of(self.raw, v)?;
            self.out.push(b'{');
            Container::Object {
                holder: value,
                keys,
                next: 0,
                empty: true,
            }
        };
        if self.open.len() >= SCANNED {
            self.deep.insert(pointer);
        }
        self.open.push(container);
        Ok(true)
    }

    /// Whether the object at `pointer` is open already: a cycle.
    fn is_open(&self, pointer: *mut std::ffi::c_void) -> bool {
        self.open.iter().take(SCANNED).any(|open| {
            // SAFETY: reading the pointer of a live object's value.
            unsafe { qjs::JS_VALUE_GET_PTR(open.holder().value) == pointer }
        }) || self.deep.contains(&pointer)
    }

    /// IsArray (§7.2.2), which looks through proxies.
    ///
    /// # Safety
    /// `v` is a live object of this context.
    unsafe fn is_array(&self, v: qjs::JSValue) -> rquickjs::Result<bool> {
        if !qjs::JS_IsProxy(v) {
            return Ok(qjs::JS_IsArray(v));
        }
        let mut target = Owned::new(self.raw, qjs::JS_GetProxyTarget(self.raw, v))?;
        // A revoked proxy has no target: the engine throws its TypeError.
        while qjs::JS_IsProxy(target.value) {
            target = Owned::new(self.raw, qjs::JS_GetProxyTarget(self.raw, target.value))?;
        }
        Ok(qjs::JS_IsArray(target.value))
    }

    /// Writes `"key":`, quoted once per call.
    ///
    /// # Safety
    /// `atom` is a live atom of this context.
    #[inline(never)]
    unsafe fn key(&mut self, atom: qjs::JSAtom) -> rquickjs::Result<()> {
        if let Some(quoted) = self.keys.get(&atom) {
            self.out.extend_from_slice(quoted);
            return Ok(());
        }
        let bytes = StringBytes::of_atom(self.raw, atom)?;
        let start = self.out.len();
        quote(&mut self.out, bytes.bytes());
        self.out.push(b':');
        if self.keys.len() < KEY_CACHE {
            qjs::JS_DupAtom(self.raw, atom);
            self.keys.insert(atom, self.out[start..].into());
        }
        Ok(())
    }

    /// A string value, quoted.
    ///
    /// # Safety
    /// `v` is a live string of this context.
    #[inline(never)]
    unsafe fn string(&mut self, v: qjs::JSValue) -> rquickjs::Result<()> {
        let bytes = StringBytes::of(self.raw, v)?;
        quote(&mut self.out, bytes.bytes());
        Ok(())
    }

    /// A number as Number::toString gives it; `null` for NaN and the infinities.
    #[inline(never)]
    fn number(&mut self, number: f64) {
        if !number.is_finite() {
            self.out.extend_from_slice(b"null");
        } else if number == number.trunc() && number.abs() < 1e15 {
            // Integral and exact: the common case, without the shortest-digits search. (-0 is
            // "0", as Number::toString gives it.)
            let mut digits = itoa::Buffer::new();
            self.out
                .extend_from_slice(digits.format(number as i64).as_bytes());
        } else {
            let mut digits = ryu_js::Buffer::new();
            self.out
                .extend_from_slice(digits.format_finite(number).as_bytes());
        }
    }

    #[cold]
    fn bigint(&self) -> rquickjs::Error {
        rquickjs::Exception::throw_type(self.ctx, "Do not know how to serialize a BigInt")
    }
}

/// An object's enumerable own string keys, as `[[OwnPropertyKeys]]` and `[[GetOwnProperty]]`
/// give them (proxies' traps included); released when dropped.
struct OwnKeys {
    ctx: *mut qjs::JSContext,
    table: *mut qjs::JSPropertyEnum,
    len: u32,
}

impl OwnKeys {
    /// # Safety
    /// `v` is a live object of the live context `ctx`.
    unsafe fn of(ctx: *mut qjs::JSContext, v: qjs::JSValue) -> rquickjs::Result<Self> {
        let mut table = std::ptr::null_mut();
        let mut len = 0;
        let flags = (qjs::JS_GPN_STRING_MASK | qjs::JS_GPN_ENUM_ONLY) as i32;
        if qjs::JS_GetOwnPropertyNames(ctx, &mut table, &mut len, v, flags) < 0 {
            return Err(rquickjs::Error::Exception);
        }
        Ok(Self { ctx, table, len })
    }

    fn entries(&self) -> &[qjs::JSPropertyEnum] {
        if self.table.is_null() {
            return &[];
        }
        // SAFETY: the engine returned `len` entries at `table`, kept until freed in `drop`.
        unsafe { std::slice::from_raw_parts(self.table, self.len as usize) }
    }
}

impl Drop for OwnKeys {
    fn drop(&mut self) {
        // SAFETY: `table` came from `JS_GetOwnPropertyNames` in the live context `ctx`.
        unsafe { qjs::JS_FreePropertyEnum(self.ctx, self.table, self.len) }
    }
}

/// What each byte becomes inside a JSON string: 0 itself, `u` a `\u00XX` escape, another byte
/// the letter of its short escape; 0xED may begin a surrogate, which `quote` checks.
static ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table[0xed] = b'?';
    table
};

/// QuoteJSONString (§25.5.2.3) of WTF-8 `bytes`: short escapes, `\u00XX` for other controls and
/// `\uDXXX` for a lone surrogate, so the output is well-formed UTF-8.
fn quote(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let escape = ESCAPES[byte as usize];
        if escape == 0 {
            index += 1;
            continue;
        }
        if escape == b'?' {
            // ED A0..BF xx is a surrogate code point (U+D800..DFFF); ED 80..9F xx is not.
            match bytes.get(index + 1..index + 3) {
                Some(&[second, third]) if second >= 0xa0 => {
                    out.extend_from_slice(&bytes[start..index]);
                    let unit = 0xd000 | (u32::from(second & 0x3f) << 6) | u32::from(third & 0x3f);
                    out.extend_from_slice(b"\\u");
                    for shift in [12, 8, 4, 0] {
                        out.push(HEX[((unit >> shift) & 0xf) as usize]);
                    }
                    index += 3;
                    start = index;
                }
                _ => index += 1,
            }
            continue;
        }
        out.extend_from_slice(&bytes[start..index]);
        out.push(b'\\');
        if escape == b'u' {
            out.extend_from_slice(b"u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.push(escape);
        }
        index += 1;
        start = index;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::quote;

    fn quoted(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        quote(&mut out, bytes);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn quoting_escapes_controls_quotes_and_lone_surrogates_only() {
        assert_eq!(quoted(b"plain"), "\"plain\"");
        assert_eq!(quoted(b"a\"b\\c\n\t\x08\x0c\r"), r#""a\"b\\c\n\t\b\f\r""#);
        assert_eq!(quoted(b"\x00\x1f\x7f"), "\"\\u0000\\u001f\x7f\"");
        assert_eq!(quoted("é€😀".as_bytes()), "\"é€😀\"");
        // U+D7FF begins with ED too, and is no surrogate.
        assert_eq!(quoted("\u{d7ff}".as_bytes()), "\"\u{d7ff}\"");
        assert_eq!(
            quoted(b"x\xed\xa0\x80y\xed\xbf\xbf"),
            "\"x\\ud800y\\udfff\""
        );
    }
}
