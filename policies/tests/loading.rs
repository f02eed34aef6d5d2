//! Loading: the embedded files, the folder, and the errors a broken file gives.

use std::path::{Path, PathBuf};

use heimdell_policies::{CallFacts, PolicyEngine, PolicyError, Principal, Role, ToolKind};
use uuid::Uuid;

fn policies_dir() -> PathBuf {
    // The package folder at run time: a build cache shared between checkouts may hold this
    // binary compiled in another one.
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .to_path_buf()
}

/// A fresh folder holding a copy of the real policy files, removed on drop.
struct TempPolicies(PathBuf);

impl TempPolicies {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("heimdell-policies-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(policies_dir()).unwrap() {
            let path = entry.unwrap().path();
            if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("cedar" | "cedarschema")
            ) {
                std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
            }
        }
        TempPolicies(dir)
    }

    fn write(&self, name: &str, text: &str) -> &Self {
        std::fs::write(self.0.join(name), text).unwrap();
        self
    }

    fn load(&self) -> Result<PolicyEngine, PolicyError> {
        PolicyEngine::load_dir(&self.0)
    }
}

impl Drop for TempPolicies {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn err_text(r: Result<PolicyEngine, PolicyError>) -> String {
    match r {
        Ok(_) => panic!("expected a load error"),
        Err(e) => e.to_string(),
    }
}

/// The agent shares one engine across tasks.
#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + std::fmt::Debug>() {}
    assert_send_sync::<PolicyEngine>();
}

#[test]
fn embedded_loads_and_validates() {
    PolicyEngine::embedded().expect("embedded policies load and validate");
}

#[test]
fn load_dir_reads_the_real_folder_and_agrees_with_embedded() {
    let from_dir = PolicyEngine::load_dir(&policies_dir()).expect("policies/ loads");
    let embedded = PolicyEngine::embedded().unwrap();
    let requester = Principal {
        user_id: Uuid::from_u128(1),
        tenant_id: Uuid::from_u128(9),
        role: Role::Rep,
    };
    let mut call = CallFacts {
        closes_deal: true,
        ..CallFacts::new("move_deal_stage", ToolKind::Write, Uuid::from_u128(9))
    };
    assert_eq!(
        from_dir.on_proposal(&requester, &call),
        embedded.on_proposal(&requester, &call)
    );
    call.closes_deal = false;
    assert_eq!(
        from_dir.on_proposal(&requester, &call),
        embedded.on_proposal(&requester, &call)
    );
}

/// `embedded()` compiles in a fixed list of files; a file added to the folder must be added
/// there too, or the binary and the folder would disagree.
#[test]
fn embedded_list_matches_the_folder() {
    let src = std::fs::read_to_string(policies_dir().join("src/load.rs")).unwrap();
    for entry in std::fs::read_dir(policies_dir()).unwrap() {
        let path = entry.unwrap().path();
        if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("cedar" | "cedarschema")
        ) {
            let name = path.file_name().unwrap().to_str().unwrap();
            assert!(
                src.contains(&format!("include_str!(\"../{name}\")")),
                "{name} is not compiled into PolicyEngine::embedded (src/load.rs)"
            );
        }
    }
}

#[test]
fn syntax_error_names_the_file() {
    let dir = TempPolicies::new();
    dir.write(
        "broken.cedar",
        "@reason(\"x\")\npermit (principal, action == Action::\"propose\", resource) when { resource.tool == };\n",
    );
    let e = dir.load();
    assert!(matches!(e, Err(PolicyError::Parse { .. })));
    let text = err_text(e);
    assert!(text.contains("broken.cedar"), "{text}");
    assert!(text.contains("does not parse"), "{text}");
}

#[test]
fn undefined_attribute_fails_validation_and_names_the_file() {
    let dir = TempPolicies::new();
    dir.write(
        "extra.cedar",
        "@id(\"vip\")\n@reason(\"VIPs may do anything.\")\npermit (principal, action, resource) when { principal.is_vip };\n",
    );
    let e = dir.load();
    assert!(matches!(e, Err(PolicyError::Validation { .. })));
    let text = err_text(e);
    assert!(text.contains("extra.cedar"), "{text}");
    assert!(text.contains("is_vip"), "{text}");
}

#[test]
fn type_error_fails_validation() {
    let dir = TempPolicies::new();
    dir.write(
        "extra.cedar",
        "@reason(\"x\")\nforbid (principal, action, resource) when { resource.bulk == \"yes\" && resource.bulk };\n",
    );
    let text = err_text(dir.load());
    assert!(text.contains("extra.cedar"), "{text}");
}

#[test]
fn unknown_action_fails_validation() {
    let dir = TempPolicies::new();
    dir.write(
        "extra.cedar",
        "@reason(\"x\")\npermit (principal, action == Action::\"delete\", resource);\n",
    );
    let text = err_text(dir.load());
    assert!(
        text.contains("extra.cedar") && text.contains("delete"),
        "{text}"
    );
}

#[test]
fn policy_without_reason_is_refused() {
    let dir = TempPolicies::new();
    dir.write(
        "extra.cedar",
        "@id(\"silent\")\nforbid (principal, action, resource) when { resource.bulk };\n",
    );
    let e = dir.load();
    let text = err_text(e);
    assert!(
        text.contains("extra.cedar") && text.contains("silent") && text.contains("@reason"),
        "{text}"
    );
}

#[test]
fn duplicate_ids_are_refused() {
    let dir = TempPolicies::new();
    let tools = std::fs::read_to_string(dir.0.join("tools.cedar")).unwrap();
    dir.write("tools.cedar", &format!("{tools}\n{tools}"));
    let text = err_text(dir.load());
    assert!(text.contains("tools.cedar"), "{text}");
}

#[test]
fn broken_schema_names_the_file() {
    let dir = TempPolicies::new();
    dir.write("heimdell.cedarschema", "entity User { role: String, ");
    let text = err_text(dir.load());
    assert!(text.contains("heimdell.cedarschema"), "{text}");
}

#[test]
fn missing_or_extra_schema_is_refused() {
    let dir = TempPolicies::new();
    dir.write("second.cedarschema", "entity Tenant;");
    assert!(matches!(
        dir.load(),
        Err(PolicyError::SchemaCount { found: 2, .. })
    ));
    std::fs::remove_file(dir.0.join("second.cedarschema")).unwrap();
    std::fs::remove_file(dir.0.join("heimdell.cedarschema")).unwrap();
    assert!(matches!(
        dir.load(),
        Err(PolicyError::SchemaCount { found: 0, .. })
    ));
}

#[test]
fn missing_folder_is_an_io_error() {
    let e = PolicyEngine::load_dir(Path::new("/nonexistent/heimdell-policies"));
    let text = err_text(e);
    assert!(text.contains("/nonexistent/heimdell-policies"), "{text}");
}

/// Print what a server operator would read, for a look with `--nocapture`.
#[test]
fn show_messages() {
    let dir = TempPolicies::new();
    dir.write(
        "broken.cedar",
        "@reason(\"x\")\npermit (principal, action, resource) when { resource.tool == };\n",
    );
    eprintln!("{}", err_text(dir.load()));
    dir.write(
        "broken.cedar",
        "@reason(\"x\")\npermit (principal, action, resource) when { principal.is_vip };\n",
    );
    eprintln!("{}", err_text(dir.load()));
    dir.write("broken.cedar", "");
    dir.write("heimdell.cedarschema", "entity User { role: Strin };");
    eprintln!("{}", err_text(dir.load()));
}
