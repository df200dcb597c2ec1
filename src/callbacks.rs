//! Callbacks: which functions a view may run, their signatures, and where
//! their machine code is.
//!
//! A callback is a `#[no_mangle] pub extern "C" fn(&mut State, args…) -> R`
//! (or `*mut State` first). [`callback!`](crate::callback) turns one into a
//! [`Callback`] handle: the view calls it with
//! [`Element::call`](crate::dom::Element::call)`(handle, (args…))`, checked by
//! the compiler, and the app registers it with
//! [`App::callback`](crate::App::callback). The signature comes from the Rust
//! types; the symbol that names the code comes from the binary: `dlsym` for
//! symbols the build exported dynamically, else the ELF symbol table of
//! `/proc/self/exe`. Only registered callbacks can be executed or
//! transpiled, whatever else the binary holds.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::marker::PhantomData;

use serde_json::Value as Json;

use x64wasm_transpile::{Image, Signature};

use crate::text::{Text, TEXT_MAX};

pub use x64wasm_transpile::ScalarType;

/// An argument type a callback may take after the state pointer.
pub trait Arg: Copy + 'static {
    /// Its type in export signatures.
    const TYPE: ScalarType;
    /// The value from a JSON argument, if it has this type and range.
    fn from_json(value: &Json) -> Option<Self>;
    /// The value as JSON (a constant argument in `data-args`).
    fn to_json(self) -> Json;
}

/// A result type a callback may return.
pub trait Ret: 'static {
    /// Its type in export signatures; `None` for `()`.
    const TYPE: Option<ScalarType>;
    /// The value as JSON. Integers past 2^53 become strings, which JavaScript
    /// numbers could not hold exactly.
    fn to_json(self) -> Json;
}

/// An integer from a JSON number, or (`wide`: for 64-bit types, which a
/// JavaScript number cannot hold past 2^53) from a string of decimal digits
/// with an optional `-`, as a BigInt arrives.
fn json_integer(value: &Json, wide: bool) -> Option<i128> {
    match value {
        Json::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from)),
        Json::String(s) if wide => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            let decimal = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
            decimal.then(|| s.parse().ok()).flatten()
        }
        _ => None,
    }
}

fn integer_to_json(v: i128) -> Json {
    const EXACT: i128 = 1 << 53;
    if (-EXACT..=EXACT).contains(&v) {
        Json::from(v as i64)
    } else {
        Json::String(v.to_string())
    }
}

macro_rules! integer_types {
    ($($t:ty => $s:ident),*) => {$(
        impl Arg for $t {
            const TYPE: ScalarType = ScalarType::$s;
            fn from_json(value: &Json) -> Option<$t> {
                json_integer(value, <$t>::BITS == 64).and_then(|v| <$t>::try_from(v).ok())
            }
            fn to_json(self) -> Json {
                integer_to_json(self as i128)
            }
        }
        impl Ret for $t {
            const TYPE: Option<ScalarType> = Some(ScalarType::$s);
            fn to_json(self) -> Json {
                integer_to_json(self as i128)
            }
        }
    )*};
}
integer_types!(i8 => I8, u8 => U8, i16 => I16, u16 => U16, i32 => I32, u32 => U32, i64 => I64, u64 => U64);

