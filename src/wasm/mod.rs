//! The JavaScript binding layer: converts between JS values and engine types
//! and forwards calls. No broker logic lives here.

use wasm_bindgen::prelude::*;

/// The crate version, so JS can check which engine build it loaded.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
