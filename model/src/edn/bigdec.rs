//! Arbitrary-precision decimals (`1.50M`): an unscaled integer and a scale,
//! like Java's `BigDecimal`, so `1.5M` and `1.50M` stay distinct values.

use num_bigint::BigInt;
use std::cmp::Ordering;
use std::fmt;

/// A decimal `unscaled × 10^-scale`.
///
/// Ordered by numeric value; equal values with different scales order by
/// scale, so the order is total and agrees with equality.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct BigDec {
    unscaled: BigInt,
    scale: i32,
}

impl BigDec {
    /// `unscaled × 10^-scale`.
    pub fn new(unscaled: BigInt, scale: i32) -> Self {
        BigDec { unscaled, scale }
    }

    /// The digits without the decimal point.
    pub fn unscaled(&self) -> &BigInt {
        &self.unscaled
    }

    /// How many digits follow the decimal point (negative: trailing zeros).
    pub fn scale(&self) -> i32 {
        self.scale
    }

    /// Parses `-12.50`, `1e3`, `1.5E-2` (without the `M` suffix).
    pub fn parse(text: &str) -> Result<BigDec, String> {
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(i) => {
                let exp: i32 = text[i + 1..]
                    .parse()
                    .map_err(|_| format!("bad exponent in {text}"))?;
                (&text[..i], exp)
            }
            None => (text, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = format!("{int_part}{frac_part}");
        let unscaled: BigInt = digits
            .parse()
            .map_err(|_| format!("bad decimal number {text}"))?;
        let frac_len =
            i32::try_from(frac_part.len()).map_err(|_| "decimal too long".to_string())?;
        let scale = frac_len
            .checked_sub(exponent)
            .ok_or_else(|| format!("exponent out of range in {text}"))?;
        Ok(BigDec { unscaled, scale })
    }

    /// The unscaled value brought to a larger scale.
    fn rescaled(&self, scale: i32) -> BigInt {
        let extra = u32::try_from(i64::from(scale) - i64::from(self.scale)).unwrap_or(0);
        &self.unscaled * BigInt::from(10).pow(extra)
    }

    /// The number of decimal digits of the unscaled value (1 for zero).
    fn precision(&self) -> i64 {
        self.unscaled.magnitude().to_string().len() as i64
    }

    /// The power of ten of the leading digit (`precision - 1 - scale`), as
    /// Java's `BigDecimal` calls it: 2 for `123.4`, -3 for `0.00123`.
    fn adjusted_exponent(&self) -> i64 {
        self.precision() - 1 - i64::from(self.scale)
    }

    /// Numeric comparison. Magnitudes are compared by their leading
    /// digit's power of ten first, so that values of far apart scales
    /// (`1e-2000000000M` and `1M`) never bring either to the other's scale:
    /// that would take a number of 2 billion digits. Only values with the
    /// same leading power, whose scales differ by at most their digit
    /// counts, are rescaled.
    fn cmp_numeric(&self, other: &Self) -> Ordering {
        use num_bigint::Sign;
        let rank = |d: &BigDec| match d.unscaled.sign() {
            Sign::Minus => 0,
            Sign::NoSign => 1,
            Sign::Plus => 2,
        };
        let by_sign = rank(self).cmp(&rank(other));
        if by_sign != Ordering::Equal || self.unscaled.sign() == Sign::NoSign {
            return by_sign;
        }
        let magnitude = self
            .adjusted_exponent()
            .cmp(&other.adjusted_exponent())
            .then_with(|| {
                let scale = self.scale.max(other.scale);
                self.rescaled(scale)
                    .magnitude()
                    .cmp(other.rescaled(scale).magnitude())
            });
        match self.unscaled.sign() {
            Sign::Minus => magnitude.reverse(),
            _ => magnitude,
        }
    }
}

impl Ord for BigDec {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_numeric(other).then(self.scale.cmp(&other.scale))
    }
}

