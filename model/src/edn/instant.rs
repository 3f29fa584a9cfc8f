//! Instants: milliseconds since the Unix epoch, as Datomic's `#inst` values.

use std::fmt;

/// A point in time with millisecond precision (`#inst` in EDN).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Instant(pub i64);

const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of `days_from_civil`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A cursor over the instant text that reads fixed-width numbers.
struct Cursor<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, width: usize) -> Result<i64, String> {
        let end = self.pos + width;
        let slice = self
            .text
            .get(self.pos..end)
            .ok_or("instant text ends early")?;
        if !slice.iter().all(u8::is_ascii_digit) {
            return Err(format!("expected {width} digits at position {}", self.pos));
        }
        self.pos = end;
        Ok(slice.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    }

    /// A year: four digits, or a sign and four to nine digits.
    fn year(&mut self) -> Result<i64, String> {
        let sign = match self.text.first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return self.digits(4),
        };
        self.pos += 1;
        let width = self.text[self.pos..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if !(4..=9).contains(&width) {
            return Err("a signed year has four to nine digits".into());
        }
        Ok(sign * self.digits(width)?)
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.text.get(self.pos) == Some(&byte);
        self.pos += usize::from(hit);
        hit
    }

    fn done(&self) -> bool {
        self.pos >= self.text.len()
    }
}

impl Instant {
    /// Parses RFC 3339 text as `#inst` accepts it: `2012`, `2012-06`,
    /// `2012-06-30`, `2012-06-30T23:59`, `…:59`, `…:59.123`, each optionally
    /// followed by `Z` or an offset `±hh:mm`. Fractions beyond milliseconds
    /// are truncated. A year outside 0000–9999 is written as ISO 8601's
    /// expanded form, a sign and four to nine digits (`-0001`, `+10000`), as
    /// [`Instant`]'s `Display` prints it; an instant beyond the range of
    /// milliseconds in an `i64` is refused.
    pub fn parse(text: &str) -> Result<Instant, String> {
        let mut c = Cursor {
            text: text.as_bytes(),
            pos: 0,
        };
        let year = c.year()?;
        let (mut month, mut day, mut hour, mut minute, mut second, mut millis) = (1, 1, 0, 0, 0, 0);
        if c.eat(b'-') {
            month = c.digits(2)?;
            if c.eat(b'-') {
                day = c.digits(2)?;
                if c.eat(b'T') {
                    hour = c.digits(2)?;
                    if !c.eat(b':') {
                        return Err("expected ':' after the hour".into());
                    }
                    minute = c.digits(2)?;
                    if c.eat(b':') {
                        second = c.digits(2)?;
                        if c.eat(b'.') {
                            millis = fraction_millis(&mut c)?;
                        }
                    }
                }
            }
        }
        let offset_minutes = offset(&mut c)?;
        if !c.done() {
            return Err(format!("unexpected text at position {}", c.pos));
        }
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return Err(format!("no such date {year:04}-{month:02}-{day:02}"));
        }
        if hour > 23 || minute > 59 || second > 60 {
            return Err(format!("no such time {hour:02}:{minute:02}:{second:02}"));
        }
        let days = i128::from(days_from_civil(year, month, day));
        let seconds =
            (i128::from(hour) * 60 + i128::from(minute - offset_minutes)) * 60 + i128::from(second);
        let ms = days * i128::from(MS_PER_DAY) + seconds * 1000 + i128::from(millis);
        i64::try_from(ms)
            .map(Instant)
            .map_err(|_| format!("{text} is out of the range of instants"))
    }

    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub fn millis(self) -> i64 {
        self.0
    }
}

/// Reads the fraction after the decimal point, keeping milliseconds.
fn fraction_millis(c: &mut Cursor<'_>) -> Result<i64, String> {
    let start = c.pos;
    let mut millis = 0;
    while c.text.get(c.pos).is_some_and(u8::is_ascii_digit) {
        if c.pos - start < 3 {
            millis = millis * 10 + i64::from(c.text[c.pos] - b'0');
        }
        c.pos += 1;
    }
    let read = c.pos - start;
    if read == 0 {
        return Err("expected digits after '.'".into());
    }
    Ok(millis * 10_i64.pow(3 - read.min(3) as u32))
}