impl Arg for f64 {
    const TYPE: ScalarType = ScalarType::F64;
    fn from_json(value: &Json) -> Option<f64> {
        // JSON has no NaN or infinity: they come as strings (see `Ret`).
        match value {
            Json::String(s) if ["NaN", "Infinity", "-Infinity"].contains(&s.as_str()) => {
                s.parse().ok()
            }
            _ => value.as_f64(),
        }
    }
    fn to_json(self) -> Json {
        Ret::to_json(self)
    }
}
impl Ret for f64 {
    const TYPE: Option<ScalarType> = Some(ScalarType::F64);
    fn to_json(self) -> Json {
        // JSON has no NaN or infinity; say them as strings.
        serde_json::Number::from_f64(self)
            .map_or_else(|| Json::String(self.to_string()), Json::Number)
    }
}
impl Arg for f32 {
    const TYPE: ScalarType = ScalarType::F32;
    fn from_json(value: &Json) -> Option<f32> {
        let v = f64::from_json(value)?;
        // Only values an f32 holds exactly (or non-finite ones): no silent rounding.
        (v as f32 as f64 == v || !v.is_finite()).then_some(v as f32)
    }
    fn to_json(self) -> Json {
        Ret::to_json(self)
    }
}
impl Ret for f32 {
    const TYPE: Option<ScalarType> = Some(ScalarType::F32);
    fn to_json(self) -> Json {
        Ret::to_json(self as f64)
    }
}
impl Arg for bool {
    const TYPE: ScalarType = ScalarType::Bool;
    fn from_json(value: &Json) -> Option<bool> {
        match value {
            Json::Bool(b) => Some(*b),
            other => match json_integer(other, false) {
                Some(0) => Some(false),
                Some(1) => Some(true),
                _ => None,
            },
        }
    }
    fn to_json(self) -> Json {
        Json::Bool(self)
    }
}
impl Ret for bool {
    const TYPE: Option<ScalarType> = Some(ScalarType::Bool);
    fn to_json(self) -> Json {
        Json::Bool(self)
    }
}
impl Ret for () {
    const TYPE: Option<ScalarType> = None;
    fn to_json(self) -> Json {
        Json::Null
    }
}

impl Arg for Text {
    const TYPE: ScalarType = ScalarType::Text;
    /// A JSON string (JSON text is UTF-8, and the request's parser refuses
    /// lone surrogates) of at most [`TEXT_MAX`] bytes; the `Text` borrows
    /// it for the call.
    fn from_json(value: &Json) -> Option<Text> {
        match value {
            Json::String(s) if s.len() <= TEXT_MAX => Some(Text::borrowing(s)),
            _ => None,
        }
    }
    fn to_json(self) -> Json {
        Json::String(self.as_str().to_string())
    }
}

/// Why a request's arguments do not fit a callback's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(pub String);

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A callback's function pointer type: `extern "C" fn(&mut S, args…) -> R`
/// or `unsafe extern "C" fn(*mut S, args…) -> R`, up to five arguments.
pub trait CallbackFn<S>: Copy + Send + Sync + 'static {
    /// Parameter types after the state pointer.
    fn params() -> Vec<ScalarType>;
    /// The result type (`None` for `()`).
    fn result() -> Option<ScalarType>;
    /// The function's address in this process.
    fn address(self) -> usize;
    /// Calls the function natively with arguments checked against its types.
    fn invoke(self, state: &mut S, args: &[Json]) -> Result<Json, ArgError>;
}

/// A JSON value as an error message quotes it: at most 64 characters.
pub(crate) fn brief(value: &Json) -> String {
    let text = value.to_string();
    match text.char_indices().nth(64) {
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
        None => text,
    }
}

fn arg<A: Arg>(args: &[Json], i: usize) -> Result<A, ArgError> {
    A::from_json(&args[i]).ok_or_else(|| match &args[i] {
        Json::String(s) if A::TYPE == ScalarType::Text => ArgError(format!(
            "argument {}: text of {} bytes is longer than the limit of {TEXT_MAX} bytes",
            i + 1,
            s.len()
        )),
        _ => ArgError(format!(
            "argument {} must be {} (got {})",
            i + 1,
            A::TYPE.name(),
            brief(&args[i])
        )),
    })
}

