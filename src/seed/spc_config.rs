//! The ManualConfig / TagConfig schema of `characteristic_config.config_json` (the SPC app's
//! pydantic models: discriminated on `config_type`, then on `schedule_type` or
//! `trigger_type`), checked before anything is written so a bad document names its field.
//! Unknown fields are refused too: in a fixture they are typos. Across rows, a document's
//! `config_type` must match its characteristic's `provider_type`.

use croner::parser::{CronParser, Seconds, Year};
use marked_yaml::types::{MarkedMappingNode, Node};

use super::fixture_row::{Cell, Row};
use super::yaml_node::{at, fixture_error, is_null};
use crate::db::value::Value;
use crate::error::Result;

/// What a field must hold.
enum Rule {
    Str { max_len: Option<usize> },
    Int { min: i64, max: Option<i64> },
    Number { min: Option<f64> },
    Bool,
    OneOf(&'static [&'static str]),
    ShiftTimes,
    Cron,
}

struct Field {
    name: &'static str,
    rule: Rule,
    required: bool,
    nullable: bool,
}

const fn field(name: &'static str, rule: Rule, required: bool) -> Field {
    Field {
        name,
        rule,
        required,
        nullable: false,
    }
}

struct Checker<'a> {
    file: &'a str,
    label: &'a str,
}

impl Checker<'_> {
    fn fail(&self, node_at: crate::error::Location, path: &str, rule: &str) -> crate::error::Error {
        fixture_error(
            node_at,
            &format!("characteristic_config `{}`: `{path}` {rule}", self.label),
            Some("the ManualConfig / TagConfig rules are listed in README.md, section \"Fixture format\"".into()),
        )
    }

    /// Checks `map` against `fields` (plus its discriminator, already read) and returns nothing
    /// or the first broken rule.
    fn fields(
        &self,
        map: &MarkedMappingNode,
        prefix: &str,
        model: &str,
        discriminator: &str,
        fields: &[Field],
        nested: &[&str],
    ) -> Result<()> {
        for (key, _) in map.iter() {
            let known = key.as_str() == discriminator
                || nested.contains(&key.as_str())
                || fields.iter().any(|f| f.name == key.as_str());
            if !known {
                let mut names: Vec<&str> = vec![discriminator];
                names.extend(fields.iter().map(|f| f.name));
                names.extend(nested);
                return Err(self.fail(
                    at(self.file, key.span()),
                    &format!("{prefix}{}", key.as_str()),
                    &format!("is not a field of {model} (fields: {})", names.join(", ")),
                ));
            }
        }
        for f in fields {
            let path = format!("{prefix}{}", f.name);
            let Some(node) = map.get_node(f.name) else {
                if f.required {
                    return Err(self.fail(
                        at(self.file, map.span()),
                        &path,
                        &format!("is required by {model}"),
                    ));
                }
                continue;
            };
            if is_null(node) {
                if f.nullable {
                    continue;
                }
                return Err(self.fail(
                    at(self.file, node.span()),
                    &path,
                    &format!("cannot be null in {model}"),
                ));
            }
            self.rule(node, &path, model, &f.rule)?;
        }
        Ok(())
    }

    fn rule(&self, node: &Node, path: &str, model: &str, rule: &Rule) -> Result<()> {
        let node_at = at(self.file, node.span());
        let scalar = node.as_scalar();
        let text = scalar.map(|s| s.as_str());
        let unquoted = scalar.is_some_and(|s| s.may_coerce());
        match rule {
            Rule::Str { max_len } => {
                let Some(text) = text else {
                    return Err(self.fail(node_at, path, &format!("must be a string ({model})")));
                };
                if let Some(max) = max_len
                    && text.chars().count() > *max
                {
                    return Err(self.fail(
                        node_at,
                        path,
                        &format!("must be at most {max} characters ({model})"),
                    ));
                }
            }
            Rule::Int { min, max } => {
                let value = text
                    .filter(|_| unquoted)
                    .and_then(|t| t.parse::<i64>().ok());
                let range = match max {
                    Some(max) => format!("between {min} and {max}"),
                    None => format!("at least {min}"),
                };
                match value {
                    Some(v) if v >= *min && max.is_none_or(|max| v <= max) => {}
                    Some(v) => {
                        return Err(self.fail(
                            node_at,
                            path,
                            &format!("must be {range} ({model}), got {v}"),
                        ));
                    }
                    None => {
                        return Err(self.fail(
                            node_at,
                            path,
                            &format!("must be an integer {range} ({model})"),
                        ));
                    }
                }
            }
            Rule::Number { min } => {
                let value = text
                    .filter(|_| unquoted)
                    .and_then(|t| t.parse::<f64>().ok())
                    .filter(|v| v.is_finite());
                match (value, min) {
                    (Some(v), Some(min)) if v < *min => {
                        return Err(self.fail(
                            node_at,
                            path,
                            &format!("must be at least {min} ({model}), got {v}"),
                        ));
                    }
                    (Some(_), _) => {}
                    (None, _) => {
                        return Err(self.fail(
                            node_at,
                            path,
                            &format!("must be a number ({model})"),
                        ));
                    }
                }
            }
            Rule::Bool => {
                if scalar.and_then(|s| s.as_bool()).is_none() {
                    return Err(self.fail(
                        node_at,
                        path,
                        &format!("must be true or false ({model})"),
                    ));
                }
            }
            Rule::OneOf(options) => {
                if !text.is_some_and(|t| options.contains(&t)) {
                    return Err(self.fail(
                        node_at,
                        path,
                        &format!("must be one of {} ({model})", options.join(", ")),
                    ));
                }
            }
            Rule::ShiftTimes => {
                let Some(seq) = node.as_sequence() else {
                    return Err(self.fail(
                        node_at,
                        path,
                        &format!("must be a list of HH:MM times ({model})"),
                    ));
                };
                for (i, item) in seq.iter().enumerate() {
                    let ok = item.as_scalar().is_some_and(|s| {
                        chrono::NaiveTime::parse_from_str(s.as_str(), "%H:%M").is_ok()
                    });
                    if !ok {
                        return Err(self.fail(
                            at(self.file, item.span()),
                            &format!("{path}[{i}]"),
                            &format!("must be a time as HH:MM ({model})"),
                        ));
                    }
                }
            }
            Rule::Cron => {
                if let Some(problem) = cron_problem(text.unwrap_or_default()) {
                    return Err(self.fail(node_at, path, &format!("{problem} ({model})")));
                }
            }
        }
        Ok(())
    }

    /// Reads a discriminator and returns its value, or the error naming the allowed ones.
    fn discriminator<'m>(
        &self,
        map: &'m MarkedMappingNode,
        prefix: &str,
        name: &str,
        options: &[&str],
        model: &str,
    ) -> Result<&'m str> {
        let path = format!("{prefix}{name}");
        let Some(node) = map.get_node(name) else {
            return Err(self.fail(
                at(self.file, map.span()),
                &path,
                &format!("is required by {model} (one of {})", options.join(", ")),
            ));
        };
        match node.as_scalar().map(|s| s.as_str()) {
            Some(value) if options.contains(&value) => Ok(value),
            _ => Err(self.fail(
                at(self.file, node.span()),
                &path,
                &format!("must be one of {}", options.join(", ")),
            )),
        }
    }
}

