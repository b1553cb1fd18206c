//! The charts, as SVG files: the server's load and the clients' goodput
//! over time (one line per stack, for one fleet size), and the load during
//! the outage against the fleet size.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::clients::Stack;
use crate::measure::{Record, Summary};
use crate::server::Script;

/// One run: the fleet size, the stack, what it saw.
pub(crate) type Run = (usize, Stack, Record, Summary);

const COLORS: [RGBColor; 7] = [
    RGBColor(120, 120, 120),
    RGBColor(214, 39, 40),
    RGBColor(255, 127, 14),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn color(stack: Stack) -> RGBColor {
    let i = Stack::ALL.iter().position(|&s| s == stack).unwrap_or(0);
    COLORS[i % COLORS.len()]
}

/// Draws every chart into `target/fleet/`, and returns that folder.
pub(crate) fn draw(
    runs: &[Run],
    script: &Script,
    offered: f64,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fleet");
    std::fs::create_dir_all(&dir)?;
    let mut sizes: Vec<usize> = runs.iter().map(|r| r.0).collect();
    sizes.dedup();
    for &n in &sizes {
        let of_n: Vec<&Run> = runs.iter().filter(|r| r.0 == n).collect();
        over_time(
            &dir.join(format!("load-{n}.svg")),
            &of_n,
            script,
            offered,
            n,
        )?;
    }
    if sizes.len() > 1 {
        against_size(&dir.join("outage-amplification.svg"), runs, script)?;
    }
    Ok(dir)
}

/// Which series of a record a panel draws.
type Pick = fn(&Record) -> &[u32];

/// Two panels: what the server saw, and what the clients got, a second at
/// a time, over the offered load.
fn over_time(
    path: &Path,
    runs: &[&Run],
    script: &Script,
    offered: f64,
    n: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (960, 720)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((2, 1));
    let secs = script.secs() as f64;
    let series: [(&str, Pick); 2] = [
        ("load the server saw / offered load", |r| &r.server_arrivals),
        (
            "goodput: successful requests / offered load (by start)",
            |r| &r.succeeded,
        ),
    ];
    for (panel, (title, pick)) in panels.iter().zip(series) {
        let top = runs
            .iter()
            .flat_map(|r| pick(&r.2).iter())
            .map(|&v| f64::from(v) / offered)
            .fold(1.2_f64, f64::max)
            .min(4.0);
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{title}, {n} clients"), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(45)
            .build_cartesian_2d(0.0..secs, 0.0..top * 1.05)?;
        chart
            .configure_mesh()
            .x_desc("seconds (phases: ".to_string() + &phases(script) + ")")
            .light_line_style(WHITE)
            .draw()?;
        for (_, stack, record, _) in runs.iter().copied() {
            let points = pick(record)
                .iter()
                .take(script.secs() as usize)
                .enumerate()
                .map(|(s, &v)| (s as f64, f64::from(v) / offered));
            chart
                .draw_series(LineSeries::new(points, color(*stack).stroke_width(2)))?
                .label(stack.name())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color(*stack).stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// The load during the outage over the offered load, per fleet size.
fn against_size(
    path: &Path,
    runs: &[Run],
    script: &Script,
) -> Result<(), Box<dyn std::error::Error>> {
    let outage = script
        .0
        .iter()
        .position(|p| p.name == "outage")
        .unwrap_or(0);
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let largest = runs.iter().map(|r| r.0).max().unwrap_or(10) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "load during a one-minute outage / offered load",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d((1.0..largest * 1.5).log_scale(), 0.0..3.3)?;
    chart.configure_mesh().x_desc("clients (log)").draw()?;
    for stack in Stack::ALL {
        let points: Vec<(f64, f64)> = runs
            .iter()
            .filter(|r| r.1 == stack)
            .map(|r| (r.0 as f64, r.3.amplification[outage]))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color(stack).stroke_width(2)))?
            .label(stack.name())
            .legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], color(stack).stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}

fn phases(script: &Script) -> String {
    let mut at = 0;
    script
        .0
        .iter()
        .map(|p| {
            let s = format!("{} {at}", p.name);
            at += p.secs;
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}