macro_rules! callback_fns {
    ($($a:ident $i:tt),*) => {
        impl<S: 'static, R: Ret, $($a: Arg),*> CallbackFn<S> for extern "C" fn(&mut S, $($a),*) -> R {
            fn params() -> Vec<ScalarType> {
                vec![$($a::TYPE),*]
            }
            fn result() -> Option<ScalarType> {
                R::TYPE
            }
            fn address(self) -> usize {
                self as usize
            }
            fn invoke(self, state: &mut S, args: &[Json]) -> Result<Json, ArgError> {
                check_count(args, Self::params().len())?;
                Ok(self(state, $(arg::<$a>(args, $i)?),*).to_json())
            }
        }
        impl<S: 'static, R: Ret, $($a: Arg),*> CallbackFn<S> for unsafe extern "C" fn(*mut S, $($a),*) -> R {
            fn params() -> Vec<ScalarType> {
                vec![$($a::TYPE),*]
            }
            fn result() -> Option<ScalarType> {
                R::TYPE
            }
            fn address(self) -> usize {
                self as usize
            }
            fn invoke(self, state: &mut S, args: &[Json]) -> Result<Json, ArgError> {
                check_count(args, Self::params().len())?;
                // SAFETY: the pointer is an exclusive borrow of a live state,
                // which is all a callback of this shape may assume.
                Ok(unsafe { self(state as *mut S, $(arg::<$a>(args, $i)?),*) }.to_json())
            }
        }
    };
}
callback_fns!();
callback_fns!(A0 0);
callback_fns!(A0 0, A1 1);
callback_fns!(A0 0, A1 1, A2 2);
callback_fns!(A0 0, A1 1, A2 2, A3 3);
callback_fns!(A0 0, A1 1, A2 2, A3 3, A4 4);

fn check_count(args: &[Json], want: usize) -> Result<(), ArgError> {
    if args.len() == want {
        Ok(())
    } else {
        Err(ArgError(format!(
            "takes {want} argument(s) after the state, got {}",
            args.len()
        )))
    }
}

/// A registered callback's native call: the shared state, the calling
/// view's state as bytes (empty for an app without view state), the
/// arguments.
type Invoke<S> = Box<dyn Fn(&mut S, &mut [u8], &[Json]) -> Result<Json, ArgError> + Send + Sync>;

/// Which state a callback takes (docs/guide.md, "Per-view state").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Takes {
    /// The shared state, which every view shows (`&mut S`).
    Shared,
    /// The calling view's own state (`&mut V`).
    View,
    /// Both, as one [`Both`]`<S, V>` (`&mut Both<S, V>`).
    Both,
}

impl Takes {
    /// Its name in the page's callback signatures.
    pub fn name(self) -> &'static str {
        match self {
            Takes::Shared => "shared",
            Takes::View => "view",
            Takes::Both => "both",
        }
    }
}

/// The shared state and one view's state, as a callback that takes both
/// sees them: `extern "C" fn(&mut Both<S, V>, args…)`. Its layout is the
/// views' memory layout (docs/abi.md): the view state at
/// [`view_offset`]`::<S, V>()`, after the shared state.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Both<S, V> {
    /// The shared state.
    pub shared: S,
    /// The calling view's state.
    pub view: V,
}

/// Where a view's state starts in a [`Both`]: the shared state's size
/// rounded up to the view state's alignment (`repr(C)`).
pub const fn view_offset<S, V>() -> usize {
    let align = std::mem::align_of::<V>();
    std::mem::size_of::<S>().div_ceil(align) * align
}

/// The arguments a view passes to a callback, as a tuple of [`Arg`] types
/// (`()`, `(i32,)`, `(i32, bool)`, ... up to five).
pub trait Args: 'static {
    /// Their types, in order.
    fn types() -> Vec<ScalarType>;
    /// Their values as JSON, for `data-args`.
    fn to_json(&self) -> Vec<Json>;
}

macro_rules! arg_tuples {
    ($($a:ident $i:tt),*) => {
        impl<$($a: Arg),*> Args for ($($a,)*) {
            fn types() -> Vec<ScalarType> {
                vec![$(<$a as Arg>::TYPE),*]
            }
            fn to_json(&self) -> Vec<Json> {
                vec![$(Arg::to_json(self.$i)),*]
            }
        }
    };
}
arg_tuples!();
arg_tuples!(A0 0);
arg_tuples!(A0 0, A1 1);
arg_tuples!(A0 0, A1 1, A2 2);
arg_tuples!(A0 0, A1 1, A2 2, A3 3);
arg_tuples!(A0 0, A1 1, A2 2, A3 3, A4 4);

