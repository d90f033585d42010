//! The broker's figures over time: [`Trend`] keeps a bounded ring of [`Sample`]s (one per `$SYS` update), and
//! [`TrendChart`] draws some of their series as inline SVG with a value axis and local-time labels. No chart
//! library: a few lines and labels cost less wasm than any. [`Plot`] is the pure geometry, tested on its own.

use std::collections::VecDeque;

use leptos::prelude::*;

use super::admin::local_clock;

/// Samples kept: three hours at the broker's default `$SYS` interval of 10 s, a minute at 1 s.
pub const CAPACITY: usize = 1080;

/// The figures at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// When the figures arrived, in Unix milliseconds.
    pub at_ms: f64,
    /// Application messages received per second.
    pub rate_in: Option<f64>,
    /// Application messages sent per second.
    pub rate_out: Option<f64>,
    /// Clients connected.
    pub clients: Option<f64>,
}

/// The last [`CAPACITY`] (or fewer) samples, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    samples: VecDeque<Sample>,
    capacity: usize,
}

impl Default for Trend {
    fn default() -> Self {
        Self::new(CAPACITY)
    }
}

impl Trend {
    /// An empty trend of at most `capacity` samples (at least 2, so a line can be drawn).
    pub fn new(capacity: usize) -> Self {
        Self {
            samples: VecDeque::new(),
            capacity: capacity.max(2),
        }
    }

