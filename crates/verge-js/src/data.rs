//! Values as ops take and give them, the same on every engine: most ops only move data
//! (strings, numbers, bytes, lists of them), so written against [`Data`] they are written once
//! and each engine converts its own values (`IntoJs`/`FromJs` here for QuickJS; `verge-jsc`
//! for JavaScriptCore).

use crate::OpError;
use rquickjs::{qjs, Ctx, FromJs, IntoJs, Value};
use std::future::Future;
use std::pin::Pin;

/// A value crossing between an op and JavaScript.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    /// A `Uint8Array` given, or given back.
    Bytes(Vec<u8>),
    /// An array.
    List(Vec<Data>),
}

/// A Rust type an op takes, made from the data JavaScript gave.
pub trait FromData: Sized {
    fn from_data(data: Data) -> Result<Self, OpError>;
}

/// A Rust type an op gives, as data for JavaScript.
pub trait IntoData {
    fn into_data(self) -> Data;
}

/// An op over data, whatever the engine: its arguments in, its result out.
pub type DataOp = Box<dyn Fn(Vec<Data>) -> Result<Data, OpError>>;

/// What an async op gives: its result, later.
pub type OpFuture = Pin<Box<dyn Future<Output = Result<Data, OpError>>>>;

/// An op whose result comes later, whatever the engine: a promise in JavaScript, settled by the
/// future. An error before there is a future (arguments of the wrong kind) is thrown.
pub type AsyncDataOp = Box<dyn Fn(Vec<Data>) -> Result<OpFuture, OpError>>;

/// A Rust function of typed arguments giving a future, as an [`AsyncDataOp`]:
/// `async_data_op(|key: String| async move { … })`.
pub fn async_data_op<Args, F: IntoAsyncDataOp<Args>>(op: F) -> AsyncDataOp {
    op.into_async_data_op()
}

/// Implemented for `Fn`s of up to six [`FromData`] arguments giving a future of an
/// [`OpResult`].
pub trait IntoAsyncDataOp<Args> {
    fn into_async_data_op(self) -> AsyncDataOp;
}

/// A Rust function of typed arguments, as a [`DataOp`]: `data_op(|a: String, b: Option<String>| …)`.
pub fn data_op<Args, F: IntoDataOp<Args>>(op: F) -> DataOp {
    op.into_data_op()
}

/// What an op's Rust function may return: a value, or a `Result` whose error is thrown.
pub trait OpResult {
    fn into_result(self) -> Result<Data, OpError>;
}

impl<T: IntoData> OpResult for T {
    fn into_result(self) -> Result<Data, OpError> {
        Ok(self.into_data())
    }
}

impl<T: IntoData> OpResult for Result<T, OpError> {
    fn into_result(self) -> Result<Data, OpError> {
        self.map(IntoData::into_data)
    }
}

/// Implemented for `Fn`s of up to six [`FromData`] arguments giving an [`OpResult`].
pub trait IntoDataOp<Args> {
    fn into_data_op(self) -> DataOp;
}

macro_rules! into_data_op {
    ($($arg:ident),*) => {
        impl<F, R, $($arg),*> IntoDataOp<($($arg,)*)> for F
        where
            F: Fn($($arg),*) -> R + 'static,
            R: OpResult,
            $($arg: FromData,)*
        {
            #[allow(non_snake_case, unused_mut, unused_variables)]
            fn into_data_op(self) -> DataOp {
                Box::new(move |arguments: Vec<Data>| {
                    let mut arguments = arguments.into_iter();
                    $(let $arg = $arg::from_data(arguments.next().unwrap_or(Data::Undefined))?;)*
                    self($($arg),*).into_result()
                })
            }
        }
    };
}
macro_rules! into_async_data_op {
    ($($arg:ident),*) => {
        impl<F, Fut, R, $($arg),*> IntoAsyncDataOp<($($arg,)*)> for F
        where
            F: Fn($($arg),*) -> Fut + 'static,
            Fut: Future<Output = R> + 'static,
            R: OpResult,
            $($arg: FromData,)*
        {
            #[allow(non_snake_case, unused_mut, unused_variables)]
            fn into_async_data_op(self) -> AsyncDataOp {
                Box::new(move |arguments: Vec<Data>| {
                    let mut arguments = arguments.into_iter();
                    $(let $arg = $arg::from_data(arguments.next().unwrap_or(Data::Undefined))?;)*
                    let future = self($($arg),*);
                    Ok(Box::pin(async move { future.await.into_result() }) as OpFuture)
                })
            }
        }
    };
}
into_async_data_op!();
into_async_data_op!(A);
into_async_data_op!(A, B);
into_async_data_op!(A, B, C);
into_async_data_op!(A, B, C, D);
into_async_data_op!(A, B, C, D, E);
into_async_data_op!(A, B, C, D, E, G);

into_data_op!();
into_data_op!(A);
into_data_op!(A, B);
into_data_op!(A, B, C);
into_data_op!(A, B, C, D);
into_data_op!(A, B, C, D, E);
into_data_op!(A, B, C, D, E, G);

