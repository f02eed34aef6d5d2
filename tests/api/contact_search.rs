//! `GET /api/v1/contacts?q=`: a fragment matches any substring of a contact's names, email and
//! phone, case-insensitively and literally, and pages come in id order. Fragments of three
//! characters or more go through the trigram postings of migration 0008; these tests hold that
//! path to the plain substring meaning, and the postings to the contacts they index.

use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::harness::{Member, TestApp};

/// Every page of `/api/v1/contacts?q=<fragment>`, `limit` at a time: the ids in the order given.
async fn search_all(app: &TestApp, who: &Member, fragment: &str, limit: u32) -> Vec<String> {
    let q: String = form_urlencoded::byte_serialize(fragment.as_bytes()).collect();
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, v) = app
            .get(
                who,
                &format!("/api/v1/contacts?q={q}&limit={limit}&cursor={cursor}"),
            )
            .await;
        assert_eq!(status, 200, "q={fragment:?}: {v}");
        let items = v["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize);
        ids.extend(items.iter().map(|c| c["id"].as_str().unwrap().to_string()));
        match v["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => return ids,
        }
    }
}

/// What a contact can be found by, as the API shows it.
fn haystack(c: &Value) -> String {
    let field = |k: &str| c[k].as_str().unwrap_or("").to_string();
    format!(
        "{} {} {} {}",
        field("first_name"),
        field("last_name"),
        field("email"),
        field("phone")
    )
    .to_lowercase()
}