    /// Adds `sample`, dropping the oldest when full. A sample not later than the last one replaces it (the
    /// clock went back, or two batches of one update): time only runs forward on the chart.
    pub fn push(&mut self, sample: Sample) {
        if let Some(last) = self.samples.back_mut()
            && sample.at_ms <= last.at_ms
        {
            *last = Sample {
                at_ms: last.at_ms,
                ..sample
            };
            return;
        }
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> impl DoubleEndedIterator<Item = &Sample> + ExactSizeIterator {
        self.samples.iter()
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// The smallest of 1, 2, 5 × 10ⁿ at or above `value` (at least 1): the top of a value axis.
pub fn nice_ceiling(value: f64) -> f64 {
    if !value.is_finite() || value <= 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * magnitude)
        .find(|top| *top >= value * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// A value axis label: whole numbers plainly, small ones with a decimal.
pub fn axis_label(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The chart's view box, in SVG units (it scales to the width it is given).
pub const WIDTH: f64 = 320.0;
/// The view box's height.
pub const HEIGHT: f64 = 120.0;
/// Room on the left for the value labels.
const LEFT: f64 = 34.0;
/// Room on the right, so the last time label fits.
const RIGHT: f64 = 22.0;
/// Room above the top line.
const TOP: f64 = 8.0;
/// Room below the time axis for its labels.
const BOTTOM: f64 = 18.0;

/// Where samples go in the view box: time from the first to the last sample left to right, values from 0 to
/// `top` bottom to top.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plot {
    /// The first sample's time (ms).
    pub start: f64,
    /// The last sample's time (ms).
    pub end: f64,
    /// The value at the top of the axis.
    pub top: f64,
}

impl Plot {
    /// The plot of `series` over `trend`: the axis reaches the largest value any of them took.
    pub fn of(trend: &Trend, series: &[Series]) -> Option<Self> {
        let start = trend.samples().next()?.at_ms;
        let end = trend.samples().next_back()?.at_ms;
        let highest = trend
            .samples()
            .flat_map(|sample| series.iter().filter_map(move |s| (s.pick)(sample)))
            .fold(0.0_f64, f64::max);
        Some(Self {
            start,
            end,
            top: nice_ceiling(highest),
        })
    }

    /// The x of time `at_ms`.
    pub fn x(&self, at_ms: f64) -> f64 {
        let span = self.end - self.start;
        if span <= 0.0 {
            return LEFT;
        }
        LEFT + (at_ms - self.start) / span * (WIDTH - LEFT - RIGHT)
    }

    /// The y of `value`.
    pub fn y(&self, value: f64) -> f64 {
        let base = HEIGHT - BOTTOM;
        base - (value.clamp(0.0, self.top) / self.top) * (base - TOP)
    }

    /// The `points` of a polyline through `series` over `trend` (samples without that figure are skipped).
    pub fn points(&self, trend: &Trend, series: &Series) -> String {
        let points: Vec<String> = trend
            .samples()
            .filter_map(|sample| {
                let value = (series.pick)(sample)?;
                Some(format!("{:.1},{:.1}", self.x(sample.at_ms), self.y(value)))
            })
            .collect();
        points.join(" ")
    }

    /// The times labelled on the time axis: the first, the middle and the last sample's (one when they are
    /// all at one instant).
    pub fn time_ticks(&self) -> Vec<f64> {
        if self.end > self.start {
            vec![self.start, (self.start + self.end) / 2.0, self.end]
        } else {
            vec![self.start]
        }
    }

    /// The values labelled on the value axis: 0, half and the top.
    pub fn value_ticks(&self) -> [f64; 3] {
        [0.0, self.top / 2.0, self.top]
    }
}

/// One line on a chart: its CSS class, its name in the legend and which figure of a sample it draws.
#[derive(Debug, Clone, Copy)]
pub struct Series {
    /// The polyline's class (its colour in the stylesheet).
    pub class: &'static str,
    /// Its name in the legend.
    pub name: &'static str,
    /// The figure it draws.
    pub pick: fn(&Sample) -> Option<f64>,
}

/// Messages in and out per second.
pub const RATES: &[Series] = &[
    Series {
        class: "trend-in",
        name: "in",
        pick: |sample| sample.rate_in,
    },
    Series {
        class: "trend-out",
        name: "out",
        pick: |sample| sample.rate_out,
    },
];

/// Clients connected.
pub const CONNECTIONS: &[Series] = &[Series {
    class: "trend-clients",
    name: "connected",
    pick: |sample| sample.clients,
}];

/// A chart of `series` over `trend`, titled `title`, with the last values in its caption.
#[component]
pub fn TrendChart(
    /// The samples.
    #[prop(into)]
    trend: Signal<Trend>,
    /// What the chart shows, as its heading and accessible name.
    title: &'static str,
    /// Which figures it draws.
    series: &'static [Series],
    /// A name for `data-chart`, for tests and styles.
    name: &'static str,
) -> impl IntoView {
    let drawing = move || {
        trend.with(|trend| {
            let plot = Plot::of(trend, series).filter(|_| trend.len() >= 2)?;
            let values = plot.value_ticks().map(|value| {
                let y = plot.y(value);
                view! {
                    <line class="trend-grid" x1=LEFT y1=y x2=WIDTH - RIGHT y2=y />
                    <text class="trend-label" x=LEFT - 3.0 y=y + 3.0 text-anchor="end">{axis_label(value)}</text>
                }
            });
            let times = plot
                .time_ticks()
                .into_iter()
                .map(|at| {
                    view! {
                        <text class="trend-label trend-time" x=plot.x(at) y=HEIGHT - 4.0 text-anchor="middle">
                            {local_clock(at)}
                        </text>
                    }
                })
                .collect_view();
            let lines = series
                .iter()
                .map(|line| {
                    view! {
                        <polyline
                            class=format!("trend-line {}", line.class)
                            data-series=line.name
                            fill="none"
                            stroke-width="2"
                            vector-effect="non-scaling-stroke"
                            points=plot.points(trend, line)
                        />
                    }
                })
                .collect_view();
            Some(view! {
                {values}
                <line class="trend-axis" x1=LEFT y1=HEIGHT - BOTTOM x2=WIDTH - RIGHT y2=HEIGHT - BOTTOM />
                <line class="trend-axis" x1=LEFT y1=TOP x2=LEFT y2=HEIGHT - BOTTOM />
                {times}
                {lines}
            })
        })
    };
    let caption = move || {
        trend.with(|trend| {
            if trend.len() < 2 {
                return "Waiting for the broker's figures (they come every few seconds).".to_owned();
            }
            let last = trend.samples().next_back().copied().unwrap_or_default();
            let parts: Vec<String> = series
                .iter()
                .map(|line| match (line.pick)(&last) {
                    Some(value) => format!("{} {}", line.name, axis_label((value * 10.0).round() / 10.0)),
                    None => format!("{} –", line.name),
                })
                .collect();
            format!("Now: {}; {} samples", parts.join(", "), trend.len())
        })
    };
    view! {
        <figure class="trend" data-chart=name>
            <h3 class="trend-title">{title}</h3>
            <svg class="trend-svg" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=title>
                {drawing}
            </svg>
            <figcaption class="trend-caption">{caption}</figcaption>
        </figure>
    }
}