/// A callback as the app names it: what [`callback!`](crate::callback)
/// makes. `S` is the state type and `A` the tuple of argument types after
/// the state, so a view's [`call`](crate::dom::Element::call) with a
/// misspelt name or a wrong argument is a compile error. It is `Copy` and
/// can be a `const`:
///
/// ```
/// use x64wasm::{callback, dom::button, Callback};
/// # #[repr(C)] #[derive(Clone, Copy)] pub struct State { n: i64 }
/// #[no_mangle]
/// pub extern "C" fn add(s: &mut State, by: i32) -> i64 { s.n += by as i64; s.n }
/// const ADD: Callback<State, (i32,)> = callback!(add(i32) -> i64);
/// let plus_three = button("+3").call(ADD, (3,));
/// ```
///
/// What a name or a type gets wrong does not compile: a misspelt callback,
///
/// ```compile_fail,E0425
/// # use x64wasm::{callback, Callback};
/// # #[repr(C)] #[derive(Clone, Copy)] pub struct State { n: i64 }
/// # #[no_mangle] pub extern "C" fn add(s: &mut State, by: i32) -> i64 { s.n += by as i64; s.n }
/// const ADD: Callback<State, (i32,)> = callback!(ad(i32) -> i64);
/// ```
///
/// declared types that are not the function's,
///
/// ```compile_fail,E0605
/// # use x64wasm::{callback, Callback};
/// # #[repr(C)] #[derive(Clone, Copy)] pub struct State { n: i64 }
/// # #[no_mangle] pub extern "C" fn add(s: &mut State, by: i32) -> i64 { s.n += by as i64; s.n }
/// const ADD: Callback<State, (u8,)> = callback!(add(u8) -> i64);
/// ```
///
/// an argument of the wrong type, or the wrong number of them:
///
/// ```compile_fail,E0308
/// # use x64wasm::{callback, dom::button, Callback};
/// # #[repr(C)] #[derive(Clone, Copy)] pub struct State { n: i64 }
/// # #[no_mangle] pub extern "C" fn add(s: &mut State, by: i32) -> i64 { s.n += by as i64; s.n }
/// # const ADD: Callback<State, (i32,)> = callback!(add(i32) -> i64);
/// let _ = button("+").call(ADD, ("three",));
/// ```
///
/// ```compile_fail,E0308
/// # use x64wasm::{callback, dom::button, Callback};
/// # #[repr(C)] #[derive(Clone, Copy)] pub struct State { n: i64 }
/// # #[no_mangle] pub extern "C" fn add(s: &mut State, by: i32) -> i64 { s.n += by as i64; s.n }
/// # const ADD: Callback<State, (i32,)> = callback!(add(i32) -> i64);
/// let _ = button("+").call(ADD, (3, 4));
/// ```
pub struct Callback<S: 'static, A = ()> {
    /// The function's name in the source, which is its symbol name.
    pub name: &'static str,
    result: Option<ScalarType>,
    address: fn() -> usize,
    invoke: fn(&mut S, &[Json]) -> Result<Json, ArgError>,
    args: PhantomData<fn(A)>,
}

impl<S: 'static, A> Clone for Callback<S, A> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S: 'static, A> Copy for Callback<S, A> {}

impl<S: 'static, A: Args> Callback<S, A> {
    /// A callback named `name` returning `result`, whose address and native
    /// call the macro supplies (use [`callback!`](crate::callback)).
    #[doc(hidden)]
    pub const fn new(
        name: &'static str,
        result: Option<ScalarType>,
        address: fn() -> usize,
        invoke: fn(&mut S, &[Json]) -> Result<Json, ArgError>,
    ) -> Self {
        Callback {
            name,
            result,
            address,
            invoke,
            args: PhantomData,
        }
    }

    /// What the app registers: name, address, signature, native call.
    pub(crate) fn registration(self) -> Registration<S> {
        Registration {
            declared: self.name,
            address: (self.address)(),
            params: A::types(),
            result: self.result,
            takes: Takes::Shared,
            invoke: Box::new(move |state, _, args| (self.invoke)(state, args)),
        }
    }
}

