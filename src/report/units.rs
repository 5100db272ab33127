//! Number formatting with units, so every printed figure says what it is.

pub use crate::units::thousands;
use crate::units::GIB;

/// `1.83T`, `279.6B`, `55.5M` (SI, for counts).
pub fn count(x: f64) -> String {
    let a = x.abs();
    if a >= 1e12 {
        format!("{:.3}T", x / 1e12)
    } else if a >= 1e9 {
        format!("{:.1}B", x / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}K", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// `$57.9M`, `$1.23B`, `$950K`.
pub fn usd(x: f64) -> String {
    let a = x.abs();
    if a >= 1e9 {
        format!("${:.2}B", x / 1e9)
    } else if a >= 1e6 {
        format!("${:.2}M", x / 1e6)
    } else if a >= 1e3 {
        format!("${:.1}K", x / 1e3)
    } else {
        format!("${x:.2}")
    }
}

/// Seconds in the most readable unit: `12.3 ms`, `4.56 s`.
pub fn secs(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0} s")
    } else if x >= 1.0 {
        format!("{x:.2} s")
    } else if x >= 1e-3 {
        format!("{:.2} ms", x * 1e3)
    } else {
        format!("{:.1} us", x * 1e6)
    }
}

/// A wall-clock span from seconds, in the unit a planner reads it in: `1.6 hours`,
/// `3.2 days`, or [`secs`] under an hour.
pub fn span(x: f64) -> String {
    if x >= 2.0 * 86_400.0 {
        format!("{:.1} days", x / 86_400.0)
    } else if x >= 3_600.0 {
        format!("{:.1} hours", x / 3_600.0)
    } else if x >= 100.0 {
        format!("{:.0} min", x / 60.0)
    } else {
        secs(x)
    }
}

/// Bytes as `71.3 GiB`.
pub fn gib(x: f64) -> String {
    format!("{} GiB", gib_value(x))
}

/// Bytes as `71.3` (GiB, one decimal), for a column whose header names the unit.
pub fn gib_value(x: f64) -> String {
    format!("{:.1}", x / GIB)
}

/// `2.17e25`.
pub fn sci(x: f64) -> String {
    format!("{x:.3e}")
}

/// `34.2%`.
pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(25000), "25,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(usd(57_912_345.0), "$57.91M");
        assert_eq!(secs(0.0123), "12.30 ms");
        assert_eq!(count(1.8333e12), "1.833T");
        assert_eq!(pct(0.3412), "34.1%");
        // 25.8 ms x 217,505 steps (the seed's NIC contention) = 5,603 s.
        assert_eq!(span(0.025_76 * 217_505.0), "1.6 hours");
        assert_eq!(span(600.0), "10 min");
        assert_eq!(span(3.0 * 86_400.0), "3.0 days");
        assert_eq!(span(12.0), "12.00 s");
    }
}
