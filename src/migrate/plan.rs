//! Pure decisions: given the known migrations, the database's history and what the user asked,
//! which steps run in which order, or why none may. Nothing here touches a database.

use std::collections::BTreeSet;

use super::source::MigrationSet;
use crate::db::{AppliedMigration, Direction};
use crate::error::{DriftItem, Error, Result, Version};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Apply pending migrations: all, up to and including `to`, or the next `count`.
    Up {
        to: Option<Version>,
        count: Option<usize>,
    },
    /// Revert applied migrations: newer than `to` (0 = all), or the last `count` (default 1).
    Down {
        to: Option<Version>,
        count: Option<usize>,
    },
    /// Revert the latest applied migration and apply it again.
    Redo,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    pub allow_drift: bool,
    pub allow_out_of_order: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStep {
    pub version: Version,
    pub direction: Direction,
    /// The latest applied version right before this step runs.
    pub expected_latest: Option<Version>,
}

/// Applied migrations whose checksum changed, and applied migrations this set does not know.
pub fn drift(set: &MigrationSet, applied: &[AppliedMigration]) -> (Vec<DriftItem>, Vec<DriftItem>) {
    let mut drifted = Vec::new();
    let mut missing = Vec::new();
    for row in applied {
        match set.get(row.version) {
            Some(known) if known.checksum != row.checksum => drifted.push(DriftItem {
                version: row.version,
                name: row.name.clone(),
                file: Some(known.up.file.clone()),
                recorded: row.checksum.clone(),
                current: Some(known.checksum.clone()),
            }),
            Some(_) => {}
            None => missing.push(DriftItem {
                version: row.version,
                name: row.name.clone(),
                file: None,
                recorded: row.checksum.clone(),
                current: None,
            }),
        }
    }
    (drifted, missing)
}

pub fn plan(
    set: &MigrationSet,
    applied: &[AppliedMigration],
    request: Request,
    options: PlanOptions,
) -> Result<Vec<PlannedStep>> {
    if !options.allow_drift {
        let (mut drifted, missing) = drift(set, applied);
        drifted.extend(missing);
        if !drifted.is_empty() {
            return Err(Error::Drift(drifted));
        }
    }
    let applied_versions: BTreeSet<Version> = applied.iter().map(|a| a.version).collect();
    let moves: Vec<(Version, Direction)> = match request {
        Request::Up { to, count } => plan_up(set, &applied_versions, to, count, options)?,
        Request::Down { to, count } => plan_down(set, &applied_versions, to, count)?,
        Request::Redo => {
            let latest = *applied_versions.last().ok_or(Error::NothingToRevert)?;
            check_reversible(set, applied, latest)?;
            vec![(latest, Direction::Down), (latest, Direction::Up)]
        }
    };
    if let Request::Down { .. } = request {
        for (version, _) in &moves {
            check_reversible(set, applied, *version)?;
        }
    }
    // Simulate the history to tell each step what it should find.
    let mut state = applied_versions;
    Ok(moves
        .into_iter()
        .map(|(version, direction)| {
            let expected_latest = state.last().copied();
            match direction {
                Direction::Up => state.insert(version),
                Direction::Down => state.remove(&version),
            };
            PlannedStep {
                version,
                direction,
                expected_latest,
            }
        })
        .collect())
}

fn plan_up(
    set: &MigrationSet,
    applied: &BTreeSet<Version>,
    to: Option<Version>,
    count: Option<usize>,
    options: PlanOptions,
) -> Result<Vec<(Version, Direction)>> {
    if let Some(to) = to
        && set.get(to).is_none()
    {
        return Err(Error::UnknownVersion(to));
    }
    let pending: Vec<Version> = set
        .migrations
        .iter()
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .filter(|v| to.is_none_or(|to| *v <= to))
        .take(count.unwrap_or(usize::MAX))
        .collect();
    if let (Some(&latest), false) = (applied.last(), options.allow_out_of_order)
        && let Some(&older) = pending.iter().find(|v| **v < latest)
    {
        return Err(Error::OutOfOrder {
            version: older,
            file: set
                .get(older)
                .map(|m| m.up.file.clone())
                .unwrap_or_default(),
            latest,
        });
    }
    Ok(pending.into_iter().map(|v| (v, Direction::Up)).collect())
}

