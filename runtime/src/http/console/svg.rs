//! Charts drawn on the server as SVG (no script, nothing fetched): a bar chart and the
//! capacity gauge, with the gauge's colour a pure function of the count, the maximum and
//! the venue's alert levels.

use std::fmt::Write;

/// How full an area is against its maximum, by the venue's alert levels
/// (`[admission] alert_levels_pct`, by default 80 and 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Below the first level (or no maximum).
    Normal,
    /// At or past the first level.
    Amber,
    /// At or past the last level.
    Red,
}

impl Level {
    pub fn css(self) -> &'static str {
        match self {
            Level::Normal => "normal",
            Level::Amber => "amber",
            Level::Red => "red",
        }
    }
}

/// The gauge's level for `count` against `max`: red at or past the highest alert level,
/// amber at or past the lowest, normal below or when there is no maximum.
pub fn level(count: i64, max: Option<u32>, levels_pct: &[u8]) -> Level {
    let Some(max) = max.filter(|m| *m > 0) else {
        return Level::Normal;
    };
    let pct_reached = |pct: u8| count.saturating_mul(100) >= i64::from(max) * i64::from(pct);
    let (Some(low), Some(high)) = (levels_pct.iter().min(), levels_pct.iter().max()) else {
        return Level::Normal;
    };
    if pct_reached(*high) {
        Level::Red
    } else if pct_reached(*low) {
        Level::Amber
    } else {
        Level::Normal
    }
}

/// A horizontal gauge: `count` of `max` filled, coloured by `level`.
pub fn gauge(count: i64, max: Option<u32>, level: Level) -> String {
    let width = 200.0;
    let filled = match max.filter(|m| *m > 0) {
        Some(max) => (count.max(0) as f64 / f64::from(max)).min(1.0) * width,
        None => 0.0,
    };
    format!(
        r#"<svg class="gauge {}" viewBox="0 0 200 14" width="200" height="14" role="img"><rect class="track" x="0" y="0" width="200" height="14" rx="3"/><rect class="fill" x="0" y="0" width="{filled:.1}" height="14" rx="3"/></svg>"#,
        level.css()
    )
}

/// A bar chart of `points` (label, value), one bar each, labels under every `label_every`-th
/// bar and the largest value on the axis. Labels are escaped.
pub fn bars(points: &[(String, i64)], label_every: usize) -> String {
    let (w, h, pad_left, pad_bottom) = (640.0, 180.0, 48.0, 22.0);
    let top = points.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let n = points.len().max(1) as f64;
    // Bars stay narrow when there are few of them.
    let slot = ((w - pad_left) / n).min(40.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" preserveAspectRatio="xMinYMin meet">"#
    );
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{pad_left}" y1="{y}" x2="{w}" y2="{y}"/><text class="tick" x="{x}" y="12" text-anchor="end">{top}</text><text class="tick" x="{x}" y="{y}" text-anchor="end">0</text>"#,
        y = h - pad_bottom,
        x = pad_left - 4.0,
    );
    for (i, (label, value)) in points.iter().enumerate() {
        let bar_h = (*value).max(0) as f64 / top as f64 * (h - pad_bottom - 8.0);
        let x = pad_left + i as f64 * slot;
        let _ = write!(
            svg,
            r#"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{bar_h:.1}"><title>{} {value}</title></rect>"#,
            x + slot * 0.1,
            h - pad_bottom - bar_h,
            slot * 0.8,
            escape(label),
        );
        if label_every > 0 && i % label_every == 0 {
            let _ = write!(
                svg,
                r#"<text class="tick" x="{:.1}" y="{}">{}</text>"#,
                x + slot * 0.1,
                h - 6.0,
                escape(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gauge_turns_amber_and_red_at_the_alert_levels() {
        let levels = [80, 100];
        // (count, max, expected)
        let cases: &[(i64, Option<u32>, Level)] = &[
            (0, Some(100), Level::Normal),
            (79, Some(100), Level::Normal),
            (80, Some(100), Level::Amber),
            (99, Some(100), Level::Amber),
            (100, Some(100), Level::Red),
            (150, Some(100), Level::Red),
            (4, Some(5), Level::Amber),
            (3, Some(5), Level::Normal),
            (1_000_000, None, Level::Normal),
            (5, Some(0), Level::Normal),
        ];
        for (count, max, want) in cases {
            assert_eq!(level(*count, *max, &levels), *want, "{count} of {max:?}");
        }
        assert_eq!(level(95, Some(100), &[90]), Level::Red);
        assert_eq!(level(95, Some(100), &[]), Level::Normal);
    }

    #[test]
    fn a_chart_has_a_bar_per_point_and_escapes_its_labels() {
        let svg = bars(&[("<a>".into(), 3), ("b".into(), 0), ("c".into(), 6)], 1);
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 3);
        assert!(svg.contains("&lt;a&gt;") && !svg.contains("<a>"));
        assert!(
            svg.contains(">6</text>"),
            "the axis shows the top value: {svg}"
        );
        assert!(bars(&[], 1).starts_with("<svg"));
    }
}
