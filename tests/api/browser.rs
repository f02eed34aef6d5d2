//! The browser panel in headless Chromium, driven over WebDriver (fantoccini), against the real
//! server and the demo data. Each test starts its own chromedriver on a free loopback port and
//! a fresh browser profile; a guard kills them (the whole process group) when the test ends,
//! however it ends. Browser tests run one at a time: two Chromiums at once only make both slow.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`make browser-deps`).
//! `HEIMDELL_SCREENSHOTS=1` writes screenshots of the main views to /tmp/heimdell-*.png.

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use heimdell::seed::{SeedOptions, SeededUser, seed_demo};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Member, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long to wait for the page to reach a state before failing.
const PATIENCE: Duration = Duration::from_secs(20);
/// A chat turn may take longer (a real model behind it).
const CHAT_PATIENCE: Duration = Duration::from_secs(60);

/// One browser test at a time in this process.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A running chromedriver (and, below it, Chromium) plus its throw-away profile.
struct Driver {
    child: Child,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver leads its own process group, and Chromium runs inside it: end the group.
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().unwrap().port()
}

async fn start_driver() -> (Driver, u16) {
    for bin in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} is missing: browser tests need Debian's chromium and chromium-driver (run `make browser-deps`)"
        );
    }
    let profile = std::env::temp_dir().join(format!(
        "heimdell-chromium-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&profile).unwrap();
    let mut last_err = String::new();
    for _attempt in 0..3 {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            profile: profile.clone(),
        };
        let http = reqwest::Client::new();
        let status_url = format!("http://127.0.0.1:{port}/status");
        for _ in 0..100 {
            match http.get(&status_url).send().await {
                Ok(r) if r.status().is_success() => {
                    let v: Value = r.json().await.unwrap_or_default();
                    if v["value"]["ready"] == json!(true) {
                        return (driver, port);
                    }
                    last_err = format!("not ready: {v}");
                }
                Ok(r) => last_err = format!("status {}", r.status()),
                Err(e) => last_err = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Probably lost the port to someone else: drop this one and try another.
        drop(driver);
        std::fs::create_dir_all(&profile).unwrap();
    }
    panic!("chromedriver did not become ready: {last_err}");
}

/// A headless Chromium session on the test server.
struct Browser {
    c: Client,
    base: String,
    _driver: Driver,
}

impl Browser {
    async fn open(app: &TestApp) -> Browser {
        let (driver, port) = start_driver().await;
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", driver.profile.display()),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("start a Chromium session through chromedriver");
        Browser {
            c,
            base: app.base.clone(),
            _driver: driver,
        }
    }

    async fn close(self) {
        let Browser { c, _driver, .. } = self;
        let _ = c.close().await;
        drop(_driver);
    }

    async fn goto(&self, hash: &str) {
        self.c
            .goto(&format!("{}/{hash}", self.base))
            .await
            .expect("navigate");
    }

    /// Changes the route the way a link does (no reload) and waits until the panel took it.
    async fn route(&self, hash: &str) {
        self.js(
            "location.hash = arguments[0]; return true;",
            vec![json!(hash)],
        )
        .await;
        self.wait_js(
            &format!("the panel to show {hash}"),
            PATIENCE,
            "return document.body.dataset.route === arguments[0];",
            vec![json!(hash)],
        )
        .await;
    }

    /// Types into whatever has focus, as a keyboard would.
    async fn type_text(&self, text: &str) {
        self.c
            .active_element()
            .await
            .expect("something has focus")
            .send_keys(text)
            .await
            .expect("type");
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.c
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// What the page says right now (alerts and main), for failure messages.
    async fn page_text(&self) -> String {
        let v = self
            .c
            .execute(
                "const a = document.getElementById('alerts'); const m = document.getElementById('main');
                 return 'URL: ' + location.href + '\\nALERTS: ' + (a ? a.innerText : '') + '\\nMAIN: ' + (m ? m.innerText : '');",
                vec![],
            )
            .await
            .unwrap_or_default();
        v.as_str().unwrap_or_default().chars().take(3000).collect()
    }

    /// Polls `script` (which returns something truthy when ready) until it does.
    async fn wait_js(
        &self,
        what: &str,
        patience: Duration,
        script: &str,
        args: Vec<Value>,
    ) -> Value {
        let started = Instant::now();
        loop {
            let v = self.js(script, args.clone()).await;
            let ready = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if ready {
                return v;
            }
            if started.elapsed() > patience {
                panic!(
                    "timed out after {patience:?} waiting for {what}\n{}",
                    self.page_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an element matching `css` whose text contains `text`; returns its text.
    async fn wait_text(&self, css: &str, text: &str, patience: Duration) -> String {
        let v = self
            .wait_js(
                &format!("`{css}` containing “{text}”"),
                patience,
                "for (const el of document.querySelectorAll(arguments[0])) {
                   if (el.innerText.includes(arguments[1])) return el.innerText;
                 }
                 return null;",
                vec![json!(css), json!(text)],
            )
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .c
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(el) => el,
            Err(e) => panic!("no `{css}` ({e})\n{}", self.page_text().await),
        }
    }

    /// Waits until the view has finished loading (no spinner left in main).
    async fn settled(&self) {
        self.wait_js(
            "the view to finish loading",
            PATIENCE,
            "const m = document.getElementById('main');
             return !!m && m.children.length > 0 && !m.querySelector('.loading') && !document.getElementById('boot');",
            vec![],
        )
        .await;
    }

    async fn sign_in(&self, email: &str, password: &str) {
        self.goto("#/signin").await;
        self.wait_for("#email")
            .await
            .send_keys(email)
            .await
            .unwrap();
        self.c
            .find(Locator::Css("#password"))
            .await
            .unwrap()
            .send_keys(password)
            .await
            .unwrap();
        self.c
            .find(Locator::Css("#sign-in"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait_js(
            "the signed-in panel",
            PATIENCE,
            "const t = document.getElementById('topbar'); return !!t && !t.hidden;",
            vec![],
        )
        .await;
    }

    async fn sign_out(&self) {
        self.c
            .find(Locator::Css("#sign-out"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait_for("#email").await;
    }

    async fn press(&self, key: Key) {
        let keys = KeyActions::new("keyboard".to_string())
            .then(KeyAction::Down { value: key.into() })
            .then(KeyAction::Up { value: key.into() });
        self.c.perform_actions(keys).await.expect("press a key");
    }

    /// Sets the viewport (not the window) to `width` × `height` CSS pixels.
    async fn viewport(&self, width: u32, height: u32) {
        self.c.set_window_size(width, height).await.unwrap();
        let inner = self.js("return window.innerWidth;", vec![]).await;
        let inner = inner.as_u64().unwrap_or(u64::from(width)) as u32;
        if inner != width {
            let outer = width + width.saturating_sub(inner);
            self.c.set_window_size(outer, height).await.unwrap();
        }
    }

    async fn assert_no_horizontal_overflow(&self, view: &str) {
        let v = self
            .js(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await;
        let scroll = v[0].as_u64().unwrap();
        let inner = v[1].as_u64().unwrap();
        assert!(
            scroll <= inner,
            "{view}: the page is {scroll}px wide in a {inner}px viewport"
        );
    }

    async fn screenshot(&self, name: &str) {
        if std::env::var_os("HEIMDELL_SCREENSHOTS").is_none() {
            return;
        }
        let png = self.c.screenshot().await.expect("screenshot");
        std::fs::write(format!("/tmp/heimdell-{name}.png"), png).unwrap();
    }
}

/// The demo tenant's people, with the passwords and tokens this seed run issued.
struct Demo {
    rep: Member,
    rep_password: String,
    manager: Member,
    manager_password: String,
}

async fn member(app: &TestApp, u: &SeededUser) -> Member {
    let role = match u.role.as_str() {
        "admin" => "admin",
        "manager" => "manager",
        _ => "rep",
    };
    let mut m = Member {
        id: uuid::Uuid::nil(),
        email: u.email.clone(),
        role,
        token: u.token.clone(),
    };
    let (status, v) = app.get(&m, "/api/v1/session").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    m.id = v["user"]["id"].as_str().unwrap().parse().unwrap();
    m
}

async fn demo(app: &TestApp) -> Demo {
    let report = seed_demo(&app.pool, &SeedOptions::default())
        .await
        .expect("seed the demo data");
    let acme = &report.tenants[0];
    let find = |role: &str| {
        acme.users
            .iter()
            .find(|u| u.role == role)
            .unwrap_or_else(|| panic!("the demo tenant has a {role}"))
    };
    let (rep, manager) = (find("rep"), find("manager"));
    Demo {
        rep: member(app, rep).await,
        rep_password: rep.password.clone(),
        manager: member(app, manager).await,
        manager_password: manager.password.clone(),
    }
}

/// Open deals owned by `who`.
async fn open_deals_of(app: &TestApp, who: &Member) -> Vec<Value> {
    let (status, v) = app.get(who, "/api/v1/deals?limit=100").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["owner_id"] == json!(who.id)
                && d["stage_is_won"] == json!(false)
                && d["stage_is_lost"] == json!(false)
        })
        .cloned()
        .collect()
}

/// Proposes a deal's move to Won as `who` (a rep: it waits for a manager); returns the action id.
async fn propose_won(app: &TestApp, who: &Member, deal: &Value) -> String {
    let (status, v) = app
        .propose(
            who,
            "move_deal_stage",
            json!({"deal_id": deal["id"], "stage": "Won"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "pending");
    assert_eq!(v["approver_role"], "manager");
    v["id"].as_str().unwrap().to_string()
}

fn card(id: &str) -> String {
    format!(".action-card[data-action-id=\"{id}\"]")
}

// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn browser_panel_is_served_with_strict_headers() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let csp = h["content-security-policy"].to_str().unwrap().to_string();
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(part), "CSP has {part}: {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("<script src=\"/assets/app.js\" defer></script>"));

    for (path, ty) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/icon.svg", "image/svg+xml; charset=utf-8"),
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["content-type"], ty, "{path}");
        let etag = r.headers()["etag"].clone();
        let r = app
            .client
            .get(app.url(path))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{path} revalidates");
    }
    // Anything else is still the API's JSON 404.
    let r = app
        .client
        .get(app.url("/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn browser_wrong_password_is_shown_in_words() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = TestApp::spawn().await;
    let d = demo(&app).await;
    let b = Browser::open(&app).await;
    b.goto("").await;
    b.wait_for("#email")
        .await
        .send_keys(&d.rep.email)
        .await
        .unwrap();
    b.c.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys("not-the-password")
        .await
        .unwrap();
    b.c.find(Locator::Css("#sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_text("#alerts", "Wrong email or password.", PATIENCE)
        .await;
    // The form is still there to try again, with the password selected for retyping.
    let active = b.js("return document.activeElement.id;", vec![]).await;
    assert_eq!(active, "password");
    assert!(b.c.find(Locator::Css("#sign-in")).await.is_ok());
    b.screenshot("signin-error-laptop").await;
    b.close().await;
}

#[tokio::test]
async fn browser_manager_approves_a_reps_won_deal_from_the_queue() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = TestApp::spawn().await;
    let d = demo(&app).await;
    let deals = open_deals_of(&app, &d.rep).await;
    let deal = deals.first().expect("the demo rep owns an open deal");
    let action = propose_won(&app, &d.rep, deal).await;

    let b = Browser::open(&app).await;
    // The rep sees the request waiting for a manager, with nothing to click.
    b.sign_in(&d.rep.email, &d.rep_password).await;
    b.route("#/approvals").await;
    let text = b
        .wait_text(&card(&action), "Waiting for a manager", PATIENCE)
        .await;
    assert!(text.contains("Move deal"), "{text}");
    assert!(
        b.c.find(Locator::Css(&format!(
            "{} [data-act=\"approve\"]",
            card(&action)
        )))
        .await
        .is_err(),
        "a rep cannot approve a move to Won"
    );
    b.sign_out().await;

    // The manager approves it from the queue.
    b.sign_in(&d.manager.email, &d.manager_password).await;
    b.route("#/approvals").await;
    b.wait_text(&card(&action), "Pending approval", PATIENCE)
        .await;
    b.screenshot("approvals-laptop").await;
    b.c.find(Locator::Css(&format!(
        "{} [data-act=\"approve\"]",
        card(&action)
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let text = b.wait_text(&card(&action), "Executed", PATIENCE).await;
    assert!(text.contains("Approved by you"), "{text}");

    let (status, v) = app
        .get(
            &d.rep,
            &format!("/api/v1/deals/{}", deal["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["stage_name"], "Won", "{v}");
    assert_eq!(v["stage_is_won"], true);
    b.close().await;
}

#[tokio::test]
async fn browser_a_decision_made_elsewhere_shows_up_live() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = TestApp::spawn().await;
    let d = demo(&app).await;
    let deals = open_deals_of(&app, &d.rep).await;
    let deal = deals.first().expect("the demo rep owns an open deal");
    let action = propose_won(&app, &d.rep, deal).await;

    let b = Browser::open(&app).await;
    b.sign_in(&d.rep.email, &d.rep_password).await;
    b.route("#/approvals").await;
    b.wait_text(&card(&action), "Pending approval", PATIENCE)
        .await;

    // The manager rejects it through the API while the rep is looking.
    let r = app
        .client
        .post(app.url(&format!("/api/v1/actions/{action}/reject")))
        .bearer_auth(&d.manager.token)
        .json(&json!({"reason": "Wait for the signed contract"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = b.wait_text(&card(&action), "Rejected", PATIENCE).await;
    assert!(text.contains("Wait for the signed contract"), "{text}");
    b.close().await;
}

#[tokio::test]
async fn browser_editing_arguments_before_approving() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = TestApp::spawn().await;
    let d = demo(&app).await;
    let (status, v) = app
        .propose(
            &d.rep,
            "create_task",
            json!({"title": "Send the propsal", "due_at": "2030-01-15T15:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let action = v["id"].as_str().unwrap().to_string();

    let b = Browser::open(&app).await;
    b.sign_in(&d.rep.email, &d.rep_password).await;
    b.route("#/approvals").await;
    let sel = card(&action);
    b.wait_text(&sel, "Pending approval", PATIENCE).await;
    b.c.find(Locator::Css(&format!("{sel} [data-act=\"edit\"]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let title = b.wait_for(&format!("{sel} [data-field=\"title\"]")).await;
    let due = b.wait_for(&format!("{sel} [data-field=\"due_at\"]")).await;

    // A value the schema refuses: the server's words, next to the field.
    due.clear().await.unwrap();
    due.send_keys("next tuesday").await.unwrap();
    b.c.find(Locator::Css(&format!("{sel} button[type=\"submit\"]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_text(&format!("{sel} .card-error"), "due_at", PATIENCE)
        .await;
    b.wait_js(
        "the due_at field marked invalid",
        PATIENCE,
        "return !!document.querySelector(arguments[0] + ' [data-field=\"due_at\"][aria-invalid=\"true\"]');",
        vec![json!(sel)],
    )
    .await;
    b.screenshot("approval-edit-laptop").await;

    // Fixed: approve with the changes (the form kept what was typed).
    due.clear().await.unwrap();
    due.send_keys("2030-01-16T15:00:00Z").await.unwrap();
    title.clear().await.unwrap();
    title.send_keys("Send the proposal").await.unwrap();
    b.c.find(Locator::Css(&format!("{sel} button[type=\"submit\"]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_text(&sel, "Executed", PATIENCE).await;

    let (status, v) = app.get(&d.rep, &format!("/api/v1/actions/{action}")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["result"]["task"]["title"], "Send the proposal", "{v}");
    assert_eq!(v["result"]["task"]["due_at"], "2030-01-16T15:00:00Z", "{v}");
    b.close().await;
}

#[tokio::test]
async fn browser_a_lost_connection_is_said_in_words() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = TestApp::spawn().await;
    let d = demo(&app).await;
    let b = Browser::open(&app).await;
    b.sign_in(&d.rep.email, &d.rep_password).await;
    b.route("#/approvals").await;
    b.settled().await;
    // The server goes away; the queue's next refresh cannot reach it.
    drop(app);
    b.wait_text("#alerts", "Can't reach the server. Retrying…", PATIENCE)
        .await;
    let main = b
        .js("return document.getElementById('main').innerText;", vec![])
        .await;
    assert!(
        main.as_str().unwrap_or_default().contains("Approvals"),
        "the view stays on screen: {main}"
    );
    b.close().await;
}

/// Chat → approval card → Approve → executed → the task is on today's focus list.
///
/// The request asks for a task due **today at 23:59** (in the rep's time zone): whatever the
/// time of day the test runs, that is on today's list (due today, or overdue if the clock
/// has just passed it), while "tomorrow" never would be. The title is read back from the
/// executed action, so the check does not depend on how the Copilot words it.
#[tokio::test]
async fn browser_rep_asks_the_chat_for_a_task_approves_it_and_sees_it_in_focus() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = TestApp::spawn().await;
    let d = demo(&app).await;
    let b = Browser::open(&app).await;
    b.sign_in(&d.rep.email, &d.rep_password).await;
    b.route("#/chat").await;
    let input = b.wait_for(".chat-input").await;
    input
        .send_keys("Create a task to send the proposal today at 23:59")
        .await
        .unwrap();
    input.send_keys(&Key::Enter).await.unwrap();

    let pending = ".msg-assistant .action-card[data-status=\"pending\"]";
    let v = b
        .wait_js(
            "an approval card in the reply",
            CHAT_PATIENCE,
            "const c = document.querySelector(arguments[0]); return c ? c.dataset.actionId : null;",
            vec![json!(pending)],
        )
        .await;
    let action = v.as_str().unwrap().to_string();
    let sel = card(&action);
    let text = b.wait_text(&sel, "Create task", PATIENCE).await;
    assert!(text.to_lowercase().contains("proposal"), "{text}");
    b.screenshot("chat-card-laptop").await;
    b.wait_for(&format!("{sel} [data-act=\"approve\"]"))
        .await
        .click()
        .await
        .unwrap();
    b.wait_text(&sel, "Executed", PATIENCE).await;
    b.screenshot("chat-executed-laptop").await;
    // The address now names the thread, so it can be opened again.
    let thread_hash = b.js("return location.hash;", vec![]).await;
    let thread_hash = thread_hash.as_str().unwrap().to_string();
    assert!(thread_hash.starts_with("#/chat/"), "{thread_hash}");
    // The conversation with its card also fits a phone.
    b.viewport(375, 812).await;
    b.assert_no_horizontal_overflow("chat with a card at phone width")
        .await;
    b.screenshot("chat-card-phone").await;
    b.viewport(1280, 900).await;

    let (status, v) = app.get(&d.rep, &format!("/api/v1/actions/{action}")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "executed", "{v}");
    let title = v["result"]["task"]["title"].as_str().unwrap().to_string();
    assert!(v["result"]["task"]["due_at"].is_string(), "{v}");

    b.route("#/focus").await;
    b.settled().await;
    b.wait_text(".focus-item", &title, PATIENCE).await;

    // Reloading the conversation shows the card as it is now.
    b.goto(&thread_hash).await;
    b.wait_text(&sel, "Executed", PATIENCE).await;
    b.wait_text(".thread-list a[aria-current=\"page\"]", "", PATIENCE)
        .await;
    b.close().await;
}

/// A record page opens the chat on the record: its messages carry the record as context, so
/// the thread the server starts is about that contact.
#[tokio::test]
async fn browser_record_page_chat_is_about_the_record() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = TestApp::spawn().await;
    let d = demo(&app).await;
    let deal = open_deals_of(&app, &d.rep)
        .await
        .into_iter()
        .find(|x| x["contact_id"].is_string())
        .expect("the demo rep has an open deal with a contact");
    let contact = deal["contact_id"].as_str().unwrap().to_string();
    let (status, c) = app
        .get(&d.rep, &format!("/api/v1/contacts/{contact}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let name = format!(
        "{} {}",
        c["first_name"].as_str().unwrap(),
        c["last_name"].as_str().unwrap()
    );

    let b = Browser::open(&app).await;
    b.sign_in(&d.rep.email, &d.rep_password).await;
    b.route(&format!("#/contact/{contact}")).await;
    b.settled().await;
    b.wait_text("#page-title", &name, PATIENCE).await;
    let input = b.wait_for(".record-chat .chat-input").await;
    input.send_keys("Summarise this record").await.unwrap();
    input.send_keys(&Key::Enter).await.unwrap();
    let thread = b
        .wait_js(
            "the record's thread to start",
            CHAT_PATIENCE,
            "return sessionStorage.getItem('heimdell.thread.contact.' + arguments[0]);",
            vec![json!(contact)],
        )
        .await;
    let (status, t) = app
        .get(
            &d.rep,
            &format!("/api/v1/threads/{}", thread.as_str().unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["context_type"], "contact", "{t}");
    assert_eq!(t["context_id"], json!(contact), "{t}");
    b.screenshot("contact-chat-laptop").await;
    b.close().await;
}

/// Keyboard only: sign in, Tab from the top of the page to the chat input, type, Enter.
#[tokio::test]
async fn browser_keyboard_only_chat() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = TestApp::spawn().await;
    let d = demo(&app).await;
    let b = Browser::open(&app).await;
    b.goto("#/signin").await;
    b.wait_for("#email").await;
    // Sign-in starts in the email field; everything after is typed.
    let active = b.js("return document.activeElement.id;", vec![]).await;
    assert_eq!(active, "email");
    b.type_text(&d.rep.email).await;
    b.press(Key::Tab).await;
    b.type_text(&d.rep_password).await;
    b.press(Key::Enter).await;
    b.wait_for(".chat-input").await;

    // From the skip link at the top, Tab reaches the chat input in a bounded number of steps.
    b.js(
        "document.getElementById('skip-link').focus(); return true;",
        vec![],
    )
    .await;
    let mut reached = false;
    for _ in 0..40 {
        b.press(Key::Tab).await;
        let is_input = b
            .js(
                "return document.activeElement.classList.contains('chat-input');",
                vec![],
            )
            .await;
        if is_input == json!(true) {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab never reached the chat input");
    // What has focus is visibly marked.
    let ring = b
        .js(
            "return getComputedStyle(document.activeElement).boxShadow;",
            vec![],
        )
        .await;
    assert_ne!(ring, json!("none"), "the focused input shows a focus ring");

    b.type_text("What's on my plate today?").await;
    b.press(Key::Enter).await;
    b.wait_text(".msg-user", "What's on my plate today?", PATIENCE)
        .await;
    b.wait_js(
        "a finished reply",
        CHAT_PATIENCE,
        "const m = [...document.querySelectorAll('.msg-assistant')].pop();
         return m && !m.classList.contains('streaming') && m.getAttribute('aria-busy') !== 'true'
           ? m.innerText : null;",
        vec![],
    )
    .await;
    let failed = b
        .js("return !!document.querySelector('.msg-failed');", vec![])
        .await;
    assert_eq!(failed, json!(false), "{}", b.page_text().await);
    b.screenshot("chat-reply-laptop").await;
    b.close().await;
}

/// The main views at laptop and phone width: each renders, and nothing is wider than the
/// viewport at 375 px.
#[tokio::test]
async fn browser_main_views_fit_a_phone_and_a_laptop() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = TestApp::spawn().await;
    let d = demo(&app).await;
    let deal = open_deals_of(&app, &d.manager)
        .await
        .into_iter()
        .next()
        .expect("the demo manager owns an open deal");
    // A waiting card for the approvals view.
    let rep_deal = open_deals_of(&app, &d.rep).await;
    propose_won(&app, &d.rep, &rep_deal[0]).await;
    let contact_id = deal["contact_id"].as_str().map(String::from);
    let company_id = deal["company_id"].as_str().map(String::from);

    let b = Browser::open(&app).await;
    b.sign_in(&d.manager.email, &d.manager_password).await;
    // Anything the Content-Security-Policy blocks while the views render is a bug.
    b.js(
        "window.cspViolations = [];
         document.addEventListener('securitypolicyviolation',
           (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
         return true;",
        vec![],
    )
    .await;
    let mut views = vec![
        ("chat", "#/chat".to_string(), ".chat-input"),
        ("focus", "#/focus".to_string(), ".focus-body"),
        ("focus-team", "#/focus/team".to_string(), ".focus-body"),
        ("approvals", "#/approvals".to_string(), ".action-card"),
        (
            "deal",
            format!("#/deal/{}", deal["id"].as_str().unwrap()),
            ".stages",
        ),
        ("search", "#/search?q=a".to_string(), ".search-results .row"),
    ];
    if let Some(id) = contact_id {
        views.push((
            "contact",
            format!("#/contact/{id}"),
            ".timeline, .record-details .facts",
        ));
    }
    if let Some(id) = company_id {
        views.push((
            "company",
            format!("#/company/{id}"),
            ".record-details .facts",
        ));
    }
    for (width, height, size) in [(1280, 900, "laptop"), (375, 812, "phone")] {
        b.viewport(width, height).await;
        for (name, hash, marker) in &views {
            b.route(hash).await;
            b.wait_for(marker).await;
            b.settled().await;
            let blank = b
                .js(
                    "return document.getElementById('main').innerText.trim().length === 0;",
                    vec![],
                )
                .await;
            assert_eq!(blank, json!(false), "{name} at {size} is blank");
            b.assert_no_horizontal_overflow(&format!("{name} at {size}"))
                .await;
            b.screenshot(&format!("{name}-{size}")).await;
        }
    }
    let blocked = b.js("return window.cspViolations;", vec![]).await;
    assert_eq!(blocked, json!([]), "the CSP blocked something");
    b.sign_out().await;
    b.screenshot("signin-phone").await;
    b.assert_no_horizontal_overflow("sign-in at phone").await;
    b.close().await;
}

/// With a model that streams, the reply grows in the panel as it arrives; when the grounding
/// check then changes it, the panel says so plainly.
#[tokio::test]
async fn browser_a_streamed_reply_that_was_corrected_says_so() {
    use crate::fake_openai::{FakeOpenAi, Reply, text_chunks, text_reply};
    let _one = ONE_AT_A_TIME.lock().await;
    let fake = FakeOpenAi::start([
        Reply::stream(text_chunks(
            &["Call her ", "on +1 212 555 0199."],
            std::time::Duration::from_millis(30),
        )),
        Reply::ok(text_reply("I have no phone number for her.", 10, 5)),
    ])
    .await;
    let model = heimdell_agent::model::openai::OpenAiModel::new(
        heimdell_agent::model::openai::OpenAiConfig::new(fake.base_url.clone(), "fake-model"),
    )
    .unwrap();
    let app = TestApp::spawn_with_model(std::sync::Arc::new(model)).await;
    let d = demo(&app).await;
    let b = Browser::open(&app).await;
    b.sign_in(&d.rep.email, &d.rep_password).await;
    b.route("#/chat").await;
    let input = b.wait_for(".chat-input").await;
    input.send_keys("how do I reach her?").await.unwrap();
    input.send_keys(&Key::Enter).await.unwrap();
    let warning = b
        .wait_text(
            ".msg-assistant .warnings",
            "Corrected after it streamed",
            CHAT_PATIENCE,
        )
        .await;
    assert!(warning.contains("could not be verified"), "{warning}");
    let text = b
        .js(
            "const m = [...document.querySelectorAll('.msg-assistant')].pop(); return m.textContent;",
            vec![],
        )
        .await;
    assert!(!text.as_str().unwrap().contains("555 0199"), "{text}");
    b.close().await;
}