/// Calls `function` natively with JSON arguments checked against its types
/// (what a [`Callback`]'s native call does; used by the macro).
#[doc(hidden)]
pub fn invoke<S, F: CallbackFn<S>>(
    function: F,
    state: &mut S,
    args: &[Json],
) -> Result<Json, ArgError> {
    function.invoke(state, args)
}

/// A callback as the app registered it, before its symbol is looked up.
pub(crate) struct Registration<S> {
    /// The name written at the registration (the function's path, last part).
    pub declared: &'static str,
    /// The function's address in this process.
    pub address: usize,
    params: Vec<ScalarType>,
    result: Option<ScalarType>,
    /// Which state it takes.
    pub takes: Takes,
    invoke: Invoke<S>,
}

impl<V: bytemuck::Pod, A: Args> Callback<V, A> {
    /// What an app with shared state `S` registers for a callback that
    /// takes the view's state.
    pub(crate) fn view_registration<S>(self) -> Registration<S> {
        Registration {
            declared: self.name,
            address: (self.address)(),
            params: A::types(),
            result: self.result,
            takes: Takes::View,
            invoke: Box::new(move |_, view_bytes, args| {
                let mut view: V = bytemuck::pod_read_unaligned(view_bytes);
                let ret = (self.invoke)(&mut view, args);
                view_bytes.copy_from_slice(bytemuck::bytes_of(&view));
                ret
            }),
        }
    }
}

impl<S: bytemuck::Pod, V: bytemuck::Pod, A: Args> Callback<Both<S, V>, A> {
    /// What an app registers for a callback that takes both states.
    pub(crate) fn both_registration(self) -> Registration<S> {
        Registration {
            declared: self.name,
            address: (self.address)(),
            params: A::types(),
            result: self.result,
            takes: Takes::Both,
            invoke: Box::new(move |shared, view_bytes, args| {
                let mut both = Both {
                    shared: *shared,
                    view: bytemuck::pod_read_unaligned::<V>(view_bytes),
                };
                let ret = (self.invoke)(&mut both, args);
                *shared = both.shared;
                view_bytes.copy_from_slice(bytemuck::bytes_of(&both.view));
                ret
            }),
        }
    }
}

/// Makes a [`Callback`] handle of a callback function, naming its argument
/// and result types after the state (Rust cannot read them off a function
/// item; a mismatch with the function is a compile error):
///
/// ```
/// # use x64wasm::{callback, Callback};
/// # #[repr(C)] #[derive(Clone, Copy)] pub struct State { n: i64 }
/// # #[no_mangle] pub extern "C" fn increment_counter(s: &mut State) {}
/// # #[no_mangle] pub extern "C" fn add_step_clamped(s: &mut State, lo: i32, hi: i32) -> i64 { 0 }
/// # #[no_mangle] pub unsafe extern "C" fn raw_update(s: *mut State, b: u8) {}
/// // extern "C" fn(&mut State)
/// const INCREMENT: Callback<State> = callback!(increment_counter);
/// // extern "C" fn(&mut State, i32, i32) -> i64
/// const ADD: Callback<State, (i32, i32)> = callback!(add_step_clamped(i32, i32) -> i64);
/// // unsafe extern "C" fn(*mut State, u8)
/// const RAW: Callback<State, (u8,)> = callback!(unsafe raw_update(u8));
/// ```
///
/// The function must be `#[no_mangle] pub extern "C"`, with arguments and
/// result among `i8 u8 i16 u16 i32 u32 i64 u64 f32 f64 bool` (`()` for none).
#[macro_export]
macro_rules! callback {
    (@result) => { () };
    (@result $r:ty) => { $r };
    (unsafe $f:ident $( ( $($t:ty),* $(,)? ) $(-> $r:ty)? )?) => {
        $crate::callbacks::Callback::<_, ( $($($t,)*)? )>::new(
            stringify!($f),
            <$crate::callback!(@result $($($r)?)?) as $crate::callbacks::Ret>::TYPE,
            || $f as unsafe extern "C" fn(*mut _ $($(, $t)*)?) $($(-> $r)?)? as usize,
            |state, args| $crate::callbacks::invoke(
                $f as unsafe extern "C" fn(*mut _ $($(, $t)*)?) $($(-> $r)?)?,
                state,
                args,
            ),
        )
    };
    ($f:ident $( ( $($t:ty),* $(,)? ) $(-> $r:ty)? )?) => {
        $crate::callbacks::Callback::<_, ( $($($t,)*)? )>::new(
            stringify!($f),
            <$crate::callback!(@result $($($r)?)?) as $crate::callbacks::Ret>::TYPE,
            || $f as extern "C" fn(&mut _ $($(, $t)*)?) $($(-> $r)?)? as usize,
            |state, args| $crate::callbacks::invoke(
                $f as extern "C" fn(&mut _ $($(, $t)*)?) $($(-> $r)?)?,
                state,
                args,
            ),
        )
    };
}

