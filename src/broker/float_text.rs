//! `f64` written exactly as `format!("{v:?}")` and `format!("{v}")` write it,
//! for the few error texts that quote a float. Only error paths print floats,
//! and core's formatter (Grisu with a Dragon fallback, shortest and exact
//! modes) was 17 KiB of the wasm; this is the shortest mode alone, as Steele &
//! White's / Burger & Dybvig's digit generation over a small big integer:
//! slow, small, and exact.

use std::cmp::Ordering;

/// An unsigned big integer, 32-bit limbs, least significant first. Its
/// methods stay out of line: this runs only for error texts, so size counts.
#[derive(Clone)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        Big(vec![v as u32, (v >> 32) as u32])
    }

    #[inline(never)]
    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let x = u64::from(*limb) * u64::from(m) + carry;
            *limb = x as u32;
            carry = x >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    #[inline(never)]
    fn mul_pow2(&mut self, n: u32) {
        for _ in 0..n / 31 {
            self.mul_small(1 << 31);
        }
        self.mul_small(1 << (n % 31));
    }

    #[inline(never)]
    fn add(&self, other: &Big) -> Big {
        let len = self.0.len().max(other.0.len());
        let mut out = Vec::with_capacity(len + 1);
        let mut carry = 0u64;
        for i in 0..len {
            let a = u64::from(self.0.get(i).copied().unwrap_or(0));
            let b = u64::from(other.0.get(i).copied().unwrap_or(0));
            let x = a + b + carry;
            out.push(x as u32);
            carry = x >> 32;
        }
        out.push(carry as u32);
        Big(out)
    }

    /// `self -= other`; the caller knows `self >= other`.
    #[inline(never)]
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let b = i64::from(other.0.get(i).copied().unwrap_or(0));
            let x = i64::from(*limb) - b - borrow;
            *limb = x.rem_euclid(1 << 32) as u32;
            borrow = i64::from(x < 0);
        }
    }

    #[inline(never)]
    fn cmp(&self, other: &Big) -> Ordering {
        let len = self.0.len().max(other.0.len());
        for i in (0..len).rev() {
            let a = self.0.get(i).copied().unwrap_or(0);
            let b = other.0.get(i).copied().unwrap_or(0);
            if a != b {
                return a.cmp(&b);
            }
        }
        Ordering::Equal
    }
}

/// The shortest digits that read back as `mant * 2^exp` (mant > 0) and the
/// decimal exponent `k`: the value is `0.d1d2... * 10^k`. `minus`/`plus` are
/// the distances to the rounding boundaries in the same units; `inclusive`:
/// the boundaries themselves read back as the value (even mantissa).
#[inline(never)]
fn shortest(mant: u64, minus: u64, plus: u64, exp: i32, inclusive: bool) -> (Vec<u8>, i32) {
    let mut mant = Big::from_u64(mant);
    let mut minus = Big::from_u64(minus);
    let mut plus = Big::from_u64(plus);
    let mut scale = Big::from_u64(1);
    if exp < 0 {
        scale.mul_pow2(exp.unsigned_abs());
    } else {
        mant.mul_pow2(exp as u32);
        minus.mul_pow2(exp as u32);
        plus.mul_pow2(exp as u32);
    }
    // The least k with the upper boundary below 10^k (or at it, when the
    // boundary is not itself a reading of the value).
    let high_fits = |high: &Big, scale: &Big| match high.cmp(scale) {
        Ordering::Less => true,
        Ordering::Equal => !inclusive,
        Ordering::Greater => false,
    };
    let mut k = 0i32;
    while !high_fits(&mant.add(&plus), &scale) {
        scale.mul_small(10);
        k += 1;
    }
    loop {
        let mut high = mant.add(&plus);
        high.mul_small(10);
        if !high_fits(&high, &scale) {
            break;
        }
        mant.mul_small(10);
        minus.mul_small(10);
        plus.mul_small(10);
        k -= 1;
    }

    let mut digits = Vec::new();
    let (down, up) = loop {
        mant.mul_small(10);
        minus.mul_small(10);
        plus.mul_small(10);
        let mut d = 0u8;
        while mant.cmp(&scale) != Ordering::Less {
            mant.sub(&scale);
            d += 1;
        }
        digits.push(b'0' + d);
        let down = match mant.cmp(&minus) {
            Ordering::Less => true,
            Ordering::Equal => inclusive,
            Ordering::Greater => false,
        };
        let up = match mant.add(&plus).cmp(&scale) {
            Ordering::Greater => true,
            Ordering::Equal => inclusive,
            Ordering::Less => false,
        };
        if down || up {
            break (down, up);
        }
    };
    // Between two readings, the nearer one; a tie rounds up.
    let mut twice = mant.clone();
    twice.mul_small(2);
    if up && (!down || twice.cmp(&scale) != Ordering::Less) {
        match digits.iter().rposition(|&d| d != b'9') {
            Some(i) => {
                if let Some(d) = digits.get_mut(i) {
                    *d += 1;
                }
                for d in digits.iter_mut().skip(i + 1) {
                    *d = b'0';
                }
            }
            None => {
                // All nines: 10^k with its digits kept as long.
                digits.fill(b'0');
                if let Some(first) = digits.first_mut() {
                    *first = b'1';
                }
                digits.push(b'0');
                k += 1;
            }
        }
    }
    (digits, k)
}

