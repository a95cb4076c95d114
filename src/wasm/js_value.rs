//! AMQP values <-> JavaScript values.
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

pub fn value_to_js(v: &FieldValue) -> JsValue {
    match v {
        FieldValue::Bool(b) => JsValue::from_bool(*b),
        FieldValue::I8(n) => (*n).into(),
        FieldValue::U8(n) => (*n).into(),
        FieldValue::I16(n) => (*n).into(),
        FieldValue::U16(n) => (*n).into(),
        FieldValue::I32(n) => (*n).into(),
        FieldValue::U32(n) => (*n).into(),
        FieldValue::I64(n) if n.unsigned_abs() <= (1 << 53) => JsValue::from_f64(*n as f64),
        FieldValue::I64(n) => BigInt::from(*n).into(),
        FieldValue::F32(n) => JsValue::from_f64(*n as f64),
        FieldValue::F64(n) => JsValue::from_f64(*n),
        FieldValue::Decimal { scale, value } => {
            JsValue::from_f64(*value as f64 / 10f64.powi(*scale as i32))
        }
        FieldValue::LongStr(b) => match std::str::from_utf8(b) {
            Ok(s) => JsValue::from_str(s),
            Err(_) => Uint8Array::from(&b[..]).into(),
        },
        FieldValue::Bytes(b) => Uint8Array::from(&b[..]).into(),
        FieldValue::Array(items) => items.iter().map(value_to_js).collect::<Array>().into(),
        FieldValue::Timestamp(t) => Date::new(&JsValue::from_f64(*t as f64 * 1000.0)).into(),
        FieldValue::Table(t) => table_to_js(t),
        FieldValue::Void => JsValue::NULL,
    }
}

pub fn table_to_js(t: &FieldTable) -> JsValue {
    let o = Object::new();
    for (k, v) in t.iter() {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &value_to_js(v));
    }
    o.into()
}

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
    Ok(Properties {
        content_type: opt_str(o, "contentType")?,
        content_encoding: opt_str(o, "contentEncoding")?,
        headers: if headers.is_undefined() || headers.is_null() {
            None
        } else {
            Some(table_from_js(&headers)?)
        },
        delivery_mode: opt_u8(o, "deliveryMode")?,
        priority: opt_u8(o, "priority")?,
        correlation_id: opt_str(o, "correlationId")?,
        reply_to: opt_str(o, "replyTo")?,
        expiration,
        message_id: opt_str(o, "messageId")?,
        timestamp,
        kind: opt_str(o, "type")?,
        user_id: opt_str(o, "userId")?,
        app_id: opt_str(o, "appId")?,
        cluster_id: opt_str(o, "clusterId")?,
    })
}

pub fn properties_to_js(p: &Properties) -> JsValue {
    let o = Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
    };
    let s = |v: &Option<ShortStr>| v.as_ref().map(|s| JsValue::from_str(s));
    for (k, v) in [
        ("contentType", s(&p.content_type)),
        ("contentEncoding", s(&p.content_encoding)),
        ("correlationId", s(&p.correlation_id)),
        ("replyTo", s(&p.reply_to)),
        ("expiration", s(&p.expiration)),
        ("messageId", s(&p.message_id)),
        ("type", s(&p.kind)),
        ("userId", s(&p.user_id)),
        ("appId", s(&p.app_id)),
        ("clusterId", s(&p.cluster_id)),
    ] {
        if let Some(v) = v {
            set(k, v);
        }
    }
    if let Some(h) = &p.headers {
        set("headers", table_to_js(h));
    }
    if let Some(m) = p.delivery_mode {
        set("deliveryMode", m.into());
    }
    if let Some(m) = p.priority {
        set("priority", m.into());
    }
    if let Some(t) = p.timestamp {
        set(
            "timestamp",
            Date::new(&JsValue::from_f64(t as f64 * 1000.0)).into(),
        );
    }
    o.into()
}