/// Where a callback's name was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolSource {
    /// The dynamic symbol table (`dlsym`): survives `strip`.
    Dynamic,
    /// The ELF symbol table of the executable.
    SymbolTable,
    /// No symbol table names it (a stripped binary): the app named its
    /// address, which the function pointer gives.
    Address,
}

/// A registered callback with its symbol resolved.
pub(crate) struct Registered<S> {
    /// The name views call it by (`data-call`, `/execute/{name}`, `/wasm/{name}`).
    pub name: String,
    /// Its signature as the transpiler exports it (state pointer first).
    pub signature: Signature,
    /// Where its symbol was found, or why it cannot be transpiled (views then
    /// run it through the server only).
    pub symbol: Result<SymbolSource, String>,
    /// Which state it takes.
    pub takes: Takes,
    invoke: Invoke<S>,
}

impl<S> Registered<S> {
    /// Runs the native callback on `state` and the calling view's state
    /// bytes `view` (empty for an app without view state) with JSON
    /// arguments.
    pub fn invoke(&self, state: &mut S, view: &mut [u8], args: &[Json]) -> Result<Json, ArgError> {
        (self.invoke)(state, view, args)
    }
}

/// All callbacks of an app, by name.
pub(crate) struct Registry<S> {
    callbacks: Vec<Registered<S>>,
    by_name: HashMap<String, usize>,
}

impl<S> Registry<S> {
    /// Resolves every registration against the running binary. `image` is the
    /// binary's ELF (None when it cannot be read); `load_bias` maps process
    /// addresses to ELF addresses. Returns the registry and one warning per
    /// callback that can run on the server only.
    pub(crate) fn resolve(
        registrations: Vec<Registration<S>>,
        mut image: Option<&mut Image>,
        load_bias: u64,
    ) -> Result<(Registry<S>, Vec<String>), String> {
        let mut registry = Registry {
            callbacks: Vec::new(),
            by_name: HashMap::new(),
        };
        let mut warnings = Vec::new();
        for r in registrations {
            let image_address = (r.address as u64).wrapping_sub(load_bias);
            let symbol = find_symbol(r.declared, r.address, image_address, image.as_deref_mut());
            if let Err(why) = &symbol {
                warnings.push(format!(
                    "callback `{}` runs on the server only: {why}",
                    r.declared
                ));
            }
            let name = r.declared.to_string();
            let params: Vec<&str> = std::iter::once(ScalarType::Ptr)
                .chain(r.params.iter().copied())
                .map(ScalarType::name)
                .collect();
            let text = format!(
                "{name}({})->{}",
                params.join(","),
                r.result.map_or("void", ScalarType::name)
            );
            let signature = Signature::parse(&text).map_err(|e| e.to_string())?;
            if registry.by_name.contains_key(&name) {
                return Err(format!("callback `{name}` is registered twice"));
            }
            registry
                .by_name
                .insert(name.clone(), registry.callbacks.len());
            registry.callbacks.push(Registered {
                name,
                signature,
                symbol,
                takes: r.takes,
                invoke: r.invoke,
            });
        }
        let by_address: Vec<&str> = registry
            .callbacks
            .iter()
            .filter(|c| c.symbol == Ok(SymbolSource::Address))
            .map(|c| c.name.as_str())
            .collect();
        if !by_address.is_empty() {
            warnings.push(format!(
                "the binary is stripped: {} found by their addresses; transpile errors \
                 will name addresses, not functions",
                by_address.join(", ")
            ));
        }
        Ok((registry, warnings))
    }

