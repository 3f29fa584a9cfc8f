//! The Grafana dashboard asks only for series that accrete records: every
//! `accrete_*` name in its queries (histograms without their `_bucket`,
//! `_sum`, `_count` suffixes) is one that the recording code names.
#![allow(clippy::unwrap_used)]

const DASHBOARD: &str = include_str!("../grafana/accrete.json");

/// The files that record series.
const RECORDERS: [&str; 3] = [
    include_str!("../../transactor/src/observe.rs"),
    include_str!("../../storage-core/src/metered.rs"),
    include_str!("../../index/src/cache.rs"),
];

#[test]
fn every_series_of_the_dashboard_is_recorded() {
    let json: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
    let panels = json["panels"].as_array().unwrap();
    assert!(panels.len() >= 10, "{} panels", panels.len());
    let mut names = Vec::new();
    for panel in panels {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find("accrete_") {
                let tail = &rest[at..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                    .unwrap_or(tail.len());
                names.push(tail[..end].to_string());
                rest = &tail[end..];
            }
        }
    }
    assert!(names.len() >= 20, "{names:?}");
    for name in names {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name);
        let quoted = format!("\"{base}\"");
        assert!(
            RECORDERS.iter().any(|source| source.contains(&quoted)),
            "the dashboard queries {name}, which nothing records"
        );
    }
}