/// Appends `v` as `{:?}` prints it: `1.5`, `-0.0`, `1e16`, `1.5e-5`, `NaN`, `inf`.
pub(crate) fn write_f64_debug(out: &mut String, v: f64) {
    write_f64(out, v, true);
}

/// Appends `v` as `{}` prints it: `1.5`, `-0`, `100000000000000000000`, `0.00001`.
// Used by the wasm layer only (and the tests here).
#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
pub(crate) fn write_f64_display(out: &mut String, v: f64) {
    write_f64(out, v, false);
}

/// `debug`: at least one fractional digit, and exponents outside 1e-4..1e16.
fn write_f64(out: &mut String, v: f64, debug: bool) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_sign_negative() {
        out.push('-');
    }
    let abs = v.abs();
    if abs.is_infinite() {
        out.push_str("inf");
        return;
    }
    if abs == 0.0 {
        out.push_str(if debug { "0.0" } else { "0" });
        return;
    }
    let bits = abs.to_bits();
    let biased = (bits >> 52) as i32;
    let frac = bits & ((1 << 52) - 1);
    let (digits, k) = if biased == 0 {
        // Subnormal: neighbours a whole unit away on both sides.
        shortest(frac << 1, 1, 1, -1075, frac & 1 == 0)
    } else {
        let mant = frac | 1 << 52;
        let exp = biased - 1075;
        if frac == 0 {
            // A power of two: the neighbour below is half as far away.
            shortest(mant << 2, 1, 2, exp - 2, true)
        } else {
            shortest(mant << 1, 1, 1, exp - 1, mant & 1 == 0)
        }
    };
    if !debug || (1e-4..1e16).contains(&abs) {
        let len = digits.len() as i32;
        if k <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat('0').take(k.unsigned_abs() as usize));
            out.push_str(&text_of(&digits));
        } else if k < len {
            let (int, frac) = digits.split_at(k as usize);
            out.push_str(&text_of(int));
            out.push('.');
            out.push_str(&text_of(frac));
        } else {
            out.push_str(&text_of(&digits));
            out.extend(std::iter::repeat('0').take((k - len) as usize));
            if debug {
                out.push_str(".0");
            }
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(&text_of(first));
        if !rest.is_empty() {
            out.push('.');
            out.push_str(&text_of(rest));
        }
        out.push('e');
        push_int(out, k - 1);
    }
}

/// A decimal exponent without `core::fmt`.
fn push_int(out: &mut String, n: i32) {
    if n < 0 {
        out.push('-');
    }
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    let mut n = n.unsigned_abs();
    loop {
        i -= 1;
        if let Some(b) = buf.get_mut(i) {
            *b = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.push_str(&text_of(buf.get(i..).unwrap_or_default()));
}

/// ASCII digits as text.
fn text_of(d: &[u8]) -> String {
    String::from_utf8_lossy(d).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn debug(v: f64) -> String {
        let mut s = String::new();
        write_f64_debug(&mut s, v);
        s
    }

    fn display(v: f64) -> String {
        let mut s = String::new();
        write_f64_display(&mut s, v);
        s
    }

    #[test]
    fn matches_core_on_edges() {
        let cases = [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            0.3,
            1e-4,
            9.999999999999999e-5,
            1e16,
            9999999999999998.0,
            1e15,
            123456789.125,
            5e-324,
            2.2250738585072014e-308,
            2.225073858507201e-308,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            2f64.powi(60),
            2f64.powi(-60),
            f64::from(1.1f32),
            f64::from(f32::MAX),
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            1e23,
            8.41e21,
            5e-310,
        ];
        for v in cases {
            assert_eq!(debug(v), format!("{v:?}"), "{:x}", v.to_bits());
            assert_eq!(display(v), format!("{v}"), "{:x}", v.to_bits());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn matches_core_on_any_bits(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            prop_assert_eq!(debug(v), format!("{v:?}"));
            prop_assert_eq!(display(v), format!("{v}"));
        }

        #[test]
        fn matches_core_on_floats_and_short_decimals(f in any::<f32>(), n in any::<i32>(), e in -20i32..20) {
            let v = f64::from(f);
            prop_assert_eq!(debug(v), format!("{v:?}"));
            let d = f64::from(n) * 10f64.powi(e);
            prop_assert_eq!(debug(d), format!("{d:?}"));
            prop_assert_eq!(display(d), format!("{d}"));
        }
    }
}