/// The five fields of a cron expression, with what each allows.
const CRON_FIELDS: [(&str, &str); 5] = [
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day-of-week", "0-7 or SUN-SAT"),
];

/// What is wrong with a 5-field cron expression (minute hour day-of-month month day-of-week,
/// with `*`, lists, ranges, steps and names), or `None` when croner accepts it.
fn cron_problem(expression: &str) -> Option<String> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    if fields.len() != CRON_FIELDS.len() {
        return Some(
            "must be a cron expression of 5 fields: minute hour day-of-month month day-of-week"
                .into(),
        );
    }
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build();
    if parser.parse(expression).is_ok() {
        return None;
    }
    // croner's error does not say which field is wrong: try each one alone.
    for (i, (name, allowed)) in CRON_FIELDS.iter().enumerate() {
        let mut alone = ["*"; 5];
        alone[i] = fields[i];
        if parser.parse(&alone.join(" ")).is_err() {
            return Some(format!(
                "has an invalid {name} field `{}` in `{expression}` (allowed: {allowed})",
                fields[i]
            ));
        }
    }
    Some(format!("`{expression}` is not a valid cron expression"))
}

/// Validates one config document. `label` is the characteristic_config row's label.
pub fn validate(file: &str, label: &str, doc: &MarkedMappingNode) -> Result<()> {
    let check = Checker { file, label };
    match check.discriminator(
        doc,
        "",
        "config_type",
        &["MANUAL", "TAG"],
        "CharacteristicConfig",
    )? {
        "MANUAL" => {
            check.fields(
                doc,
                "",
                "ManualConfig",
                "config_type",
                &[
                    field(
                        "instructions",
                        Rule::Str {
                            max_len: Some(2000),
                        },
                        false,
                    ),
                    field(
                        "grace_period_minutes",
                        Rule::Int {
                            min: 0,
                            max: Some(480),
                        },
                        false,
                    ),
                ],
                &["schedule"],
            )?;
            let Some(schedule) = doc.get_node("schedule") else {
                return Err(check.fail(
                    at(file, doc.span()),
                    "schedule",
                    "is required by ManualConfig",
                ));
            };
            let Some(schedule) = schedule.as_mapping() else {
                return Err(check.fail(
                    at(file, schedule.span()),
                    "schedule",
                    "must be a mapping with `schedule_type` (ManualConfig)",
                ));
            };
            validate_schedule(&check, schedule)
        }
        _ => {
            let nullable = |name, rule| Field {
                name,
                rule,
                required: false,
                nullable: true,
            };
            check.fields(
                doc,
                "",
                "TagConfig",
                "config_type",
                &[
                    field("source_tag_path", Rule::Str { max_len: None }, true),
                    nullable("batch_tag_path", Rule::Str { max_len: None }),
                    nullable("min_valid_value", Rule::Number { min: None }),
                    nullable("max_valid_value", Rule::Number { min: None }),
                ],
                &["trigger"],
            )?;
            let Some(trigger) = doc.get_node("trigger") else {
                return Err(check.fail(
                    at(file, doc.span()),
                    "trigger",
                    "is required by TagConfig",
                ));
            };
            let Some(trigger) = trigger.as_mapping() else {
                return Err(check.fail(
                    at(file, trigger.span()),
                    "trigger",
                    "must be a mapping with `trigger_type` (TagConfig)",
                ));
            };
            let bound = |name: &str| {
                doc.get_scalar(name)
                    .and_then(|s| s.as_str().parse::<f64>().ok())
            };
            if let (Some(min), Some(max)) = (bound("min_valid_value"), bound("max_valid_value"))
                && min > max
                && let Some(node) = doc.get_node("max_valid_value")
            {
                return Err(check.fail(
                    at(file, node.span()),
                    "max_valid_value",
                    &format!("must not be below min_valid_value {min} (TagConfig)"),
                ));
            }
            validate_trigger(&check, trigger)
        }
    }
}

