//! Server-rendered SVG charts: stacked bars of requests per time slot, split by outcome.
//! No JavaScript, no external assets; colours come from CSS classes (the dashboard's CSP
//! forbids inline styles), and every bar carries a `<title>` for hover and screen readers.

use std::fmt::Write;

/// Requests in one time slot, by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Slot {
    /// Axis label (`14:00`, `Apr 01`); empty for no label.
    pub label: String,
    /// Full description of the slot (`2026-04-01 14:00 UTC`).
    pub title: String,
    /// 2xx responses.
    pub ok: u64,
    /// 4xx responses other than 429.
    pub client_error: u64,
    /// 429 responses.
    pub limited: u64,
    /// 5xx responses.
    pub server_error: u64,
}

impl Slot {
    /// All requests in the slot.
    pub fn total(&self) -> u64 {
        self.ok + self.client_error + self.limited + self.server_error
    }
}

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// The top of the y axis for a tallest bar of `n`: four gridline steps of a round size
/// (1, 2, 2.5 or 5 × 10ⁿ), so every gridline has a whole, readable value.
pub fn nice_max(n: u64) -> u64 {
    let mut scale = 1u64;
    loop {
        for step in [scale, scale * 2, scale * 5 / 2, scale * 5] {
            if step.saturating_mul(4) >= n {
                return step.saturating_mul(4);
            }
        }
        scale = scale.saturating_mul(10);
    }
}

/// Escapes text for SVG/XML content and attributes.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `1,234`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A stacked bar chart of `slots`; `id` makes element ids unique on the page and `summary`
/// is the accessible name.
pub fn stacked_bars(id: &str, summary: &str, slots: &[Slot]) -> String {
    let id = esc(id);
    let mut svg = String::with_capacity(4096 + slots.len() * 400);
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title"><title id="{id}-title">{}</title>"#,
        esc(summary)
    );
    let max = nice_max(slots.iter().map(Slot::total).max().unwrap_or(0));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let y_of = |v: u64| TOP + plot_h - (v as f64 / max as f64) * plot_h;
    for i in 0..=4u64 {
        let v = max / 4 * i;
        let y = y_of(v);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            thousands(v)
        );
    }
    let n = slots.len().max(1) as f64;
    let slot_w = plot_w / n;
    let bar_w = (slot_w * 0.72).max(1.0);
    let every = slots.len().div_ceil(8).max(1);
    for (i, s) in slots.iter().enumerate() {
        let x = LEFT + slot_w * i as f64 + (slot_w - bar_w) / 2.0;
        let _ = write!(
            svg,
            "<g><title>{}: {} requests ({} 2xx, {} 4xx, {} 429, {} 5xx)</title>",
            esc(&s.title),
            thousands(s.total()),
            thousands(s.ok),
            thousands(s.client_error),
            thousands(s.limited),
            thousands(s.server_error)
        );
        // A transparent full-height target, so thin bars are easy to hover.
        let _ = write!(
            svg,
            r#"<rect class="hit" x="{:.1}" y="{TOP}" width="{slot_w:.1}" height="{plot_h:.1}"/>"#,
            LEFT + slot_w * i as f64
        );
        let mut base = 0u64;
        for (value, class) in [
            (s.ok, "c-ok"),
            (s.client_error, "c-4xx"),
            (s.limited, "c-429"),
            (s.server_error, "c-5xx"),
        ] {
            if value == 0 {
                continue;
            }
            let top = y_of(base + value);
            let h = y_of(base) - top;
            let _ = write!(
                svg,
                r#"<rect class="{class}" x="{x:.1}" y="{top:.1}" width="{bar_w:.1}" height="{:.1}"/>"#,
                h.max(0.5)
            );
            base += value;
        }
        svg.push_str("</g>");
        if i % every == 0 && !s.label.is_empty() {
            let _ = write!(
                svg,
                r#"<text class="axis" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x + bar_w / 2.0,
                HEIGHT - 6.0,
                esc(&s.label)
            );
        }
    }
    let _ = write!(
        svg,
        r#"<line class="baseline" x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}"/></svg>"#,
        WIDTH - RIGHT,
        TOP + plot_h,
        TOP + plot_h
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_and_numbers() {
        assert_eq!(nice_max(0), 4);
        assert_eq!(nice_max(4), 4);
        assert_eq!(nice_max(7), 8);
        assert_eq!(nice_max(11), 20);
        assert_eq!(nice_max(90), 100);
        assert_eq!(nice_max(499), 800);
        assert_eq!(nice_max(801), 1000);
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(esc("<a&\"b'>"), "&lt;a&amp;&quot;b&#39;&gt;");
    }

    #[test]
    fn bars_stack_in_order_and_escape_text() {
        let slots = vec![
            Slot {
                label: "00:00".into(),
                title: "<script>".into(),
                ok: 4,
                client_error: 2,
                limited: 2,
                server_error: 0,
            },
            Slot::default(),
        ];
        let svg = stacked_bars("k1", "Requests & more", &slots);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Requests &amp; more"));
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"));
        let ok = svg.find("c-ok").unwrap_or(usize::MAX);
        let c4 = svg.find("c-4xx").unwrap_or(usize::MAX);
        let c429 = svg.find("c-429").unwrap_or(usize::MAX);
        assert!(ok < c4 && c4 < c429, "stack order");
        assert!(!svg.contains("c-5xx"), "empty series draw nothing");
        // Scale 0..8: 8 requests fill the plot (from y=10 down).
        assert!(svg.contains(r#"y="10.0""#), "{svg}");
    }
}
