//! The machinery of `tests/synnefo_differential.rs`: backends, what is
//! observed of an answer, and the comparison of two runs against the
//! table of deliberate differences.

#![allow(dead_code)]

pub mod backend;
pub mod shape;

use std::collections::BTreeMap;

pub use backend::{Answer, Backend, Kind, Mode, Svc, User};
pub use shape::{Diff, Obs, compare};

/// A difference the simulator keeps on purpose (or, for `pending`, one
/// whose fix is under way elsewhere), with its reason.
#[derive(Clone, Copy, Debug)]
pub struct Deliberate {
    /// The step, or `*` for every step where it occurs.
    pub step: &'static str,
    /// The difference exactly as [`Diff::what`] words it.
    pub what: &'static str,
    /// Why it stays.
    pub why: &'static str,
}

/// The outcome of comparing two runs.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Steps compared.
    pub compared: usize,
    /// Steps skipped on one side or both (a precondition that did not
    /// hold), by step, with why.
    pub skipped: Vec<(String, String)>,
    /// Differences found, listed or not.
    pub found: Vec<Diff>,
    /// Differences found that no table entry covers.
    pub unlisted: Vec<Diff>,
    /// Table entries that matched nothing (of the steps observed).
    pub stale: Vec<Deliberate>,
}

fn covers(d: &Deliberate, diff: &Diff) -> bool {
    (d.step == "*" || d.step == diff.step) && d.what == diff.what
}

/// Compares the simulator's run with Synnefo's, step by step, and the
/// differences with `table`.
pub fn judge(sim: &[Obs], real: &[Obs], table: &[Deliberate]) -> Verdict {
    let mut v = Verdict::default();
    let real_by: BTreeMap<&str, &Obs> = real.iter().map(|o| (o.step.as_str(), o)).collect();
    let sim_steps: BTreeMap<&str, &Obs> = sim.iter().map(|o| (o.step.as_str(), o)).collect();
    for s in sim {
        match real_by.get(s.step.as_str()) {
            None => v.found.push(Diff {
                step: s.step.clone(),
                what: "step: simulator only".into(),
            }),
            Some(r) => match (&s.skipped, &r.skipped) {
                (None, None) => {
                    v.compared += 1;
                    v.found.extend(compare(s, r));
                }
                (Some(why), None) => v.found.push(Diff {
                    step: s.step.clone(),
                    what: format!("step: skipped on simulator only ({why})"),
                }),
                (a, b) => {
                    let why = [("simulator", a), ("synnefo", b)]
                        .iter()
                        .filter_map(|(k, w)| w.as_ref().map(|w| format!("{k}: {w}")))
                        .collect::<Vec<_>>()
                        .join("; ");
                    v.skipped.push((s.step.clone(), why));
                }
            },
        }
    }
    for r in real
        .iter()
        .filter(|r| !sim_steps.contains_key(r.step.as_str()))
    {
        v.found.push(Diff {
            step: r.step.clone(),
            what: "step: synnefo only".into(),
        });
    }
    v.unlisted = v
        .found
        .iter()
        .filter(|d| !table.iter().any(|t| covers(t, d)))
        .cloned()
        .collect();
    // An entry whose step could not be observed (skipped) is not stale:
    // it was not seen, nor could it be.
    let skipped: Vec<&str> = v.skipped.iter().map(|(s, _)| s.as_str()).collect();
    v.stale = table
        .iter()
        .filter(|t| !skipped.contains(&t.step))
        .filter(|t| !v.found.iter().any(|d| covers(t, d)))
        .copied()
        .collect();
    v
}

/// A run's observations as text, one step a line (for the log of a
/// failed comparison and for reading what a backend answered).
pub fn transcript(obs: &[Obs]) -> String {
    let mut out = String::new();
    for o in obs {
        let what = match (&o.skipped, &o.fault) {
            (Some(w), _) => format!("skipped: {w}"),
            (None, Some(f)) => format!("{} {} {:?} {:?}", o.status, f.kind, f.message, f.details),
            (None, None) => format!("{}", o.status),
        };
        out.push_str(&format!("{:<48} {:<60} {what}\n", o.step, o.request));
    }
    out
}