fn validate_schedule(check: &Checker, schedule: &MarkedMappingNode) -> Result<()> {
    let kind = check.discriminator(
        schedule,
        "schedule.",
        "schedule_type",
        &["NONE", "INTERVAL", "SHIFT", "CRON", "BATCH_START"],
        "ManualConfig",
    )?;
    let (model, fields): (&str, Vec<Field>) = match kind {
        "NONE" => ("NoSchedule", vec![]),
        "INTERVAL" => (
            "IntervalSchedule",
            vec![
                field(
                    "interval_minutes",
                    Rule::Int {
                        min: 1,
                        max: Some(10080),
                    },
                    true,
                ),
                field("align_to_hour", Rule::Bool, false),
            ],
        ),
        "SHIFT" => (
            "ShiftSchedule",
            vec![
                field(
                    "shift_count",
                    Rule::Int {
                        min: 1,
                        max: Some(4),
                    },
                    false,
                ),
                field("shift_times", Rule::ShiftTimes, false),
                field(
                    "samples_per_shift",
                    Rule::Int {
                        min: 1,
                        max: Some(10),
                    },
                    false,
                ),
            ],
        ),
        "CRON" => (
            "CronSchedule",
            vec![field("cron_expression", Rule::Cron, true)],
        ),
        _ => (
            "BatchStartSchedule",
            vec![
                field("batch_tag_path", Rule::Str { max_len: None }, true),
                field(
                    "delay_minutes",
                    Rule::Int {
                        min: 0,
                        max: Some(60),
                    },
                    false,
                ),
            ],
        ),
    };
    check.fields(schedule, "schedule.", model, "schedule_type", &fields, &[])
}