    /// The callback called `name`, if registered.
    pub fn get(&self, name: &str) -> Option<&Registered<S>> {
        self.by_name.get(name).map(|&i| &self.callbacks[i])
    }

    /// All callbacks in registration order.
    pub fn all(&self) -> &[Registered<S>] {
        &self.callbacks
    }
}

/// Finds the symbol naming the callback's code: first the dynamic table
/// (`dlsym`, present when the build exports it, and kept by `strip`), then the
/// ELF symbol table. The name must be the declared one at the same address;
/// another name there (a mangled one) is a reason the callback cannot be
/// transpiled, spelled out with the fix. Where no table names the address
/// (a stripped binary), the declared name is given to it in `image`: the
/// function pointer says where the code is.
fn find_symbol(
    declared: &str,
    address: usize,
    image_address: u64,
    image: Option<&mut Image>,
) -> Result<SymbolSource, String> {
    if dynamic_symbol(declared) == Some(address) {
        return Ok(SymbolSource::Dynamic);
    }
    let Some(image) = image else {
        return Err("the executable could not be read to find its symbols".into());
    };
    if image
        .symbol(declared)
        .is_some_and(|s| s.address == image_address && s.is_function)
    {
        return Ok(SymbolSource::SymbolTable);
    }
    let other = image
        .function_at(image_address)
        .map(|s| s.name.clone())
        .or_else(|| dladdr_name(address));
    match other {
        Some(name) => Err(format!(
            "its symbol is `{name}`, not `{declared}`: mark it #[no_mangle] so the binary names it"
        )),
        None => image
            .name_function(declared, image_address)
            .map(|()| SymbolSource::Address)
            .map_err(|e| e.to_string()),
    }
}

/// The address `dlsym` gives for `name` in this process, if exported.
fn dynamic_symbol(name: &str) -> Option<usize> {
    let c = CString::new(name).ok()?;
    // SAFETY: RTLD_DEFAULT searches the global scope; `c` is a valid C string.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) };
    (!p.is_null()).then_some(p as usize)
}

