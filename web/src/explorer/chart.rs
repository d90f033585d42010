//! A live line chart of a topic's numbers, drawn as inline SVG (no chart library, nothing fetched).
//! [`polyline`] is the pure part: samples to the points of an SVG `<polyline>` in a fixed view box.

use leptos::prelude::*;

/// The chart's view box: the SVG scales it to the width it is given.
pub const WIDTH: f64 = 300.0;
/// The view box's height.
pub const HEIGHT: f64 = 100.0;
/// Room kept above and below the line so it is not cut by the border.
const MARGIN: f64 = 4.0;

/// One sample: when (milliseconds since the Unix epoch) and the value.
pub type Sample = (u64, f64);

/// The `points` attribute of a polyline through `samples` (oldest first): time runs left to right over the
/// samples' span, values bottom to top between their minimum and maximum. Samples all at one instant are spread
/// evenly; a constant series is a flat line in the middle. Empty for no samples.
pub fn polyline(samples: &[Sample]) -> String {
    let Some((first, last)) = samples.first().zip(samples.last()) else {
        return String::new();
    };
    let span = last.0.saturating_sub(first.0) as f64;
    let (low, high) = samples
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), (_, value)| {
            (low.min(*value), high.max(*value))
        });
    let steps = (samples.len().max(2) - 1) as f64;
    let points: Vec<String> = samples
        .iter()
        .enumerate()
        .map(|(i, (at, value))| {
            let x = if span > 0.0 {
                at.saturating_sub(first.0) as f64 / span * WIDTH
            } else {
                i as f64 / steps * WIDTH
            };
            let y = if high > low {
                MARGIN + (high - value) / (high - low) * (HEIGHT - 2.0 * MARGIN)
            } else {
                HEIGHT / 2.0
            };
            format!("{x:.1},{y:.1}")
        })
        .collect();
    points.join(" ")
}

/// A line chart of `samples` (oldest first) with its lowest, highest and last value written out.
#[component]
pub fn LineChart(
    /// The samples to draw.
    #[prop(into)]
    samples: Signal<Vec<Sample>>,
    /// What the values are (for the chart's accessible name).
    #[prop(into)]
    label: Signal<String>,
) -> impl IntoView {
    let summary = move || {
        samples.with(|samples| {
            let (low, high) = samples
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), (_, value)| {
                    (low.min(*value), high.max(*value))
                });
            match samples.last() {
                Some((_, last)) => format!("last {last}, lowest {low}, highest {high}, {} values", samples.len()),
                None => "no numeric values yet".to_owned(),
            }
        })
    };
    view! {
        <figure class="chart">
            <svg
                class="chart-svg"
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                preserveAspectRatio="none"
                role="img"
                aria-label=move || format!("Line chart of {}", label.get())
            >
                <polyline
                    class="chart-line"
                    fill="none"
                    stroke="currentColor"
                    stroke-width="2"
                    vector-effect="non-scaling-stroke"
                    points=move || samples.with(|samples| polyline(samples))
                />
            </svg>
            <figcaption class="chart-summary">{summary}</figcaption>
        </figure>
    }
}