fn validate_trigger(check: &Checker, trigger: &MarkedMappingNode) -> Result<()> {
    let kind = check.discriminator(
        trigger,
        "trigger.",
        "trigger_type",
        &["ON_UPDATE", "ON_EVENT", "ON_VALUE_CHANGE"],
        "TagConfig",
    )?;
    let (model, fields): (&str, Vec<Field>) = match kind {
        "ON_UPDATE" => (
            "OnUpdateTrigger",
            vec![
                field(
                    "throttle_seconds",
                    Rule::Int {
                        min: 1,
                        max: Some(86400),
                    },
                    false,
                ),
                field("require_change", Rule::Bool, false),
            ],
        ),
        "ON_EVENT" => (
            "OnEventTrigger",
            vec![
                field("trigger_tag_path", Rule::Str { max_len: None }, true),
                field("edge", Rule::OneOf(&["RISING", "FALLING", "BOTH"]), false),
                field(
                    "debounce_ms",
                    Rule::Int {
                        min: 0,
                        max: Some(10000),
                    },
                    false,
                ),
            ],
        ),
        _ => (
            "OnValueChangeTrigger",
            vec![
                field("deadband", Rule::Number { min: Some(0.0) }, true),
                field(
                    "deadband_type",
                    Rule::OneOf(&["ABSOLUTE", "PERCENT"]),
                    false,
                ),
                field(
                    "min_interval_seconds",
                    Rule::Int { min: 1, max: None },
                    false,
                ),
            ],
        ),
    };
    check.fields(trigger, "trigger.", model, "trigger_type", &fields, &[])
}