/// The exact dynamic symbol at `address`, if `dladdr` knows one.
fn dladdr_name(address: usize) -> Option<String> {
    // SAFETY: Dl_info is plain data; dladdr fills it or returns 0.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let found = unsafe { libc::dladdr(address as *const libc::c_void, &mut info) };
    if found == 0 || info.dli_sname.is_null() || info.dli_saddr as usize != address {
        return None;
    }
    // SAFETY: dladdr returned a NUL-terminated name owned by the loader.
    Some(
        unsafe { CStr::from_ptr(info.dli_sname) }
            .to_string_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Shared {
        total: i64,
        tag: [u8; 8],
    }
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Mine {
        picked: u32,
    }
    extern "C" fn pick(v: &mut Mine, n: u32) {
        v.picked = n;
    }
    extern "C" fn add_picked(b: &mut Both<Shared, Mine>, times: i32) -> i64 {
        b.shared.total += b.view.picked as i64 * times as i64;
        b.view.picked = 0;
        b.shared.total
    }

    #[test]
    fn view_and_both_callbacks_change_the_states_they_take() {
        let pick: Registration<Shared> = callback!(pick(u32)).view_registration();
        let add: Registration<Shared> = callback!(add_picked(i32) -> i64).both_registration();
        assert_eq!((pick.takes, add.takes), (Takes::View, Takes::Both));
        let mut shared = Shared {
            total: 10,
            tag: [0; 8],
        };
        let mut view = 0u32.to_le_bytes();
        (pick.invoke)(&mut shared, &mut view, &[json!(7)]).unwrap();
        assert_eq!((shared.total, u32::from_le_bytes(view)), (10, 7));
        let ret = (add.invoke)(&mut shared, &mut view, &[json!(3)]).unwrap();
        assert_eq!(
            (ret, shared.total, u32::from_le_bytes(view)),
            (json!(31), 31, 0)
        );
        // the view state starts after the shared one, at its alignment
        assert_eq!(view_offset::<Shared, Mine>(), 16);
        assert_eq!(std::mem::offset_of!(Both<Shared, Mine>, view), 16);
        assert_eq!(view_offset::<[u8; 3], u16>(), 4);
        assert_eq!(view_offset::<[u8; 3], ()>(), 3);
    }
    use serde_json::json;

    #[repr(C)]
    #[derive(Default)]
    struct S {
        total: i64,
    }

    extern "C" fn add(s: &mut S, by: i32, twice: bool) -> i64 {
        s.total += by as i64 * if twice { 2 } else { 1 };
        s.total
    }

    #[test]
    fn arguments_are_checked_against_the_rust_type() {
        let handle: Callback<S, (i32, bool)> = crate::callback!(add(i32, bool) -> i64);
        let r = handle.registration();
        assert_eq!(r.declared, "add");
        assert_eq!(r.address, add as *const () as usize);
        assert_eq!(r.params, [ScalarType::I32, ScalarType::Bool]);
        assert_eq!(r.result, Some(ScalarType::I64));
        let mut s = S::default();
        let cases: &[(Json, Result<Json, &str>)] = &[
            (json!([5, false]), Ok(json!(5))),
            (json!([5, true]), Ok(json!(15))),
            (json!([-3, 0]), Ok(json!(12))),
            (json!(["-3", 0]), Err("argument 1 must be i32 (got \"-3\")")),
            (
                json!([5]),
                Err("takes 2 argument(s) after the state, got 1"),
            ),
            (
                json!([2147483648i64, true]),
                Err("argument 1 must be i32 (got 2147483648)"),
            ),
            (json!([1.5, true]), Err("argument 1 must be i32 (got 1.5)")),
            (json!([1, 2]), Err("argument 2 must be bool (got 2)")),
        ];
        for (args, want) in cases {
            let got = (r.invoke)(&mut s, &mut [], args.as_array().unwrap());
            assert_eq!(
                got.map_err(|e| e.0),
                want.clone().map_err(String::from),
                "{args}"
            );
        }
    }

    #[test]
    fn large_integers_become_strings_and_floats_stay_exact() {
        assert_eq!(Ret::to_json(u64::MAX), json!("18446744073709551615"));
        assert_eq!(Ret::to_json(1i64 << 53), json!(9007199254740992i64));
        assert_eq!(f32::from_json(&json!(0.1)), None, "0.1 is not an f32");
        assert_eq!(f32::from_json(&json!(0.5)), Some(0.5));
        assert_eq!(Ret::to_json(f64::NAN), json!("NaN"));
        // Strings only for 64-bit integers, and only plain decimals.
        let cases: &[(Json, Option<i64>)] = &[
            (json!("-9007199254740993"), Some(-9007199254740993)),
            (json!("+5"), None),
            (json!(" 5"), None),
            (json!("5e3"), None),
            (json!(""), None),
            (json!("-"), None),
        ];
        for (value, want) in cases {
            assert_eq!(i64::from_json(value), *want, "{value}");
        }
        assert_eq!(i32::from_json(&json!("5")), None);
        assert_eq!(
            u64::from_json(&json!("18446744073709551615")),
            Some(u64::MAX)
        );
    }
}