fn plan_down(
    set: &MigrationSet,
    applied: &BTreeSet<Version>,
    to: Option<Version>,
    count: Option<usize>,
) -> Result<Vec<(Version, Direction)>> {
    if applied.is_empty() {
        return Err(Error::NothingToRevert);
    }
    let newest_first = applied.iter().rev().copied();
    let versions: Vec<Version> = match to {
        Some(to) => {
            if to != 0 && set.get(to).is_none() && !applied.contains(&to) {
                return Err(Error::UnknownVersion(to));
            }
            newest_first.take_while(|v| *v > to).collect()
        }
        None => newest_first.take(count.unwrap_or(1)).collect(),
    };
    Ok(versions.into_iter().map(|v| (v, Direction::Down)).collect())
}

fn check_reversible(
    set: &MigrationSet,
    applied: &[AppliedMigration],
    version: Version,
) -> Result<()> {
    match set.get(version) {
        Some(m) if m.down.is_some() => Ok(()),
        Some(m) => Err(Error::Irreversible {
            version,
            file: m.up.file.clone(),
        }),
        None => Err(Error::RevertUnknown {
            version,
            name: applied
                .iter()
                .find(|a| a.version == version)
                .map(|a| a.name.clone())
                .unwrap_or_default(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Dialect;
    use crate::migrate::source::{Migration, Script};

    fn script(file: &str) -> Script {
        Script {
            file: file.into(),
            sql: String::new(),
            transactional: true,
            foreign_keys_off: false,
        }
    }

    fn set(versions: &[(Version, bool)]) -> MigrationSet {
        MigrationSet {
            dialect: Dialect::Sqlite,
            origin: "test".into(),
            migrations: versions
                .iter()
                .map(|&(version, reversible)| Migration {
                    version,
                    name: format!("m{version}"),
                    up: script(&format!("V{version}__m{version}.sql")),
                    down: reversible.then(|| script(&format!("V{version}__m{version}.down.sql"))),
                    checksum: format!("c{version}"),
                })
                .collect(),
        }
    }

    fn applied(versions: &[Version]) -> Vec<AppliedMigration> {
        versions
            .iter()
            .map(|&v| AppliedMigration {
                version: v,
                name: format!("m{v}"),
                checksum: format!("c{v}"),
                applied_at: "2026-01-01T00:00:00.000Z".into(),
            })
            .collect()
    }

    fn steps(plan: &[PlannedStep]) -> Vec<(Version, Direction)> {
        plan.iter().map(|s| (s.version, s.direction)).collect()
    }

    const UP_ALL: Request = Request::Up {
        to: None,
        count: None,
    };
    const DOWN_ONE: Request = Request::Down {
        to: None,
        count: None,
    };
    use Direction::{Down, Up};

    #[test]
    fn up_applies_pending_in_version_order() {
        let s = set(&[(1, true), (2, true), (3, true)]);
        let plan = plan(&s, &applied(&[1]), UP_ALL, PlanOptions::default()).unwrap();
        assert_eq!(steps(&plan), vec![(2, Up), (3, Up)]);
        assert_eq!(plan[0].expected_latest, Some(1));
        assert_eq!(plan[1].expected_latest, Some(2));
    }

    #[test]
    fn up_to_and_count() {
        let s = set(&[(1, true), (2, true), (3, true)]);
        let to = Request::Up {
            to: Some(2),
            count: None,
        };
        assert_eq!(
            steps(&plan(&s, &[], to, PlanOptions::default()).unwrap()),
            vec![(1, Up), (2, Up)]
        );
        let count = Request::Up {
            to: None,
            count: Some(1),
        };
        assert_eq!(
            steps(&plan(&s, &[], count, PlanOptions::default()).unwrap()),
            vec![(1, Up)]
        );
        let unknown = Request::Up {
            to: Some(7),
            count: None,
        };
        assert!(matches!(
            plan(&s, &[], unknown, PlanOptions::default()),
            Err(Error::UnknownVersion(7))
        ));
    }

    #[test]
    fn up_when_current_is_empty() {
        let s = set(&[(1, true)]);
        assert!(
            plan(&s, &applied(&[1]), UP_ALL, PlanOptions::default())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn out_of_order_pending_stops_unless_allowed() {
        let s = set(&[(1, true), (2, true), (3, true)]);
        let err = plan(&s, &applied(&[1, 3]), UP_ALL, PlanOptions::default()).unwrap_err();
        assert!(matches!(
            err,
            Error::OutOfOrder {
                version: 2,
                latest: 3,
                ..
            }
        ));
        let allowed = PlanOptions {
            allow_out_of_order: true,
            ..Default::default()
        };
        assert_eq!(
            steps(&plan(&s, &applied(&[1, 3]), UP_ALL, allowed).unwrap()),
            vec![(2, Up)]
        );
    }

    #[test]
    fn down_defaults_to_one_step_and_to_keeps_the_target() {
        let s = set(&[(1, true), (2, true), (3, true)]);
        let a = applied(&[1, 2, 3]);
        assert_eq!(
            steps(&plan(&s, &a, DOWN_ONE, PlanOptions::default()).unwrap()),
            vec![(3, Down)]
        );
        let to1 = Request::Down {
            to: Some(1),
            count: None,
        };
        assert_eq!(
            steps(&plan(&s, &a, to1, PlanOptions::default()).unwrap()),
            vec![(3, Down), (2, Down)]
        );
        let to0 = Request::Down {
            to: Some(0),
            count: None,
        };
        assert_eq!(
            steps(&plan(&s, &a, to0, PlanOptions::default()).unwrap()).len(),
            3
        );
        let unknown = Request::Down {
            to: Some(9),
            count: None,
        };
        assert!(matches!(
            plan(&s, &a, unknown, PlanOptions::default()),
            Err(Error::UnknownVersion(9))
        ));
    }

    #[test]
    fn down_with_nothing_applied_is_an_error() {
        let s = set(&[(1, true)]);
        assert!(matches!(
            plan(&s, &[], DOWN_ONE, PlanOptions::default()),
            Err(Error::NothingToRevert)
        ));
        assert!(matches!(
            plan(&s, &[], Request::Redo, PlanOptions::default()),
            Err(Error::NothingToRevert)
        ));
    }

    #[test]
    fn down_refuses_before_any_step_when_one_is_irreversible() {
        let s = set(&[(1, true), (2, false), (3, true)]);
        let to0 = Request::Down {
            to: Some(0),
            count: None,
        };
        let err = plan(&s, &applied(&[1, 2, 3]), to0, PlanOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Irreversible { version: 2, .. }));
    }

    #[test]
    fn redo_reverts_and_reapplies_the_latest() {
        let s = set(&[(1, true), (2, true)]);
        let plan = plan(&s, &applied(&[1, 2]), Request::Redo, PlanOptions::default()).unwrap();
        assert_eq!(steps(&plan), vec![(2, Down), (2, Up)]);
        assert_eq!(plan[1].expected_latest, Some(1));
    }

    #[test]
    fn drift_and_missing_stop_the_plan_unless_allowed() {
        let s = set(&[(1, true), (2, true)]);
        let mut a = applied(&[1, 2, 5]);
        a[0].checksum = "changed".into();
        let (drifted, missing) = drift(&s, &a);
        assert_eq!(drifted.len(), 1);
        assert_eq!(drifted[0].version, 1);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].version, 5);
        let err = plan(&s, &a, UP_ALL, PlanOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Drift(ref items) if items.len() == 2));
        let allowed = PlanOptions {
            allow_drift: true,
            ..Default::default()
        };
        assert!(plan(&s, &a, UP_ALL, allowed).unwrap().is_empty());
    }
}