/// A MANUAL characteristic gets a ManualConfig and a TAG one a TagConfig.
pub fn check_matches_provider(rows: &[Row]) -> Result<()> {
    for row in rows.iter().filter(|r| r.table.name == "characteristic") {
        if let Some((_, Cell::Value(Value::Text(provider)), provider_at)) =
            row.cells().find(|(c, _, _)| c.name == "provider_type")
            && provider != "MANUAL"
            && provider != "TAG"
        {
            return Err(fixture_error(
                provider_at,
                &format!(
                    "`characteristic`.`provider_type` of row `{}` must be `MANUAL` or `TAG`, not `{provider}`",
                    row.label()
                ),
                None,
            ));
        }
    }
    for config in rows
        .iter()
        .filter(|r| r.table.name == "characteristic_config")
    {
        let Some(Cell::Label { label, .. }) = config.cell("characteristic_id") else {
            continue;
        };
        let Some(characteristic) = rows
            .iter()
            .find(|r| r.table.name == "characteristic" && r.label() == label)
        else {
            continue;
        };
        let provider = match characteristic.cell("provider_type") {
            Some(Cell::Value(Value::Text(p))) => p,
            _ => continue,
        };
        let config_type = match config.cell("config_json") {
            Some(Cell::Value(Value::Text(json))) => {
                serde_json::from_str::<serde_json::Value>(&json)
                    .ok()
                    .and_then(|j| {
                        j.get("config_type")
                            .and_then(|t| t.as_str())
                            .map(str::to_string)
                    })
            }
            _ => None,
        };
        if let Some(config_type) = config_type
            && config_type != provider
        {
            let at = config.cell_at("config_json");
            return Err(fixture_error(
                at,
                &format!(
                    "characteristic_config `{}` has config_type `{config_type}`, but characteristic `{label}` has provider_type `{provider}`",
                    config.label()
                ),
                None,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> std::result::Result<(), String> {
        let node = marked_yaml::parse_yaml(0, yaml).unwrap();
        validate("c.yaml", "cfg", node.as_mapping().unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn valid_documents_pass() {
        check("{config_type: MANUAL, schedule: {schedule_type: NONE}}").unwrap();
        check("{config_type: MANUAL, instructions: Measure, grace_period_minutes: 480, schedule: {schedule_type: INTERVAL, interval_minutes: 120, align_to_hour: true}}").unwrap();
        check("{config_type: MANUAL, schedule: {schedule_type: SHIFT, shift_count: 3, shift_times: ['06:00', '14:00', '22:00'], samples_per_shift: 2}}").unwrap();
        check("{config_type: MANUAL, schedule: {schedule_type: CRON, cron_expression: '0 */2 * * 1-5'}}").unwrap();
        check("{config_type: MANUAL, schedule: {schedule_type: CRON, cron_expression: '30 6,14,22 1-15 JAN-JUN sun'}}").unwrap();
        check("{config_type: MANUAL, schedule: {schedule_type: CRON, cron_expression: '59 23 31 12 7'}}").unwrap();
        check("{config_type: MANUAL, schedule: {schedule_type: BATCH_START, batch_tag_path: plant/line1/batch, delay_minutes: 5}}").unwrap();
        check("{config_type: TAG, source_tag_path: a/b, trigger: {trigger_type: ON_UPDATE, throttle_seconds: 30}}").unwrap();
        check("{config_type: TAG, source_tag_path: a/b, batch_tag_path: null, trigger: {trigger_type: ON_EVENT, trigger_tag_path: a/trig, edge: FALLING, debounce_ms: 0}}").unwrap();
        check("{config_type: TAG, source_tag_path: a/b, min_valid_value: 0, max_valid_value: 10.5, trigger: {trigger_type: ON_VALUE_CHANGE, deadband: 0.05, deadband_type: PERCENT}}").unwrap();
    }

    #[test]
    fn broken_rules_name_field_and_rule() {
        let e = check(
            "{config_type: MANUAL, schedule: {schedule_type: INTERVAL, interval_minutes: 0}}",
        )
        .unwrap_err();
        assert!(
            e.contains(
                "`schedule.interval_minutes` must be between 1 and 10080 (IntervalSchedule), got 0"
            ),
            "{e}"
        );
        let e = check("{config_type: MANUAL, schedule: {schedule_type: HOURLY}}").unwrap_err();
        assert!(
            e.contains(
                "`schedule.schedule_type` must be one of NONE, INTERVAL, SHIFT, CRON, BATCH_START"
            ),
            "{e}"
        );
        let e = check("{config_type: AUTO}").unwrap_err();
        assert!(
            e.contains("`config_type` must be one of MANUAL, TAG"),
            "{e}"
        );
        let e = check("{config_type: TAG, trigger: {trigger_type: ON_UPDATE}}").unwrap_err();
        assert!(
            e.contains("`source_tag_path` is required by TagConfig"),
            "{e}"
        );
        let e = check("{config_type: TAG, source_tag_path: a, trigger: {trigger_type: ON_EVENT, trigger_tag_path: t, edge: UP}}").unwrap_err();
        assert!(
            e.contains("`trigger.edge` must be one of RISING, FALLING, BOTH"),
            "{e}"
        );
        let e = check("{config_type: TAG, source_tag_path: a, trigger: {trigger_type: ON_VALUE_CHANGE, deadband: -1}}").unwrap_err();
        assert!(e.contains("`trigger.deadband` must be at least 0"), "{e}");
        let e = check(
            "{config_type: MANUAL, schedule: {schedule_type: SHIFT, shift_times: ['25:00']}}",
        )
        .unwrap_err();
        assert!(
            e.contains("`schedule.shift_times[0]` must be a time as HH:MM"),
            "{e}"
        );
        let e = check(
            "{config_type: MANUAL, schedule: {schedule_type: NONE}, grace_period_minutes: 481}",
        )
        .unwrap_err();
        assert!(
            e.contains("`grace_period_minutes` must be between 0 and 480"),
            "{e}"
        );
        let e =
            check("{config_type: MANUAL, schedule: {schedule_type: NONE}, grace: 5}").unwrap_err();
        assert!(e.contains("`grace` is not a field of ManualConfig"), "{e}");
        let e = check(
            "{config_type: MANUAL, schedule: {schedule_type: CRON, cron_expression: '99 99 99 99 99'}}",
        )
        .unwrap_err();
        assert!(
            e.contains("`schedule.cron_expression` has an invalid minute field `99` in `99 99 99 99 99` (allowed: 0-59) (CronSchedule)"),
            "{e}"
        );
        let e = check(
            "{config_type: MANUAL, schedule: {schedule_type: CRON, cron_expression: '0 8 * 13 MON-FRI'}}",
        )
        .unwrap_err();
        assert!(e.contains("invalid month field `13`"), "{e}");
        let e = check(
            "{config_type: MANUAL, schedule: {schedule_type: CRON, cron_expression: '0 24 * * *'}}",
        )
        .unwrap_err();
        assert!(e.contains("invalid hour field `24`"), "{e}");
        let e = check(
            "{config_type: MANUAL, schedule: {schedule_type: CRON, cron_expression: '0 8 0 * *'}}",
        )
        .unwrap_err();
        assert!(e.contains("invalid day-of-month field `0`"), "{e}");
        let e = check(
            "{config_type: MANUAL, schedule: {schedule_type: CRON, cron_expression: '0 8 * * 8'}}",
        )
        .unwrap_err();
        assert!(e.contains("invalid day-of-week field `8`"), "{e}");
        let e = check(
            "{config_type: MANUAL, schedule: {schedule_type: CRON, cron_expression: '0 8 * *'}}",
        )
        .unwrap_err();
        assert!(e.contains("must be a cron expression of 5 fields"), "{e}");
        let e = check(
            "{config_type: MANUAL, schedule: {schedule_type: CRON, cron_expression: '*/0 8 * * *'}}",
        )
        .unwrap_err();
        assert!(e.contains("invalid minute field `*/0`"), "{e}");
        let e = check("{config_type: MANUAL}").unwrap_err();
        assert!(e.contains("`schedule` is required by ManualConfig"), "{e}");
        assert!(
            e.starts_with("c.yaml:1:1: characteristic_config `cfg`"),
            "{e}"
        );
    }
}
