//! A suite: `suite.yaml` (name, pass-rate threshold, where the cases are) and every case file
//! under it; running it, and the scorecard.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use serde::Serialize;

use crate::case::{Case, CaseModel, Category, SuiteSpec};
use crate::checks::{ByCategory, Tally, Violation};
use crate::error::EvalError;
use crate::runner::{CaseResult, Engine, run_case};

/// A loaded suite.
#[derive(Debug, Clone)]
pub struct Suite {
    pub spec: SuiteSpec,
    /// Sorted by id.
    pub cases: Vec<Case>,
}

fn case_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), EvalError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| EvalError::Case {
            file: dir.display().to_string(),
            message: e.to_string(),
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            case_files(&p, out)?;
        } else if p
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Parses one case file (YAML, or JSON by its extension) and checks its steps.
pub fn parse_case(file: &Path, text: &str) -> Result<Case, EvalError> {
    let name = file.display().to_string();
    let bad = |message: String| EvalError::Case {
        file: name.clone(),
        message,
    };
    let case: Case = if file.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(text).map_err(|e| bad(e.to_string()))?
    } else {
        serde_saphyr::from_str(text).map_err(|e| bad(e.to_string()))?
    };
    if case.steps.is_empty() {
        return Err(bad("a case needs at least one step".into()));
    }
    for (i, s) in case.steps.iter().enumerate() {
        s.parse(case.model)
            .map_err(|e| bad(format!("step {}: {e}", i + 1)))?;
    }
    if !case.fixture.tenants.contains_key("home") {
        return Err(bad("the fixture needs a tenant named `home`".into()));
    }
    let names =
        crate::fixture::planned_names(&case.fixture).map_err(|e| bad(format!("fixture: {e}")))?;
    case.check_expectations(&names).map_err(bad)?;
    Ok(case)
}

impl Suite {
    /// Loads `dir/suite.yaml` and the cases it points at. Every bad file is reported, by name.
    pub fn load(dir: &Path) -> Result<Suite, Vec<EvalError>> {
        let spec_path = dir.join("suite.yaml");
        let spec: SuiteSpec = std::fs::read_to_string(&spec_path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_saphyr::from_str(&t).map_err(|e| e.to_string()))
            .map_err(|message| {
                vec![EvalError::Case {
                    file: spec_path.display().to_string(),
                    message,
                }]
            })?;
        if !(0.0..=1.0).contains(&spec.threshold) {
            return Err(vec![EvalError::Case {
                file: spec_path.display().to_string(),
                message: "threshold is a pass rate between 0 and 1".into(),
            }]);
        }
        let mut files = Vec::new();
        case_files(&dir.join(&spec.cases), &mut files).map_err(|e| vec![e])?;
        let mut cases = Vec::new();
        let mut errors = Vec::new();
        let mut ids = BTreeSet::new();
        for f in files {
            let parsed = std::fs::read_to_string(&f)
                .map_err(EvalError::from)
                .and_then(|t| parse_case(&f, &t));
            match parsed {
                Ok(c) if !ids.insert(c.id.clone()) => errors.push(EvalError::Case {
                    file: f.display().to_string(),
                    message: format!("the id `{}` is used twice", c.id),
                }),
                Ok(c) => cases.push(c),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Suite { spec, cases })
    }
}

/// Which cases run, and with what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFilter {
    /// Every case with its own model.
    All,
    /// Only the built-in planner's cases.
    Builtin,
    /// Only the scripted cases.
    Scripted,
    /// The built-in planner's cases, driven by the configured remote model.
    Remote,
}

impl ModelFilter {
    pub fn takes(self, case: &Case) -> bool {
        match self {
            ModelFilter::All => true,
            ModelFilter::Builtin | ModelFilter::Remote => case.model == CaseModel::Builtin,
            ModelFilter::Scripted => case.model == CaseModel::Scripted,
        }
    }
}

