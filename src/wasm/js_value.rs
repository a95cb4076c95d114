//! AMQP values <-> JavaScript values (from JS here; to JS through the
//! plain data of `data.rs`).
//!
//! | AMQP                         | JavaScript            |
//! |------------------------------|-----------------------|
//! | bool                         | boolean               |
//! | integers up to 32 bits, f32/f64 | number             |
//! | `l` (i64)                    | number if safe, else bigint; bigint -> `l` |
//! | long string (UTF-8)          | string                |
//! | byte array `x`, non-UTF-8 `S`| Uint8Array            |
//! | timestamp `T`                | Date                  |
//! | decimal `D`                  | number                |
//! | array / table                | array / object        |
//! | void                         | null                  |
//!
//! JS numbers become `I32` when they are 32-bit integers, `I64` when larger
//! safe integers, otherwise `F64`.

use crate::broker::{FieldTable, FieldValue, Properties, ShortStr};
use js_sys::{Array, BigInt, Date, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

fn bad(what: &str) -> JsValue {
    js_sys::TypeError::new(what).into()
}

pub fn value_from_js(v: &JsValue, depth: usize) -> Result<FieldValue, JsValue> {
    if depth > 64 {
        return Err(bad("field table nested deeper than 64 levels"));
    }
    if v.is_null() || v.is_undefined() {
        return Ok(FieldValue::Void);
    }
    if let Some(b) = v.as_bool() {
        return Ok(FieldValue::Bool(b));
    }
    if let Some(n) = v.as_f64() {
        return Ok(
            if n.fract() == 0.0 && n >= i32::MIN as f64 && n <= i32::MAX as f64 {
                FieldValue::I32(n as i32)
            } else if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 {
                FieldValue::I64(n as i64)
            } else {
                FieldValue::F64(n)
            },
        );
    }
    if let Some(s) = v.as_string() {
        return Ok(FieldValue::LongStr(s.into_bytes()));
    }
    if v.is_bigint() {
        let n = i64::try_from(BigInt::unchecked_from_js_ref(v).clone())
            .map_err(|_| bad("a bigint header value must fit in 64 signed bits"))?;
        return Ok(FieldValue::I64(n));
    }
    if let Some(bytes) = v.dyn_ref::<Uint8Array>() {
        return Ok(FieldValue::Bytes(bytes.to_vec()));
    }
    if let Some(d) = v.dyn_ref::<Date>() {
        return Ok(FieldValue::Timestamp(
            (d.get_time() / 1000.0).max(0.0) as u64
        ));
    }
    if Array::is_array(v) {
        let a: &Array = v.unchecked_ref();
        return a
            .iter()
            .map(|x| value_from_js(&x, depth + 1))
            .collect::<Result<_, _>>()
            .map(FieldValue::Array);
    }
    if v.is_object() {
        return table_from_js_at(v, depth + 1).map(FieldValue::Table);
    }
    Err(bad("unsupported header value type (use boolean, number, bigint, string, Uint8Array, Date, array, object or null)"))
}

fn table_from_js_at(v: &JsValue, depth: usize) -> Result<FieldTable, JsValue> {
    let mut t = FieldTable::new();
    if v.is_null() || v.is_undefined() {
        return Ok(t);
    }
    if !v.is_object() {
        return Err(bad("arguments and headers must be an object"));
    }
    for entry in Object::entries(v.unchecked_ref()).iter() {
        let pair: Array = entry.unchecked_into();
        let key = pair.get(0).as_string().unwrap_or_default();
        let key = ShortStr::new(&key).map_err(|e| bad(&format!("table key: {e}")))?;
        t.insert(key, value_from_js(&pair.get(1), depth)?);
    }
    Ok(t)
}

pub fn table_from_js(v: &JsValue) -> Result<FieldTable, JsValue> {
    table_from_js_at(v, 0)
}

pub fn short(s: &str, what: &str) -> Result<ShortStr, JsValue> {
    ShortStr::new(s).map_err(|_| bad(&format!("{what} is longer than 255 bytes")))
}

fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn opt_str(o: &JsValue, key: &str) -> Result<Option<ShortStr>, JsValue> {
    let v = get(o, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let s = v
        .as_string()
        .ok_or_else(|| bad(&format!("property {key} must be a string")))?;
    short(&s, key).map(Some)
}

fn opt_u8(o: &JsValue, key: &str) -> Result<Option<u8>, JsValue> {
    let v = get(o, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n.fract() == 0.0 && (0.0..=255.0).contains(&n) => Ok(Some(n as u8)),
        _ => Err(bad(&format!(
            "property {key} must be an integer from 0 to 255"
        ))),
    }
}

/// Message properties from the camelCase object of the JS API.
pub fn properties_from_js(o: &JsValue) -> Result<Properties, JsValue> {
    if o.is_undefined() || o.is_null() {
        return Ok(Properties::default());
    }
    if !o.is_object() {
        return Err(bad("properties must be an object"));
    }
    let headers = get(o, "headers");
    let timestamp = get(o, "timestamp");
    let timestamp = if timestamp.is_undefined() || timestamp.is_null() {
        None
    } else if let Some(d) = timestamp.dyn_ref::<Date>() {
        Some((d.get_time() / 1000.0).max(0.0) as u64)
    } else {
        return Err(bad("property timestamp must be a Date"));
    };
    let expiration = match get(o, "expiration").as_f64() {
        Some(ms) => Some(short(&(ms.max(0.0) as u64).to_string(), "expiration")?),
        None => opt_str(o, "expiration")?,
    };
    // The short strings read in a loop, in the order their errors take: one
    // copy of the read and, on a failure, of the drop of those read before.
    let mut text: [Option<ShortStr>; 9] = Default::default();
    let (first, rest) = text.split_at_mut(2);
    read_strs(o, first, &["contentType", "contentEncoding"])?;
    let headers = if headers.is_undefined() || headers.is_null() {
        None
    } else {
        Some(table_from_js(&headers)?)
    };
    let delivery_mode = opt_u8(o, "deliveryMode")?;
    let priority = opt_u8(o, "priority")?;
    read_strs(
        o,
        rest,
        &[
            "correlationId",
            "replyTo",
            "messageId",
            "type",
            "userId",
            "appId",
            "clusterId",
        ],
    )?;
    let [content_type, content_encoding, correlation_id, reply_to, message_id, kind, user_id, app_id, cluster_id] =
        text;
    Ok(Properties {
        content_type,
        content_encoding,
        headers,
        delivery_mode,
        priority,
        correlation_id,
        reply_to,
        expiration,
        message_id,
        timestamp,
        kind,
        user_id,
        app_id,
        cluster_id,
    })
}

/// Each of `keys` as an optional short string into the slot beside it.
fn read_strs(o: &JsValue, slots: &mut [Option<ShortStr>], keys: &[&str]) -> Result<(), JsValue> {
    for (slot, key) in slots.iter_mut().zip(keys) {
        *slot = opt_str(o, key)?;
    }
    Ok(())
}
