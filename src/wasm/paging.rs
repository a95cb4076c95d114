//! Paged queues' effects and command (see `broker::paging`): the host writes,
//! reads and deletes pages in its store and hands read pages back.

use super::options::ms;
use super::WasmBroker;
use crate::broker::PageOp;
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
impl WasmBroker {
    /// Page operations emitted since the last call, in order, as
    /// `{ op: 'write', page, bytes, sync }`, `{ op: 'read', page }` or
    /// `{ op: 'delete', page }`; undefined when there are none.
    #[wasm_bindgen(js_name = takePageOps)]
    pub fn take_page_ops(&mut self) -> Option<Array> {
        let b = self.server.broker_mut();
        if !b.has_page_ops() {
            return None;
        }
        let out = Array::new();
        for op in b.take_page_ops() {
            let o = Object::new();
            let set = |k: &str, v: JsValue| {
                let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
            };
            match op {
                PageOp::Write { page, bytes, sync } => {
                    set("op", "write".into());
                    set("page", (page as f64).into());
                    set("bytes", Uint8Array::from(&bytes[..]).into());
                    set("sync", sync.into());
                }
                PageOp::Read { page } => {
                    set("op", "read".into());
                    set("page", (page as f64).into());
                }
                PageOp::Delete { page } => {
                    set("op", "delete".into());
                    set("page", (page as f64).into());
                }
            }
            out.push(&o);
        }
        Some(out)
    }

    /// The bytes of a page asked for with a `read` operation: its messages
    /// rejoin their queue and deliveries resume. A damaged page throws (the
    /// page is asked for again later).
    #[wasm_bindgen(js_name = pageLoaded)]
    pub fn page_loaded(&mut self, now: f64, page: f64, bytes: &[u8]) -> Result<(), JsValue> {
        let r = self
            .server
            .broker_mut()
            .page_loaded(ms(now), page as u64, bytes);
        self.server.tick(ms(now));
        r.map_err(|e| js_sys::Error::new(&e).into())
    }

    /// The pages the broker refers to: after a restart the host deletes the others.
    #[wasm_bindgen(js_name = livePages)]
    pub fn live_pages(&self) -> Vec<f64> {
        let b = self.server.broker();
        b.live_pages().into_iter().map(|p| p as f64).collect()
    }

    /// Pages asked for and not handed back: a resumed host reads them again.
    #[wasm_bindgen(js_name = pagesReading)]
    pub fn pages_reading(&self) -> Vec<f64> {
        let b = self.server.broker();
        b.pages_reading().into_iter().map(|p| p as f64).collect()
    }
}
