//! Timestamps as Synnefo writes them (`2013-06-19T15:23:59.975572+00:00`).
//!
//! The gateway has its own reader and writer (`snf_occi::synnefo::timestamp`);
//! the simulator keeps this writer to itself so that it never depends on the
//! crate it stands in front of.

use std::time::{SystemTime, UNIX_EPOCH};

/// Formats a time as Synnefo does: UTC, microseconds and `+00:00`.
pub fn format_rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a
/// day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn synnefo_spelling_epoch_leap_days_and_year_ends() {
        let t = UNIX_EPOCH + Duration::new(1_371_655_439, 975_572_000);
        assert_eq!(format_rfc3339(t), "2013-06-19T15:23:59.975572+00:00");
        assert_eq!(
            format_rfc3339(UNIX_EPOCH),
            "1970-01-01T00:00:00.000000+00:00"
        );
        // 2000-02-29, a leap day of a century divisible by 400.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(format_rfc3339(leap), "2000-02-29T00:00:00.000000+00:00");
        let last = UNIX_EPOCH + Duration::new(1_704_067_199, 999_999_999);
        assert_eq!(format_rfc3339(last), "2023-12-31T23:59:59.999999+00:00");
        // Before the epoch: the epoch, as Synnefo's own clock never is.
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(format_rfc3339(before), "1970-01-01T00:00:00.000000+00:00");
    }
}