/// Postings that do not match `search_grams(search_text)` of a live contact, either way.
async fn stale_postings(owner: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM contacts c CROSS JOIN LATERAL unnest(search_grams(c.search_text)) g
                 WHERE NOT EXISTS (SELECT 1 FROM contact_search_grams s
                                   WHERE s.tenant_id = c.tenant_id AND s.gram = g AND s.contact_id = c.id))
              + (SELECT count(*) FROM contact_search_grams s
                 WHERE NOT EXISTS (SELECT 1 FROM contacts c
                                   WHERE c.tenant_id = s.tenant_id AND c.id = s.contact_id
                                     AND s.gram = ANY (search_grams(c.search_text))))",
    )
    .fetch_one(owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn every_fragment_finds_exactly_the_contacts_containing_it_in_id_order() {
    let app = TestApp::spawn().await;
    let a = app.tenant("Acme").await;
    let b = app.tenant("Globex").await;
    let people = [
        json!({"first_name": "Ann", "last_name": "Smith", "email": "ann.smith@acme.example"}),
        json!({"first_name": "Anna", "last_name": "Smithson", "email": "anna@smithson.example", "phone": "+1 415 555 0101"}),
        json!({"first_name": "Hannah", "last_name": "Lee", "email": "h_lee@leeway.example"}),
        json!({"first_name": "Sean", "last_name": "O'Brien", "email": "sean@pub.example", "phone": "+1 212 555 0199"}),
        json!({"first_name": "Zoë", "last_name": "Ærøskøbing", "email": "zoe@fjord.example"}),
        json!({"first_name": "Mark", "last_name": "Kovacs", "email": "mark.kovacs@acme.example"}),
        json!({"first_name": "Markus", "last_name": "Marr"}),
        json!({"first_name": "Jo", "last_name": "Li"}),
    ];
    let mut contacts = Vec::new();
    for p in &people {
        let r = app.run(&a.rep, "create_contact", p.clone()).await;
        contacts.push(r["contact"].clone());
    }
    // The same names in another tenant must never show up in Acme's results.
    for p in &people[..3] {
        app.run(&b.rep, "create_contact", p.clone()).await;
    }

    let fragments = [
        // Shorter than a trigram: the plain LIKE walk.
        "a",
        "AN",
        "ø",
        "li",
        // One trigram.
        "ann",
        "smi",
        "lee",
        "kov",
        "mar",
        "415",
        "zzz",
        // Several trigrams, where the rarest one drives the page.
        "smith",
        "markov",
        "mark.kovacs",
        "ann.smith@acme.example",
        "5550101",
        "+1415",
        // Across fields and word boundaries, surrounding spaces trimmed.
        "ann smith",
        "n sm",
        " smithson ",
        "o'brien",
        // Non-ASCII, counted in characters.
        "zoë",
        "ærø",
        "øbing",
        // LIKE wildcards are literal characters.
        "h_l",
        "_le",
        "%",
        "a%n",
        "\\",
    ];
    for fragment in fragments {
        let needle = fragment.trim().to_lowercase();
        let mut expected: Vec<String> = contacts
            .iter()
            .filter(|c| haystack(c).contains(&needle))
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        expected.sort();
        for limit in [1, 2, 25] {
            let got = search_all(&app, &a.rep, fragment, limit).await;
            assert_eq!(got, expected, "q={fragment:?} limit={limit}");
        }
    }
    // The fixture really exercises both sides: matches and non-matches on the trigram path.
    assert_eq!(search_all(&app, &a.rep, "smith", 25).await.len(), 2);
    assert!(search_all(&app, &a.rep, "zzz", 25).await.is_empty());

    let mut owner = app.owner().await;
    assert_eq!(stale_postings(&mut owner).await, 0);
}

#[tokio::test]
async fn postings_follow_renames_anonymisation_and_deletes() {
    let app = TestApp::spawn().await;
    let a = app.tenant("Acme").await;
    let created = app
        .run(
            &a.rep,
            "create_contact",
            json!({"first_name": "Gwendolyn", "last_name": "Fairweather", "email": "gwen@fair.example"}),
        )
        .await;
    let id = created["contact"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        search_all(&app, &a.rep, "fairw", 25).await,
        vec![id.clone()]
    );

    app.run(
        &a.rep,
        "update_contact",
        json!({"contact_id": id, "last_name": "Rainwater", "email": ""}),
    )
    .await;
    assert!(search_all(&app, &a.rep, "fairw", 25).await.is_empty());
    assert!(search_all(&app, &a.rep, "gwen@", 25).await.is_empty());
    assert_eq!(
        search_all(&app, &a.rep, "rainwater", 25).await,
        vec![id.clone()]
    );
    // An update that does not touch the searchable text leaves the postings alone.
    app.run(
        &a.rep,
        "update_contact",
        json!({"contact_id": id, "title": "Buyer"}),
    )
    .await;
    assert_eq!(
        search_all(&app, &a.rep, "gwendolyn", 25).await,
        vec![id.clone()]
    );
    let mut owner = app.owner().await;
    assert_eq!(stale_postings(&mut owner).await, 0);

    // Anonymising rewrites the names; the old ones must stop finding the person at once.
    let uuid: Uuid = id.parse().unwrap();
    let mut tx = app.tenant_conn(a.id).await;
    sqlx::query("UPDATE contacts SET first_name = 'Anonymised', last_name = '', anonymised = true WHERE id = $1")
        .bind(uuid)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(search_all(&app, &a.rep, "gwendolyn", 25).await.is_empty());
    assert_eq!(stale_postings(&mut owner).await, 0);

    // Deleting contacts (one statement, several rows) removes their postings.
    app.run(
        &a.rep,
        "create_contact",
        json!({"first_name": "Temp", "last_name": "Person"}),
    )
    .await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM contact_search_grams")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert!(before > 0);
    let mut tx = app.tenant_conn(a.id).await;
    let deleted = sqlx::query("DELETE FROM contacts")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(deleted.rows_affected(), 2);
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM contact_search_grams")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(after, 0);
}

#[tokio::test]
async fn postings_are_tenant_isolated_like_every_tenant_table() {
    let app = TestApp::spawn().await;
    let a = app.tenant("Acme").await;
    let b = app.tenant("Globex").await;
    app.run(
        &a.rep,
        "create_contact",
        json!({"first_name": "Alice", "last_name": "Abbott"}),
    )
    .await;
    app.run(
        &b.rep,
        "create_contact",
        json!({"first_name": "Bob", "last_name": "Brown"}),
    )
    .await;

    let mut tx = app.tenant_conn(a.id).await;
    let tenants: Vec<Uuid> =
        sqlx::query_scalar("SELECT DISTINCT tenant_id FROM contact_search_grams")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(tenants, vec![a.id]);
    // A posting for another tenant cannot be planted.
    let err = sqlx::query(
        "INSERT INTO contact_search_grams (tenant_id, gram, contact_id) VALUES ($1, 'bob', $2)",
    )
    .bind(b.id)
    .bind(Uuid::now_v7())
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    drop(tx);
    // The search function, called directly, finds Bob "bro" only from Bob's tenant.
    for (tenant, expected) in [(a.id, 0), (b.id, 1)] {
        let mut tx = app.tenant_conn(tenant).await;
        let found: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM contacts_containing('{bro}', '%bro%', '00000000-0000-0000-0000-000000000000', 10)",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(found, expected);
    }

    // Every table that holds tenant rows has row-level security on, with a policy.
    let mut owner = app.owner().await;
    let unprotected: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r'
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
           AND (NOT c.relrowsecurity OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))
         ORDER BY 1",
    )
    .fetch_all(&mut owner)
    .await
    .unwrap();
    assert_eq!(unprotected, Vec::<String>::new());
    let protected: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class WHERE relname = 'contact_search_grams' AND relrowsecurity",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!(protected, 1);
}
