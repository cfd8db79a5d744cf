//! Errors: a core error becomes the JavaScript error the package's factory
//! builds for its code.

use std::cell::RefCell;
use tracewire_bridge::BridgeError;
use wasm_bindgen::prelude::*;

thread_local! {
    static FACTORY: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// Registers `factory(code: number, name: string, message: string) => Error`,
/// which builds the error thrown for a core error (the package's
/// `TracewireError` subclasses). Called once when the package loads.
#[wasm_bindgen(js_name = setErrorFactory)]
pub fn set_error_factory(factory: js_sys::Function) {
    FACTORY.with(|f| *f.borrow_mut() = Some(factory));
}

/// The JavaScript error for `e`: the factory's, or a plain `Error` whose
/// `code` is the name, before the factory is registered.
pub(crate) fn to_js(e: impl Into<BridgeError>) -> JsValue {
    let e: BridgeError = e.into();
    let made = FACTORY.with(|f| {
        f.borrow().as_ref().and_then(|f| {
            f.call3(
                &JsValue::NULL,
                &JsValue::from(e.code.as_u32()),
                &JsValue::from_str(e.code.name()),
                &JsValue::from_str(&e.message),
            )
            .ok()
        })
    });
    made.unwrap_or_else(|| {
        let err = js_sys::Error::new(&e.message);
        crate::values::set(&err, "code", e.code.name());
        err.into()
    })
}

/// `Result` whose error is already a JavaScript error.
pub(crate) type JsResult<T> = Result<T, JsValue>;