/// Reads `Z`, `±hh:mm` or nothing (UTC), as minutes east of UTC.
fn offset(c: &mut Cursor<'_>) -> Result<i64, String> {
    if c.eat(b'Z') || c.done() {
        return Ok(0);
    }
    let sign = if c.eat(b'+') {
        1
    } else if c.eat(b'-') {
        -1
    } else {
        return Err(format!("expected an offset at position {}", c.pos));
    };
    let hours = c.digits(2)?;
    if !c.eat(b':') {
        return Err("expected ':' in the offset".into());
    }
    let minutes = c.digits(2)?;
    if hours > 23 || minutes > 59 {
        return Err(format!("no such offset {hours:02}:{minutes:02}"));
    }
    Ok(sign * (hours * 60 + minutes))
}

impl fmt::Display for Instant {
    /// Prints `2013-02-20T16:27:11.788-00:00` (the form Clojure prints).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(MS_PER_DAY);
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let (h, m) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60);
        let (s, ms) = (ms_of_day / 1000 % 60, ms_of_day % 1000);
        match year {
            0..=9999 => write!(f, "{year:04}")?,
            i64::MIN..=-1 => write!(f, "-{:04}", -year)?,
            _ => write!(f, "+{year:04}")?,
        }
        write!(f, "-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}-00:00")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_partial_and_full_forms() {
        assert_eq!(Instant::parse("1970").unwrap(), Instant(0));
        assert_eq!(Instant::parse("2012").unwrap().0, 1_325_376_000_000);
        let full = Instant::parse("2013-02-20T16:27:11.788-00:00").unwrap();
        assert_eq!(full.0, 1_361_377_631_788);
        assert_eq!(full.to_string(), "2013-02-20T16:27:11.788-00:00");
        assert_eq!(
            Instant::parse("2013-02-20T17:27:11.788+01:00").unwrap(),
            full
        );
        assert_eq!(Instant::parse("2013-02-20T16:27:11.7889Z").unwrap(), full);
        assert_eq!(Instant::parse("1969-12-31T23:59:59.999Z").unwrap().0, -1);
        assert_eq!(Instant(-1).to_string(), "1969-12-31T23:59:59.999-00:00");
    }

    #[test]
    fn rejects_impossible_dates() {
        assert!(
            Instant::parse("2013-02-29")
                .unwrap_err()
                .contains("no such date")
        );
        assert!(Instant::parse("2012-13").is_err());
        assert!(Instant::parse("2012-01-01T25:00").is_err());
        assert!(Instant::parse("12").is_err());
        assert!(Instant::parse("2012-01-01T10").is_err());
        assert!(Instant::parse("2012x").is_err());
    }

    /// Found by fuzzing (issue 25): `#inst "0000-01-01T00:00+01:00"` and
    /// `#inst "9999-12-31T23:59-01:00"` read as instants of the years -1 and
    /// 10000, which printed as `-001-…` and `10000-…`, text the reader
    /// refused; so did every instant beyond those years that a segment or a
    /// clock can hold. They now print in ISO 8601's expanded form, which
    /// reads back, across the whole range of `i64` milliseconds.
    #[test]
    fn years_beyond_four_digits_print_and_read_back() {
        let before_year_0 = Instant::parse("0000-01-01T00:00+01:00").unwrap();
        assert_eq!(before_year_0.to_string(), "-0001-12-31T23:00:00.000-00:00");
        let after_9999 = Instant::parse("9999-12-31T23:59-01:00").unwrap();
        assert_eq!(after_9999.to_string(), "+10000-01-01T00:59:00.000-00:00");
        for ms in [
            i64::MIN,
            i64::MIN + 1,
            -62_167_219_200_001,
            -62_167_219_200_000,
            253_402_300_800_000,
            280_959_580_593_150,
            i64::MAX,
        ] {
            let i = Instant(ms);
            assert_eq!(Instant::parse(&i.to_string()), Ok(i), "{i}");
        }
        assert!(Instant::parse("+292278994-08-17T07:12:55.808Z").is_err());
        assert!(Instant::parse("-292275055-05-16T16:47:04.191Z").is_err());
        assert!(Instant::parse("+12").is_err());
        assert!(Instant::parse("+1234567890").is_err());
        assert!(Instant::parse("2012-01-01T10:00+24:00").is_err());
        assert!(Instant::parse("2012-01-01T10:00+01:60").is_err());
    }

    #[test]
    fn round_trips_across_centuries() {
        for ms in [
            -62_135_596_800_000_i64,
            -1,
            0,
            951_782_400_000,
            4_102_444_800_000,
        ] {
            let i = Instant(ms);
            assert_eq!(Instant::parse(&i.to_string()).unwrap(), i);
        }
    }
}
