//! List and get endpoints with cursor pagination and the `q` filter.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::TestApp;

#[tokio::test]
async fn cursor_pagination_walks_every_contact_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    for i in 0..7 {
        app.run(&t.rep, "create_contact", json!({"first_name": format!("Person{i}"), "last_name": if i % 2 == 0 { "Smith" } else { "Jones" }})).await;
    }
    let mut seen = HashSet::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let (status, v) = app
            .get(&t.rep, &format!("/api/v1/contacts?limit=3&cursor={cursor}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        pages += 1;
        for c in v["items"].as_array().unwrap() {
            assert!(
                seen.insert(c["id"].as_str().unwrap().to_string()),
                "duplicate across pages"
            );
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(pages, 3);

    let (_, v) = app.get(&t.rep, "/api/v1/contacts?q=smi").await;
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["last_name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4);
    assert!(names.iter().all(|n| *n == "Smith"));
    // LIKE wildcards in q are matched literally.
    let (_, v) = app.get(&t.rep, "/api/v1/contacts?q=%25").await;
    assert_eq!(v["items"], json!([]));
}

#[tokio::test]
async fn companies_deals_and_tasks_list_and_get() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let co = app
        .run(
            &t.rep,
            "create_company",
            json!({"name": "Acme Corp", "domain": "https://www.acme.com/"}),
        )
        .await;
    assert_eq!(co["company"]["domain"], "acme.com");
    let co_id = co["company"]["id"].as_str().unwrap();
    let d = app.run(&t.rep, "create_deal", json!({"name": "Acme 50 seats", "company_id": co_id, "value_minor": 500000, "currency": "eur", "stage": "qualified"})).await;
    assert_eq!(d["deal"]["stage_name"], "Qualified");
    assert_eq!(d["deal"]["currency"], "EUR");
    let k = app
        .run(
            &t.rep,
            "create_task",
            json!({"title": "Send proposal", "company_id": co_id}),
        )
        .await;
    for (list, id) in [
        ("companies", co_id),
        ("deals", d["deal"]["id"].as_str().unwrap()),
        ("tasks", k["task"]["id"].as_str().unwrap()),
    ] {
        let (status, v) = app.get(&t.rep, &format!("/api/v1/{list}")).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["items"].as_array().unwrap().len(), 1, "{list}: {v}");
        let (status, v) = app.get(&t.rep, &format!("/api/v1/{list}/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["id"], id);
        let (status, _) = app
            .get(&t.rep, &format!("/api/v1/{list}/{}", uuid::Uuid::now_v7()))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, v) = app.get(&t.rep, "/api/v1/deals?q=seats").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["items"][0]["value_minor"], 500000);
}
