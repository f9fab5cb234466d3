//! The `telemetry:` section of a fixture: generators of readings for one device every
//! `interval` over `span`, read and checked with their positions. The readings themselves
//! are made by telemetry.rs.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, Utc};
use marked_yaml::types::{MarkedMappingNode, Node};

use super::fixture_time::{YEARS, parse_duration};
use super::yaml_node::{at, fixture_error, is_null};
use crate::error::{Location, Result};

/// A telemetry generator: readings for one device every `interval` over `span`.
#[derive(Debug, Clone)]
pub struct TelemetrySpec {
    pub label: String,
    pub at: Location,
    pub device: String,
    pub device_at: Location,
    pub interval: Duration,
    pub span: Duration,
}

/// Default telemetry: about a week of readings at 5-minute steps.
pub const DEFAULT_INTERVAL_MINUTES: i64 = 5;
pub const DEFAULT_SPAN_DAYS: i64 = 7;

/// The generators of one file's `telemetry:` section (`~` or nothing: none).
pub fn read(file: &str, body: &Node, now: DateTime<Utc>) -> Result<Vec<TelemetrySpec>> {
    let Some(body) = body.as_mapping() else {
        if is_null(body) {
            return Ok(Vec::new());
        }
        return Err(fixture_error(
            at(file, body.span()),
            "`telemetry` must be a mapping of generator labels to {device, interval, span}",
            None,
        ));
    };
    let mut specs = Vec::new();
    for (label, node) in body.iter() {
        let spec_at = at(file, label.span());
        let Some(map) = node.as_mapping() else {
            return Err(fixture_error(
                at(file, node.span()),
                &format!(
                    "telemetry `{}` must be a mapping with `device`, `interval` and `span`",
                    label.as_str()
                ),
                None,
            ));
        };
        specs.push(read_spec(file, label.as_str(), spec_at, map, now)?);
    }
    Ok(specs)
}

/// One generator: `device` is required, `interval` and `span` have defaults.
fn read_spec(
    file: &str,
    label: &str,
    spec_at: Location,
    map: &MarkedMappingNode,
    now: DateTime<Utc>,
) -> Result<TelemetrySpec> {
    let mut device = None;
    let mut interval = Duration::minutes(DEFAULT_INTERVAL_MINUTES);
    let mut span = Duration::days(DEFAULT_SPAN_DAYS);
    for (key, value) in map.iter() {
        let value_at = at(file, value.span());
        let text = value.as_scalar().map(|s| s.as_str().to_string());
        match key.as_str() {
            "device" => device = Some((text.unwrap_or_default(), value_at)),
            "interval" | "span" => {
                let parsed = text
                    .as_deref()
                    .and_then(parse_duration)
                    .filter(|d| *d > Duration::zero());
                let Some(parsed) = parsed else {
                    return Err(fixture_error(
                        value_at,
                        &format!(
                            "telemetry `{label}`: `{}` must be a positive duration such as `5m`, `2h` or `7d`",
                            key.as_str()
                        ),
                        None,
                    ));
                };
                if key.as_str() == "interval" {
                    interval = parsed;
                } else {
                    // The oldest reading must be a time both dialects store alike.
                    let oldest = now.checked_sub_signed(parsed);
                    if !oldest.is_some_and(|t| YEARS.contains(&t.year())) {
                        return Err(fixture_error(
                            value_at,
                            &format!(
                                "telemetry `{label}`: `span` reaches back before 0001-01-01T00:00:00.000Z"
                            ),
                            None,
                        ));
                    }
                    span = parsed;
                }
            }
            other => {
                return Err(fixture_error(
                    at(file, key.span()),
                    &format!("unknown key `{other}` in telemetry `{label}`"),
                    Some("telemetry generators take: device, interval, span".into()),
                ));
            }
        }
    }
    let Some((device, device_at)) = device.filter(|(d, _)| !d.is_empty()) else {
        return Err(fixture_error(
            spec_at,
            &format!("telemetry `{label}` is missing `device` (the label of a `devices` row)"),
            None,
        ));
    };
    if interval > span {
        return Err(fixture_error(
            spec_at,
            &format!("telemetry `{label}`: `interval` is longer than `span`"),
            None,
        ));
    }
    Ok(TelemetrySpec {
        label: label.to_string(),
        at: spec_at,
        device,
        device_at,
        interval,
        span,
    })
}

/// A generator label names one generator across all files.
pub fn check_unique(telemetry: &[TelemetrySpec]) -> Result<()> {
    let mut seen: HashMap<&str, &TelemetrySpec> = HashMap::new();
    for spec in telemetry {
        if let Some(first) = seen.insert(spec.label.as_str(), spec) {
            return Err(fixture_error(
                spec.at.clone(),
                &format!(
                    "duplicate label `{}` in `telemetry`: first defined at {}",
                    spec.label, first.at
                ),
                None,
            ));
        }
    }
    Ok(())
}

/// Refuses telemetry whose span, stretched by `scale`, reaches back before year 1
/// ([`YEARS`]); at scale 1 loading has refused it already, naming the `span` value.
pub fn check_reach(specs: &[TelemetrySpec], scale: u32, now: DateTime<Utc>) -> Result<()> {
    for spec in specs {
        let oldest = i32::try_from(scale)
            .ok()
            .and_then(|scale| spec.span.checked_mul(scale))
            .and_then(|span| now.checked_sub_signed(span));
        if !oldest.is_some_and(|t| YEARS.contains(&t.year())) {
            return Err(fixture_error(
                spec.at.clone(),
                &format!(
                    "telemetry `{}`: `span` × `--scale` {scale} reaches back before 0001-01-01T00:00:00.000Z",
                    spec.label
                ),
                None,
            ));
        }
    }
    Ok(())
}
