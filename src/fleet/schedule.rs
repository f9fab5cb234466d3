//! Runs one piece of work per database on a few threads, wave after wave, and decides what
//! starts: nothing new after a failure under `--stop-on-failure`, nothing of a later wave
//! after a failure in an earlier one, nothing new once the run is interrupted. Work that has
//! started always runs to its end: each database's run is transactional on its own.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What happens to the rest of a wave after a database fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Start nothing new; the running ones finish.
    StopOnFailure,
    /// Go on with the rest of the wave. A later wave still waits for the earlier to succeed.
    KeepGoing,
}

/// Why a database's work never started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotStarted {
    /// Another database failed and the policy is stop-on-failure.
    EarlierFailure,
    /// A database of an earlier wave (the canaries) failed.
    EarlierWaveFailed,
    /// The run was interrupted (SIGINT).
    Interrupted,
}

impl NotStarted {
    pub fn describe(self) -> &'static str {
        match self {
            NotStarted::EarlierFailure => {
                "not started: another database failed (--stop-on-failure)"
            }
            NotStarted::EarlierWaveFailed => "not started: an earlier wave failed",
            NotStarted::Interrupted => "not started: interrupted",
        }
    }
}

/// One database's part of the run.
#[derive(Debug)]
pub enum Slot<R> {
    Ran {
        result: R,
        ok: bool,
        duration: Duration,
    },
    NotStarted(NotStarted),
}

