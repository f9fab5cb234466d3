//! Generated telemetry: readings every `interval` over `span` (times `--scale`) for each
//! device, with daily cycles a dashboard would show. Rows are produced one at a time, so a
//! million of them take no more memory than one.

use std::f64::consts::PI;

use chrono::{DateTime, Duration, Timelike, Utc};
// PCG's output is fixed by its specification, unlike that of rand's `SmallRng`, which may
// change between versions and platforms; the uniform draws are written out below for the same
// reason. So the same fixture and `now` give the same readings everywhere.
use rand_pcg::Pcg64Mcg;
use rand_pcg::rand_core::{Rng, SeedableRng};

use crate::db::value::Value;

pub const COLUMNS: [&str; 7] = [
    "time",
    "device_id",
    "plant_id",
    "soil_moisture",
    "temperature",
    "humidity",
    "light_level",
];

/// One device's readings to generate.
#[derive(Debug, Clone)]
pub struct Series {
    pub device_id: String,
    pub plant_id: Option<String>,
    pub interval: Duration,
    pub span: Duration,
}

impl Series {
    pub fn steps(&self, scale: u32) -> u64 {
        let interval = self.interval.num_seconds().max(1);
        let span = self
            .span
            .num_seconds()
            .saturating_mul(i64::from(scale.max(1)));
        u64::try_from(span / interval).unwrap_or(0)
    }
}

/// Readings for every series, newest step aligned to the interval before `now`.
pub struct Generator {
    series: Vec<Series>,
    scale: u32,
    now: DateTime<Utc>,
    current: usize,
    step: u64,
    rng: Pcg64Mcg,
}

impl Generator {
    pub fn new(series: Vec<Series>, scale: u32, now: DateTime<Utc>) -> Generator {
        let rng = Pcg64Mcg::seed_from_u64(seed_of(series.first().map_or("", |s| &s.device_id)));
        Generator {
            series,
            scale,
            now,
            current: 0,
            step: 0,
            rng,
        }
    }

    pub fn total(&self) -> u64 {
        self.series.iter().map(|s| s.steps(self.scale)).sum()
    }
}

/// A stable seed per device, so the same fixture and `now` give the same readings.
fn seed_of(device: &str) -> u64 {
    use std::hash::Hasher as _;
    let mut hash = fnv::FnvHasher::default();
    hash.write(device.as_bytes());
    hash.finish()
}

impl Iterator for Generator {
    type Item = Vec<Value>;

    fn next(&mut self) -> Option<Vec<Value>> {
        loop {
            let series = self.series.get(self.current)?;
            if self.step < series.steps(self.scale) {
                break;
            }
            self.current += 1;
            self.step = 0;
            if let Some(next) = self.series.get(self.current) {
                self.rng = Pcg64Mcg::seed_from_u64(seed_of(&next.device_id));
            }
        }
        let series = &self.series[self.current];
        let interval = series.interval.num_seconds().max(1);
        let newest = self.now.timestamp() - self.now.timestamp().rem_euclid(interval);
        let seconds = newest - i64::try_from(self.step).unwrap_or(i64::MAX) * interval;
        self.step += 1;
        let time = DateTime::from_timestamp(seconds, 0).unwrap_or(self.now);
        let reading = reading(&mut self.rng, time, seed_of(&series.device_id));
        Some(vec![
            Value::Time(time),
            Value::Text(series.device_id.clone()),
            series.plant_id.clone().map_or(Value::Null, Value::Text),
            Value::Float(reading[0]),
            Value::Float(reading[1]),
            Value::Float(reading[2]),
            Value::Float(reading[3]),
        ])
    }
}