impl PartialOrd for BigDec {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for BigDec {
    /// Plain notation for non-negative scales (`48.00`) down to a leading
    /// digit at 10^-6 (`0.00000123`), `1E+3` for negative scales, and
    /// scientific notation below (`1.23E-7`, as Java's `BigDecimal`), so
    /// that a value of a huge scale never prints as a huge run of zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scale < 0 {
            return write!(f, "{}E+{}", self.unscaled, -i64::from(self.scale));
        }
        let negative = self.unscaled.sign() == num_bigint::Sign::Minus;
        let digits = self.unscaled.magnitude().to_string();
        let scale = self.scale as usize;
        let sign = if negative { "-" } else { "" };
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let adjusted = self.adjusted_exponent();
        if adjusted < -6 {
            let (lead, rest) = digits.split_at(1);
            let point = if rest.is_empty() { "" } else { "." };
            return write!(f, "{sign}{lead}{point}{rest}E{adjusted}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int_part, frac_part) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int_part}.{frac_part}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for (text, printed) in [
            ("48.00", "48.00"),
            ("-0.05", "-0.05"),
            ("7", "7"),
            ("1e3", "1E+3"),
            ("1.5E-2", "0.015"),
            ("-12.5", "-12.5"),
        ] {
            assert_eq!(BigDec::parse(text).unwrap().to_string(), printed, "{text}");
        }
        for (text, printed) in [
            ("0.000001", "0.000001"),
            ("0.0000001", "1E-7"),
            ("0.00000123", "0.00000123"),
            ("0.000000123", "1.23E-7"),
            ("-0.000000120", "-1.20E-7"),
            ("0e-9", "0E-9"),
            ("1e-999999999", "1E-999999999"),
        ] {
            let value = BigDec::parse(text).unwrap();
            assert_eq!(value.to_string(), printed, "{text}");
            assert_eq!(
                BigDec::parse(printed).unwrap(),
                value,
                "{printed} reads back"
            );
        }
        assert!(BigDec::parse("1.x").is_err());
        assert!(BigDec::parse("1e").is_err());
    }

    #[test]
    fn orders_numerically_then_by_scale() {
        let p = |t| BigDec::parse(t).unwrap();
        assert!(p("1.5") < p("1.50"));
        assert!(p("1.50") < p("2"));
        assert!(p("-3") < p("0.001"));
        assert!(p("1e3") > p("999.99"));
        assert_ne!(p("1.5"), p("1.50"));
        assert!(p("-2") < p("-1.5"));
        assert!(p("-0.001") < p("0"));
        assert!(p("0") < p("0.0"));
        assert!(p("-1e3") < p("-999.99"));
        assert_eq!(p("0").cmp(&p("-0")), Ordering::Equal);
    }

    /// Found by fuzzing (issue 25): `#{1M 1e-999999999M}` compared the two
    /// by bringing `1` to scale 999999999 (a billion-digit number), and
    /// printing `1e-999999999M` wrote a billion zeros; the reader hung or
    /// ran out of memory. Both are now as quick as for small scales.
    #[test]
    fn far_apart_scales_compare_and_print_quickly() {
        let p = |t| BigDec::parse(t).unwrap();
        let tiny = p("1e-999999999");
        let huge = p("1e999999999");
        assert!(tiny < p("1"));
        assert!(p("-1") < tiny.clone());
        assert!(tiny > p("0"));
        assert!(huge > p("1"));
        assert!(p("-1e999999999") < p("-1"));
        assert!(p("1e-2147483647") < p("1e-2147483646"));
        assert!(p("12e-5") > p("1.1e-4"));
        assert_eq!(tiny.to_string(), "1E-999999999");
        assert_eq!(huge.to_string(), "1E+999999999");
        let mut set = std::collections::BTreeSet::new();
        for t in ["1", "1e-999999999", "1e999999999", "-1e-999999999", "0.5"] {
            set.insert(p(t));
        }
        assert_eq!(set.len(), 5);
    }
}