impl FromData for Data {
    fn from_data(data: Data) -> Result<Self, OpError> {
        Ok(data)
    }
}

impl FromData for String {
    fn from_data(data: Data) -> Result<Self, OpError> {
        match data {
            Data::String(text) => Ok(text),
            other => Err(OpError::Type(format!(
                "expected a string, got {}",
                other.kind()
            ))),
        }
    }
}

impl FromData for f64 {
    fn from_data(data: Data) -> Result<Self, OpError> {
        match data {
            Data::Number(number) => Ok(number),
            other => Err(OpError::Type(format!(
                "expected a number, got {}",
                other.kind()
            ))),
        }
    }
}

/// Ids, counts and times: a number, its fraction dropped; one that is not finite or does not
/// fit the type is a TypeError, as rquickjs's conversions refuse it.
macro_rules! integer_from_data {
    ($($int:ty),*) => {$(
        impl FromData for $int {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
            fn from_data(data: Data) -> Result<Self, OpError> {
                let number = f64::from_data(data)?.trunc();
                if number.is_finite() && number >= <$int>::MIN as f64 && number <= <$int>::MAX as f64 {
                    Ok(number as $int)
                } else {
                    Err(OpError::Type(format!(
                        "{number} is out of range for {}", stringify!($int)
                    )))
                }
            }
        }
    )*};
}
integer_from_data!(u16, u32, u64, usize, i32);

impl FromData for bool {
    fn from_data(data: Data) -> Result<Self, OpError> {
        match data {
            Data::Bool(value) => Ok(value),
            other => Err(OpError::Type(format!(
                "expected a boolean, got {}",
                other.kind()
            ))),
        }
    }
}

impl<T: FromData> FromData for Option<T> {
    fn from_data(data: Data) -> Result<Self, OpError> {
        match data {
            Data::Undefined | Data::Null => Ok(None),
            other => T::from_data(other).map(Some),
        }
    }
}

impl<T: FromData> FromData for Vec<T> {
    fn from_data(data: Data) -> Result<Self, OpError> {
        match data {
            Data::List(items) => items.into_iter().map(T::from_data).collect(),
            other => Err(OpError::Type(format!(
                "expected an array, got {}",
                other.kind()
            ))),
        }
    }
}

/// Bytes an op takes or gives: a `Uint8Array` in JavaScript.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl FromData for Bytes {
    fn from_data(data: Data) -> Result<Self, OpError> {
        match data {
            Data::Bytes(bytes) => Ok(Bytes(bytes)),
            other => Err(OpError::Type(format!(
                "expected a Uint8Array, got {}",
                other.kind()
            ))),
        }
    }
}

impl IntoData for Bytes {
    fn into_data(self) -> Data {
        Data::Bytes(self.0)
    }
}

impl IntoData for Data {
    fn into_data(self) -> Data {
        self
    }
}

impl IntoData for () {
    fn into_data(self) -> Data {
        Data::Undefined
    }
}

impl IntoData for bool {
    fn into_data(self) -> Data {
        Data::Bool(self)
    }
}

impl IntoData for f64 {
    fn into_data(self) -> Data {
        Data::Number(self)
    }
}

impl IntoData for u32 {
    fn into_data(self) -> Data {
        Data::Number(self.into())
    }
}

/// Times in seconds and counts, far below 2^53.
impl IntoData for u64 {
    fn into_data(self) -> Data {
        Data::Number(self as f64)
    }
}

impl IntoData for usize {
    fn into_data(self) -> Data {
        // Ids and counts, far below 2^53.
        Data::Number(self as f64)
    }
}

impl IntoData for &str {
    fn into_data(self) -> Data {
        Data::String(self.to_owned())
    }
}

impl IntoData for String {
    fn into_data(self) -> Data {
        Data::String(self)
    }
}

/// `None` is `undefined`, as rquickjs gives it.
impl<T: IntoData> IntoData for Option<T> {
    fn into_data(self) -> Data {
        self.map_or(Data::Undefined, IntoData::into_data)
    }
}

/// A pair is a two-item array.
impl<A: IntoData, B: IntoData> IntoData for (A, B) {
    fn into_data(self) -> Data {
        Data::List(vec![self.0.into_data(), self.1.into_data()])
    }
}

impl<T: IntoData> IntoData for Vec<T> {
    fn into_data(self) -> Data {
        Data::List(self.into_iter().map(IntoData::into_data).collect())
    }
}

impl Data {
    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Data::Undefined => "undefined",
            Data::Null => "null",
            Data::Bool(_) => "a boolean",
            Data::Number(_) => "a number",
            Data::String(_) => "a string",
            Data::Bytes(_) => "bytes",
            Data::List(_) => "an array",
        }
    }
}

/// How deep lists may nest, and how many values in all, in what an op is given: a cyclic or
/// enormous array is refused rather than followed.
pub const MAX_DEPTH: usize = 32;
pub const MAX_VALUES: usize = 1 << 20;