/// soil moisture %, temperature °C, humidity %, light lux at `time`: warm afternoons, humid
/// nights, daylight from 6 to 18 (UTC for simplicity), soil drying out between waterings
/// every three days (offset per device).
fn reading(rng: &mut Pcg64Mcg, time: DateTime<Utc>, device: u64) -> [f64; 4] {
    let hour = f64::from(time.hour()) + f64::from(time.minute()) / 60.0;
    let day_phase = 2.0 * PI * (hour - 9.0) / 24.0;
    let temperature = 21.0 + 3.0 * day_phase.sin() + uniform(rng, -0.3, 0.3);
    let humidity = (55.0 - 8.0 * day_phase.sin() + uniform(rng, -1.5, 1.5)).clamp(20.0, 95.0);
    let sun = (PI * (hour - 6.0) / 12.0).sin().max(0.0);
    let light = (sun * 900.0 + uniform(rng, 0.0, 20.0)).max(0.0);
    let cycle_hours = 72.0;
    let offset = (device % 72) as f64;
    let hours = time.timestamp() as f64 / 3600.0 + offset;
    let since_watering = hours.rem_euclid(cycle_hours);
    let soil = (72.0 - since_watering * 0.5 + uniform(rng, -0.5, 0.5)).clamp(15.0, 80.0);
    [
        round1(soil),
        round1(temperature),
        round1(humidity),
        round1(light),
    ]
}

/// A uniform draw from `low..high`: the top 53 bits of one output as a fraction, written out
/// here so that no library's sampling method can change the readings.
fn uniform(rng: &mut Pcg64Mcg, low: f64, high: f64) -> f64 {
    let fraction = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    low + (high - low) * fraction
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_seed_is_fnv1a_of_the_device_label() {
        // Every generated reading of a device follows from it: fixtures must keep their data.
        assert_eq!(seed_of("dev-1"), 9_626_158_837_441_113_750);
        assert_eq!(seed_of(""), 0xcbf2_9ce4_8422_2325);
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-02-07T12:03:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn series() -> Vec<Series> {
        vec![
            Series {
                device_id: "d1".into(),
                plant_id: Some("fern".into()),
                interval: Duration::minutes(5),
                span: Duration::days(7),
            },
            Series {
                device_id: "d2".into(),
                plant_id: None,
                interval: Duration::hours(1),
                span: Duration::days(1),
            },
        ]
    }

    #[test]
    fn counts_scale_and_alignment() {
        let g = Generator::new(series(), 1, now());
        assert_eq!(g.total(), 7 * 288 + 24);
        let rows: Vec<_> = g.collect();
        assert_eq!(rows.len(), 7 * 288 + 24);
        assert_eq!(
            rows[0][0],
            Value::Time(
                DateTime::parse_from_rfc3339("2026-02-07T12:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc)
            )
        );
        assert_eq!(
            Generator::new(series(), 3, now()).total(),
            3 * (7 * 288 + 24)
        );
    }

    /// soil, temperature, humidity, light: d1's first three rows, then d2's first two.
    const PINNED: [[f64; 4]; 5] = [
        [50.8, 23.0, 48.3, 917.2],
        [51.5, 23.0, 48.7, 902.5],
        [51.2, 22.8, 48.3, 916.0],
        [60.8, 23.4, 49.5, 901.8],
        [61.4, 22.8, 51.6, 869.4],
    ];

    fn floats(row: &[Value]) -> [f64; 4] {
        let float = |v: &Value| match v {
            Value::Float(f) => *f,
            other => panic!("not a float: {other:?}"),
        };
        [
            float(&row[3]),
            float(&row[4]),
            float(&row[5]),
            float(&row[6]),
        ]
    }

    #[test]
    fn the_first_readings_are_pinned() {
        // Seeded data must not change under anyone's feet: a new rand, another platform.
        let rows: Vec<_> = Generator::new(series(), 1, now()).collect();
        let d2 = rows
            .iter()
            .position(|r| r[1] == Value::Text("d2".into()))
            .unwrap();
        let firsts: Vec<[f64; 4]> = rows[..3]
            .iter()
            .chain(&rows[d2..d2 + 2])
            .map(|r| floats(r))
            .collect();
        assert_eq!(firsts, PINNED);
    }

    #[test]
    fn deterministic_and_plausible() {
        let a: Vec<_> = Generator::new(series(), 1, now()).collect();
        let b: Vec<_> = Generator::new(series(), 1, now()).collect();
        assert_eq!(a, b);
        for row in &a {
            let Value::Float(light) = row[6] else {
                panic!()
            };
            let Value::Time(t) = row[0] else { panic!() };
            if t.hour() < 5 || t.hour() > 19 {
                assert!(light < 25.0, "dark at night: {light} at {t}");
            }
            let Value::Float(soil) = row[3] else { panic!() };
            assert!((15.0..=80.0).contains(&soil));
        }
    }
}