/// The JSON scorecard.
#[derive(Debug, Clone, Serialize)]
pub struct Scorecard {
    pub suite: String,
    /// The model that drove the `builtin` cases.
    pub model: String,
    pub cases: usize,
    /// Cases that passed every repetition.
    pub passed: usize,
    pub failed: usize,
    pub pass_rate: f64,
    pub threshold: f64,
    pub repeat: usize,
    pub by_category: ByCategory,
    pub violations: Vec<Violation>,
    /// pass^k for k = 1..=repeat: the chance that k runs of a case all pass, averaged over the
    /// cases (tau-bench's estimator: C(successes, k) / C(runs, k)).
    pub pass_hat_k: BTreeMap<String, f64>,
    /// Every failing run, with its transcript.
    pub failures: Vec<CaseResult>,
    pub seconds: f64,
}

impl Scorecard {
    /// Exit status: violations or a pass rate under the threshold fail the run.
    pub fn ok(&self) -> bool {
        self.violations.is_empty() && self.pass_rate + 1e-9 >= self.threshold
    }
}

fn choose(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (k - i) as f64)
}

/// pass^k over cases, from each case's (runs, successes).
pub fn pass_hat_k(counts: &[(usize, usize)], k: usize) -> f64 {
    if counts.is_empty() {
        return 0.0;
    }
    let sum: f64 = counts
        .iter()
        .map(|&(n, c)| choose(c, k) / choose(n, k).max(f64::MIN_POSITIVE))
        .sum();
    sum / counts.len() as f64
}