/// The error for data past [`MAX_DEPTH`] or [`MAX_VALUES`].
pub fn too_large() -> OpError {
    OpError::Type(format!(
        "an op takes at most {MAX_VALUES} values nested at most {MAX_DEPTH} deep"
    ))
}

impl<'js> FromJs<'js> for Data {
    fn from_js(ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<Self> {
        let mut budget = MAX_VALUES;
        data_of(ctx, value, 0, &mut budget)
    }
}

fn data_of<'js>(
    ctx: &Ctx<'js>,
    value: Value<'js>,
    depth: usize,
    budget: &mut usize,
) -> rquickjs::Result<Data> {
    if depth > MAX_DEPTH || *budget == 0 {
        return Err(ctx.throw(too_large().into_value(ctx)));
    }
    *budget -= 1;
    if value.is_undefined() {
        return Ok(Data::Undefined);
    }
    if value.is_null() {
        return Ok(Data::Null);
    }
    if let Some(boolean) = value.as_bool() {
        return Ok(Data::Bool(boolean));
    }
    if let Some(number) = value.as_number() {
        return Ok(Data::Number(number));
    }
    if let Some(text) = value.as_string() {
        return text.to_string().map(Data::String);
    }
    if let Some(array) = value.as_array() {
        return array
            .iter::<Value<'js>>()
            .map(|item| data_of(ctx, item?, depth + 1, budget))
            .collect::<rquickjs::Result<_>>()
            .map(Data::List);
    }
    if let Ok(bytes) = rquickjs::TypedArray::<u8>::from_js(ctx, value.clone()) {
        return Ok(Data::Bytes(crate::bytes_of(&bytes)));
    }
    Err(rquickjs::Error::new_from_js(value.type_name(), "data"))
}

impl<'js> IntoJs<'js> for Data {
    fn into_js(self, ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
        #[allow(unsafe_code)]
        // SAFETY: `ctx` is live and its lock held (we are given it); `raw_of` gives a new
        // reference, which the `Value` takes over, or the exception marker.
        unsafe {
            let value = raw_of(ctx, self);
            if qjs::JS_IsException(value) {
                return Err(rquickjs::Error::Exception);
            }
            Ok(Value::from_raw(ctx.clone(), value))
        }
    }
}

/// `data` as a new reference to a JavaScript value, made with the engine's own calls: a
/// `Value` holds a reference to its context, taken and released for each one made, which for a
/// list of small items (a URL's parts, a header list) was a third of the conversion. A list is
/// made at its full length at once, not grown item by item. The exception marker if the engine
/// failed (out of memory), with nothing left allocated.
///
/// # Safety
/// `ctx` must be live, with its lock held by the caller.
#[allow(unsafe_code)]
unsafe fn raw_of(ctx: &Ctx<'_>, data: Data) -> qjs::JSValue {
    let raw_ctx = ctx.as_raw().as_ptr();
    match data {
        Data::Undefined => qjs::JS_UNDEFINED,
        Data::Null => qjs::JS_NULL,
        Data::Bool(true) => qjs::JS_TRUE,
        Data::Bool(false) => qjs::JS_FALSE,
        Data::Number(number) => {
            #[allow(clippy::cast_possible_truncation)] // checked: only an exact int is one
            let int = number as i32;
            if f64::from(int) == number && !(number == 0.0 && number.is_sign_negative()) {
                qjs::JS_MKVAL(qjs::JS_TAG_INT, int)
            } else {
                qjs::JS_NewFloat64(number)
            }
        }
        Data::String(text) => qjs::JS_NewStringLen(raw_ctx, text.as_ptr().cast(), text.len() as _),
        Data::Bytes(bytes) => match rquickjs::TypedArray::<u8>::new(ctx.clone(), bytes) {
            Ok(array) => qjs::JS_DupValue(raw_ctx, array.as_value().as_raw()),
            // An exception the engine raised is pending already; any other error becomes one.
            Err(rquickjs::Error::Exception) => qjs::JS_EXCEPTION,
            Err(error) => thrown(ctx, &error.to_string()),
        },
        Data::List(items) => {
            let Ok(count) = i32::try_from(items.len()) else {
                return thrown(ctx, "a list too long for an array");
            };
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                let value = raw_of(ctx, item);
                if qjs::JS_IsException(value) {
                    for made in values {
                        qjs::JS_FreeValue(raw_ctx, made);
                    }
                    return value;
                }
                values.push(value);
            }
            // Takes over the references in `values` (and frees them if it fails).
            qjs::JS_NewArrayFrom(raw_ctx, count, values.as_ptr())
        }
    }
}

/// The exception marker, with an InternalError saying `why` pending, as a failed engine call
/// leaves it.
fn thrown(ctx: &Ctx<'_>, why: &str) -> qjs::JSValue {
    let _pending = rquickjs::Exception::throw_internal(ctx, why);
    qjs::JS_EXCEPTION
}
