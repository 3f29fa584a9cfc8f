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
        let extra = u32::try_from(scale - self.scale).unwrap_or(0);
        &self.unscaled * BigInt::from(10).pow(extra)
    }
}

impl Ord for BigDec {
    fn cmp(&self, other: &Self) -> Ordering {
        let scale = self.scale.max(other.scale);
        self.rescaled(scale)
            .cmp(&other.rescaled(scale))
            .then(self.scale.cmp(&other.scale))
    }
}

impl PartialOrd for BigDec {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for BigDec {
    /// Plain notation for non-negative scales (`48.00`), `1E+3` otherwise.
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
    }
}