/// Runs `work(i)` for each index of `waves` (each index once), at most `parallel` at a time;
/// `work` says whether it succeeded. Returns one slot per index below `count`.
pub fn run<R: Send>(
    count: usize,
    waves: &[Vec<usize>],
    parallel: usize,
    policy: Policy,
    interrupted: &AtomicBool,
    work: &(dyn Fn(usize) -> (R, bool) + Sync),
) -> Vec<Slot<R>> {
    let slots: Mutex<Vec<Option<Slot<R>>>> = Mutex::new((0..count).map(|_| None).collect());
    let failed = AtomicBool::new(false);
    for wave in waves {
        let queue: Mutex<VecDeque<usize>> = Mutex::new(wave.iter().copied().collect());
        // Why nothing more may start, checked under the queue's lock before each start.
        let halted = || {
            if interrupted.load(Ordering::SeqCst) {
                Some(NotStarted::Interrupted)
            } else if failed.load(Ordering::SeqCst) {
                // Waves after a failed one never start, so this failure is this wave's.
                match policy {
                    Policy::StopOnFailure => Some(NotStarted::EarlierFailure),
                    Policy::KeepGoing => None,
                }
            } else {
                None
            }
        };
        let next = || {
            let mut queue = queue.lock().unwrap_or_else(|e| e.into_inner());
            match halted() {
                Some(_) => None,
                None => queue.pop_front(),
            }
        };
        let workers = parallel.max(1).min(wave.len());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    while let Some(index) = next() {
                        let started = Instant::now();
                        let (result, ok) = work(index);
                        if !ok {
                            failed.store(true, Ordering::SeqCst);
                        }
                        let slot = Slot::Ran {
                            result,
                            ok,
                            duration: started.elapsed(),
                        };
                        slots.lock().unwrap_or_else(|e| e.into_inner())[index] = Some(slot);
                    }
                });
            }
        });
        // What was left in the queue never started; say why.
        let left: Vec<usize> = queue.into_inner().unwrap_or_else(|e| e.into_inner()).into();
        let reason = halted().unwrap_or(NotStarted::EarlierFailure);
        let mut slots_now = slots.lock().unwrap_or_else(|e| e.into_inner());
        for index in left {
            slots_now[index] = Some(Slot::NotStarted(reason));
        }
        drop(slots_now);
        // A later wave starts only when every database before it succeeded.
        if failed.load(Ordering::SeqCst) || interrupted.load(Ordering::SeqCst) {
            let reason = if interrupted.load(Ordering::SeqCst) {
                NotStarted::Interrupted
            } else {
                NotStarted::EarlierWaveFailed
            };
            let mut slots_now = slots.lock().unwrap_or_else(|e| e.into_inner());
            for later in waves.iter().skip_while(|w| !std::ptr::eq(*w, wave)).skip(1) {
                for &index in later {
                    slots_now[index] = Some(Slot::NotStarted(reason));
                }
            }
            break;
        }
    }
    slots
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|slot| slot.unwrap_or(Slot::NotStarted(NotStarted::EarlierWaveFailed)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Which indices ran, and the reasons of those that did not.
    fn outcome(slots: &[Slot<()>]) -> (Vec<usize>, Vec<(usize, NotStarted)>) {
        let mut ran = Vec::new();
        let mut not = Vec::new();
        for (i, slot) in slots.iter().enumerate() {
            match slot {
                Slot::Ran { .. } => ran.push(i),
                Slot::NotStarted(why) => not.push((i, *why)),
            }
        }
        (ran, not)
    }

    #[test]
    fn stop_on_failure_starts_nothing_after_a_failure_and_keep_going_runs_the_rest() {
        let never = AtomicBool::new(false);
        let fail_at_2 = |i: usize| ((), i != 2);
        let waves = vec![(0..6).collect::<Vec<_>>()];
        let stop = run(6, &waves, 1, Policy::StopOnFailure, &never, &fail_at_2);
        let (ran, not) = outcome(&stop);
        assert_eq!(ran, [0, 1, 2]);
        assert!(
            not.iter()
                .all(|(_, why)| *why == NotStarted::EarlierFailure),
            "{not:?}"
        );
        assert_eq!(not.len(), 3);

        let keep = run(6, &waves, 1, Policy::KeepGoing, &never, &fail_at_2);
        assert_eq!(outcome(&keep).0, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_failed_wave_stops_the_later_ones_under_either_policy() {
        let never = AtomicBool::new(false);
        let waves = vec![vec![0, 1], vec![2, 3, 4]];
        for policy in [Policy::StopOnFailure, Policy::KeepGoing] {
            let slots = run(5, &waves, 4, policy, &never, &|i| ((), i != 1));
            let (ran, not) = outcome(&slots);
            assert_eq!(ran, [0, 1], "{policy:?}");
            assert_eq!(
                not,
                [2, 3, 4].map(|i| (i, NotStarted::EarlierWaveFailed)),
                "{policy:?}"
            );
        }
        let all_ok = run(5, &waves, 4, Policy::StopOnFailure, &never, &|_| ((), true));
        assert_eq!(outcome(&all_ok).0, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn each_index_runs_once_and_no_more_than_parallel_at_a_time() {
        let never = AtomicBool::new(false);
        let runs: Vec<AtomicUsize> = (0..40).map(|_| AtomicUsize::new(0)).collect();
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let waves = vec![(0..10).collect(), (10..40).collect()];
        let slots = run(40, &waves, 4, Policy::KeepGoing, &never, &|i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            runs[i].fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(2));
            running.fetch_sub(1, Ordering::SeqCst);
            ((), true)
        });
        assert!(runs.iter().all(|n| n.load(Ordering::SeqCst) == 1));
        assert_eq!(outcome(&slots).0.len(), 40);
        assert!(most.load(Ordering::SeqCst) <= 4, "{most:?}");
    }

    #[test]
    fn an_interruption_lets_running_work_finish_and_starts_nothing_more() {
        let interrupted = AtomicBool::new(false);
        let waves = vec![(0..8).collect::<Vec<_>>(), vec![8, 9]];
        let slots = run(10, &waves, 2, Policy::KeepGoing, &interrupted, &|i| {
            if i == 2 {
                interrupted.store(true, Ordering::SeqCst);
            }
            ((), true)
        });
        let (ran, not) = outcome(&slots);
        // 2 raised the flag while it ran, and finished; at most one other was running then.
        assert!(ran.contains(&2) && ran.len() <= 4, "{ran:?}");
        assert!(
            not.iter().all(|(_, why)| *why == NotStarted::Interrupted),
            "{not:?}"
        );
        assert!(not.iter().any(|(i, _)| *i == 9));
        assert_eq!(ran.len() + not.len(), 10);
    }
}