/// Runs the cases (each `repeat` times, `jobs` cases at once) and scores them.
pub async fn run(
    engine: &Engine,
    suite: &Suite,
    filter: ModelFilter,
    model_name: &str,
    repeat: usize,
    jobs: usize,
    mut progress: impl FnMut(&CaseResult),
) -> Scorecard {
    let started = std::time::Instant::now();
    let repeat = repeat.max(1);
    let chosen: Vec<&Case> = suite.cases.iter().filter(|c| filter.takes(c)).collect();
    let mut results: Vec<Vec<CaseResult>> = Vec::new();
    let mut stream = futures_util::stream::iter(chosen.iter().map(|c| async move {
        let mut runs = Vec::new();
        for _ in 0..repeat {
            runs.push(run_case(engine, c).await);
        }
        runs
    }))
    .buffered(jobs.max(1));
    while let Some(runs) = stream.next().await {
        for r in &runs {
            progress(r);
        }
        results.push(runs);
    }
    let mut by_category: ByCategory = Category::ALL
        .iter()
        .filter(|cat| chosen.iter().any(|c| c.category == **cat))
        .map(|c| (c.as_str().to_string(), Tally::default()))
        .collect();
    let mut violations = Vec::new();
    let mut failures = Vec::new();
    let mut counts = Vec::new();
    let mut passed = 0;
    for runs in &results {
        let ok = runs.iter().filter(|r| r.passed).count();
        counts.push((runs.len(), ok));
        let all = ok == runs.len();
        let t = by_category
            .entry(runs[0].category.as_str().to_string())
            .or_default();
        t.cases += 1;
        if all {
            passed += 1;
            t.passed += 1;
        } else {
            t.failed += 1;
        }
        for r in runs {
            violations.extend(r.violations.iter().cloned());
            if !r.passed {
                failures.push(r.clone());
            }
        }
    }
    let cases = results.len();
    Scorecard {
        suite: suite.spec.name.clone(),
        model: model_name.to_string(),
        cases,
        passed,
        failed: cases - passed,
        pass_rate: if cases == 0 {
            0.0
        } else {
            passed as f64 / cases as f64
        },
        threshold: suite.spec.threshold,
        repeat,
        by_category,
        violations,
        pass_hat_k: (1..=repeat)
            .map(|k| (k.to_string(), pass_hat_k(&counts, k)))
            .collect(),
        failures,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// The table printed after a run, one line per category, then the totals.
pub fn table(card: &Scorecard) -> String {
    let mut out = format!(
        "{:<18} {:>6} {:>7} {:>7}\n",
        "category", "cases", "passed", "failed"
    );
    for (cat, t) in &card.by_category {
        out.push_str(&format!(
            "{cat:<18} {:>6} {:>7} {:>7}\n",
            t.cases, t.passed, t.failed
        ));
    }
    out.push_str(&format!(
        "{:<18} {:>6} {:>7} {:>7}\n",
        "total", card.cases, card.passed, card.failed
    ));
    out.push_str(&format!(
        "pass rate {:.1}% (threshold {:.1}%), violations {}, model {}, {:.1} s\n",
        card.pass_rate * 100.0,
        card.threshold * 100.0,
        card.violations.len(),
        card.model,
        card.seconds
    ));
    for (k, v) in &card.pass_hat_k {
        out.push_str(&format!("pass^{k} = {v:.3}\n"));
    }
    out
}

/// A failing run in words: what failed, what broke, the transcript, proposals and state diff.
pub fn transcript(r: &CaseResult) -> String {
    let mut out = format!("── {} [{}] FAILED ({} ms)\n", r.id, r.category, r.millis);
    for f in &r.failures {
        out.push_str(&format!("  ✗ {f}\n"));
    }
    for v in &r.violations {
        out.push_str(&format!(
            "  ⚠ VIOLATION {} (step {}): {}\n",
            v.rule, v.step, v.detail
        ));
    }
    out.push_str("  transcript:\n");
    for s in &r.steps {
        out.push_str(&format!("    {}. {}\n", s.step, s.label));
        for c in &s.tool_calls {
            out.push_str(&format!("       → {c}\n"));
        }
        if let Some(reply) = &s.reply {
            for line in reply.lines() {
                out.push_str(&format!("       | {line}\n"));
            }
        }
        if let Some(o) = &s.outcome {
            out.push_str(&format!("       = {o}\n"));
        }
        for w in &s.warnings {
            out.push_str(&format!("       ! {w}\n"));
        }
        for a in &s.proposed {
            out.push_str(&format!(
                "       + proposed {} ({}, {}): {}\n",
                a.tool, a.status, a.approver, a.preview
            ));
        }
        for d in &s.diff {
            out.push_str(&format!("       Δ {d}\n"));
        }
    }
    out.push_str("  actions at the end:\n");
    for a in &r.actions {
        out.push_str(&format!(
            "    {} {} ({}) {}\n",
            a.tool, a.status, a.approver, a.args
        ));
    }
    if !r.state_diff.is_empty() {
        out.push_str(&format!("  state diff: {}\n", r.state_diff.join("; ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_hat_k_follows_the_estimator() {
        // One case 3/3, one 2/3: pass^1 = (1 + 2/3)/2, pass^2 = (1 + 1/3)/2, pass^3 = 1/2.
        let counts = [(3, 3), (3, 2)];
        assert!((pass_hat_k(&counts, 1) - 5.0 / 6.0).abs() < 1e-9);
        assert!((pass_hat_k(&counts, 2) - 2.0 / 3.0).abs() < 1e-9);
        assert!((pass_hat_k(&counts, 3) - 0.5).abs() < 1e-9);
        assert_eq!(pass_hat_k(&[(1, 0)], 1), 0.0);
    }

    #[test]
    fn bad_case_files_are_named_with_the_reason() {
        let f = Path::new("evals/cases/x.yaml");
        let e = parse_case(f, "id: x\ncategory: nonsense\nmodel: builtin\nfixture: {tenants: {home: {}}}\nsteps: [{say: hi}]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.yaml"), "{e}");
        let e = parse_case(f, "id: x\ncategory: grounding\nmodel: builtin\nfixture: {tenants: {other: {}}}\nsteps: [{say: hi}]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("home"), "{e}");
        let e = parse_case(f, "id: x\ncategory: grounding\nmodel: scripted\nfixture: {tenants: {home: {}}}\nsteps: [{say: hi}]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("step 1"), "{e}");
        assert!(parse_case(f, "id: x\ncategory: grounding\nmodel: builtin\nfixture: {tenants: {home: {}}}\nsteps: [{say: hi}]").is_ok());
    }

    /// A case with Jane (no email) at home and Bob in another tenant, and `steps` as given.
    fn with_steps(steps: &str) -> String {
        format!(
            "id: x
category: grounding
model: builtin
fixture:
  tenants:
    home:
      contacts: {{jane: {{first_name: Jane, phone: '+12125550101'}}}}
    other:
      contacts: {{bob: {{first_name: Bob}}}}
steps:
{steps}"
        )
    }

    fn refused(steps: &str, why: &str) {
        let f = Path::new("evals/cases/grounding/bad.yaml");
        let e = parse_case(f, &with_steps(steps))
            .expect_err(steps)
            .to_string();
        assert!(e.contains("bad.yaml"), "{e}");
        assert!(e.contains(why), "wanted “{why}” in: {e}");
    }

    #[test]
    fn expectations_that_could_never_fail_are_refused() {
        let f = Path::new("evals/cases/grounding/ok.yaml");
        let good = "  - say: who is Jane?
    expect:
      proposes: [{tool: send_sms, args: {contact_id: '{{jane}}'}}]
      must_not_propose: [start_call]
      reply: {cites: [jane], not_cites: [bob], not_contains: ['{{jane.phone}}', '{{other.action:1}}']}";
        parse_case(f, &with_steps(good)).unwrap();
        // not_cites: a key the fixture does not make, or a record that is never cited.
        refused(
            "  - say: hi\n    expect: {reply: {not_cites: [jim]}}",
            "`jim` names nothing",
        );
        refused(
            "  - say: hi\n    expect: {reply: {not_cites: [rep]}}",
            "never cited",
        );
        // not_contains: a placeholder that cannot be filled.
        refused(
            "  - say: hi\n    expect: {reply: {not_contains: ['{{jim.phone}}']}}",
            "jim",
        );
        refused(
            "  - say: hi\n    expect: {reply: {not_contains: ['{{jane.email}}']}}",
            "no field `email`",
        );
        refused(
            "  - say: hi\n    expect: {reply: {not_contains: ['{{nowhere.action:1}}']}}",
            "no tenant `nowhere`",
        );
        // Tools that are never proposed.
        refused(
            "  - say: hi\n    expect: {proposes: [{tool: send_text}]}",
            "`send_text` is not a tool",
        );
        refused(
            "  - say: hi\n    expect: {must_not_propose: [decide_action]}",
            "runtime tool",
        );
        refused(
            "  - say: hi\n    expect: {must_not_propose: [get_contact]}",
            "only reads",
        );
        // Expectations on a kind of step that never checks them.
        refused(
            "  - say: hi\n    expect: {error_contains: [opted out]}",
            "`error_contains` belongs to `approve`",
        );
        refused(
            "  - say: hi\n  - reject: 1\n    expect: {error_contains: [opted out]}",
            "step 2",
        );
        refused(
            "  - say: hi\n  - approve: 1\n    expect: {reply: {contains: [done]}}",
            "`reply` expectations belong to `say`",
        );
        refused(
            "  - inbound_sms: {from: jane, body: STOP}\n    expect: {reply: {says_unknown: true}}",
            "`reply` expectations belong to `say`",
        );
    }

    #[test]
    fn a_malformed_due_is_a_parse_error_naming_the_file() {
        for due in ["'+'", "'-'", "'+1x'", "soon"] {
            let text = format!(
                "id: x\ncategory: grounding\nmodel: builtin\nfixture: {{tenants: {{home: {{tasks: {{t1: {{title: Call, due: {due}}}}}}}}}}}\nsteps: [{{say: hi}}]"
            );
            let e = parse_case(Path::new("evals/cases/x.yaml"), &text)
                .expect_err(due)
                .to_string();
            assert!(e.contains("x.yaml") && e.contains("t1"), "{e}");
        }
    }
}
