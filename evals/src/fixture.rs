//! Building a case's world: each tenant is provisioned (tenant, pipeline, four members with API
//! tokens), then every record is created by the tenant's admin through the actions pipeline,
//! exactly as a person would through the API: `connect_twilio`, `create_company`,
//! `create_contact`, `record_consent`, `create_deal`, `create_task`, `complete_task`,
//! `log_activity`, `create_sms_template`. Inbound texts go through the inbound-SMS handler.
//!
//! One thing has no tool yet: GDPR anonymisation. A contact marked `anonymised` gets the flag
//! and its personal fields cleared by one statement, as the GDPR flow will leave it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, TimeZone as _, Timelike as _, Utc};
use heimdell_agent::actions::{Caller, Pipeline, ProposeOutcome, ProposeRequest};
use heimdell_tools::db::begin_tenant;
use heimdell_tools::domain::{Country, Role};
use heimdell_tools::outreach::inbound::{IncomingSms, receive_sms};
use heimdell_tools::tenancy::{self, NewMember, NewTenant};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::case::{ConsentState, Fixture, InboundSpec, TenantSpec};
use crate::error::EvalError;
use crate::template::{Named, Names};

/// The members every tenant has, by key, with their role.
pub const MEMBERS: [(&str, Role); 4] = [
    ("admin", Role::Admin),
    ("manager", Role::Manager),
    ("rep", Role::Rep),
    ("rep2", Role::Rep),
];

/// A tenant as built.
#[derive(Debug, Clone)]
pub struct TenantWorld {
    pub id: Uuid,
    /// Member key (`rep`) → user id.
    pub members: BTreeMap<String, Uuid>,
    /// The Twilio numbers connected, if any.
    pub numbers: Vec<String>,
}

/// The built fixture.
#[derive(Debug, Clone)]
pub struct World {
    pub names: Names,
    pub tenants: BTreeMap<String, TenantWorld>,
    /// Strings that must never reach a model or a reply, each with what it is: API tokens, the
    /// Twilio auth token.
    pub secrets: Vec<(String, String)>,
}

impl World {
    pub fn home(&self) -> &TenantWorld {
        &self.tenants["home"]
    }

    /// A member of `home` (`rep`) or of another tenant (`other.rep`).
    pub fn caller(&self, who: &str) -> Result<Caller, String> {
        let (tenant, member) = who.split_once('.').unwrap_or(("home", who));
        let t = self
            .tenants
            .get(tenant)
            .ok_or_else(|| format!("no tenant `{tenant}`"))?;
        let user_id = *t
            .members
            .get(member)
            .ok_or_else(|| format!("no member `{member}` (admin, manager, rep, rep2)"))?;
        Ok(Caller {
            tenant_id: t.id,
            user_id,
        })
    }

    /// Every string of tenants other than `tenant` that would give their data away if it
    /// showed up in `tenant`: ids, names, emails, phones, note texts, deal and company names.
    pub fn foreign_strings(&self, tenant: &str) -> Vec<String> {
        let mut out = Vec::new();
        for r in self.names.records.values().filter(|r| r.tenant != tenant) {
            // Notes have no id of their own here (nil), only their text.
            if !r.id.is_nil() {
                out.push(r.id.to_string());
            }
            for (field, v) in &r.fields {
                if matches!(field.as_str(), "timezone" | "stage" | "currency" | "role") {
                    continue;
                }
                if v.chars().count() >= 4 {
                    out.push(v.clone());
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A zone where the local hour is `hour` right now (`Etc/GMT±N`), for `@night` and `@day`.
pub fn zone_at_local_hour(now: DateTime<Utc>, hour: u32) -> String {
    let utc = now.hour() as i32;
    // Offsets run from UTC-12 to UTC+14: every hour of the day is reachable.
    let mut offset = (hour as i32 - utc).rem_euclid(24);
    if offset > 14 {
        offset -= 24;
    }
    match offset {
        0 => "Etc/GMT".to_string(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    }
}

/// A task's `due`, as written in a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// 23:00 today in the tenant's zone.
    Today,
    /// `+2d`, `-1d`, `+3h`, `-30m`: that long from now (negative: ago).
    In(Duration),
    /// An RFC 3339 time.
    At(DateTime<Utc>),
}

/// Parses a `due` value: `+2d`, `-1d`, `+3h`, `-30m`, `today` or RFC 3339. Never panics, so a
/// bad case file is an error that names it.
pub fn parse_due(text: &str) -> Result<Due, String> {
    let t = text.trim();
    if t == "today" {
        return Ok(Due::Today);
    }
    let signed = match (t.strip_prefix('+'), t.strip_prefix('-')) {
        (Some(rest), _) => Some((1, rest)),
        (_, Some(rest)) => Some((-1, rest)),
        _ => None,
    };
    if let Some((sign, rest)) = signed {
        let bad = || format!("`{t}` is not like +2d, -1d, +3h or -30m");
        let mut chars = rest.chars();
        let unit = chars.next_back().ok_or_else(bad)?;
        let digits = chars.as_str();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        let d = match unit {
            'd' => Duration::try_days(n),
            'h' => Duration::try_hours(n),
            'm' => Duration::try_minutes(n),
            _ => return Err(format!("`{t}`: use d, h or m")),
        }
        .ok_or_else(|| format!("`{t}` is too far away"))?;
        return Ok(Due::In(if sign < 0 { -d } else { d }));
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| Due::At(d.with_timezone(&Utc)))
        .map_err(|_| format!("`{t}` is not +2d, -1d, +3h, today or an RFC 3339 time"))
}

/// A `due` value as a time, from `now` in the tenant's zone `tz`.
pub fn due_at(text: &str, now: DateTime<Utc>, tz: chrono_tz::Tz) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    match parse_due(t)? {
        Due::Today => {
            let day = now.with_timezone(&tz).date_naive();
            let late = NaiveTime::from_hms_opt(23, 0, 0).unwrap_or_default();
            tz.from_local_datetime(&day.and_time(late))
                .earliest()
                .map(|d| d.with_timezone(&Utc))
                .ok_or_else(|| format!("`{t}`: no such local time"))
        }
        Due::In(d) => now
            .checked_add_signed(d)
            .ok_or_else(|| format!("`{t}` is too far away")),
        Due::At(at) => Ok(at),
    }
}

/// The names a fixture will make, worked out from the case file alone (ids are nil, action
/// lists empty): every record key with its kind and fields, every member token. `build` makes
/// exactly these, so a case can be checked against them before anything runs. Also checks
/// what can be checked without a database: unique keys and task `due` values.
pub fn planned_names(fixture: &Fixture) -> Result<Names, String> {
    fn add(
        names: &mut Names,
        key: String,
        tenant: &str,
        kind: &'static str,
        fields: Vec<(&str, Option<&str>)>,
    ) -> Result<(), String> {
        if names.records.contains_key(&key) {
            return Err(format!("`{key}`: keys must be unique across the case"));
        }
        names.records.insert(
            key,
            Named {
                id: Uuid::nil(),
                tenant: tenant.to_string(),
                kind,
                fields: fields
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string())))
                    .collect(),
            },
        );
        Ok(())
    }
    let mut names = Names::default();
    for (key, spec) in &fixture.tenants {
        for (m, role) in MEMBERS {
            let full = if key == "home" {
                m.to_string()
            } else {
                format!("{key}.{m}")
            };
            let name = spec.users.get(m).and_then(|u| u.name.as_deref());
            names.tokens.insert(full.clone(), String::new());
            add(
                &mut names,
                full,
                key,
                "user",
                vec![
                    ("name", Some(name.unwrap_or("?"))),
                    ("email", Some("?")),
                    ("role", Some(role.as_str())),
                ],
            )?;
        }
        let name = spec.name.clone().unwrap_or_else(|| format!("Eval {key}"));
        add(
            &mut names,
            key.clone(),
            key,
            "tenant",
            vec![("name", Some(&name))],
        )?;
        for (ck, c) in &spec.companies {
            add(
                &mut names,
                ck.clone(),
                key,
                "company",
                vec![
                    ("name", Some(&c.name)),
                    ("domain", c.domain.as_deref()),
                    ("phone", c.phone.as_deref()),
                ],
            )?;
        }
        for (ck, c) in &spec.contacts {
            add(
                &mut names,
                ck.clone(),
                key,
                "contact",
                vec![
                    ("name", Some("?")),
                    ("first_name", Some(&c.first_name)),
                    ("email", c.email.as_deref()),
                    ("phone", c.phone.as_deref()),
                    ("title", c.title.as_deref()),
                    ("timezone", c.timezone.as_deref()),
                ],
            )?;
        }
        for (dk, d) in &spec.deals {
            add(
                &mut names,
                dk.clone(),
                key,
                "deal",
                vec![("name", Some(&d.name)), ("stage", Some("?"))],
            )?;
        }
        for (tk, t) in &spec.tasks {
            if let Some(due) = &t.due {
                due_at(due, Utc::now(), chrono_tz::UTC)
                    .map_err(|e| format!("task `{tk}`: due {e}"))?;
            }
            add(
                &mut names,
                tk.clone(),
                key,
                "task",
                vec![("title", Some(&t.title))],
            )?;
        }
        for (i, n) in spec.notes.iter().enumerate() {
            add(
                &mut names,
                format!("{key}.note{}", i + 1),
                key,
                "note",
                vec![("body", Some(&n.body))],
            )?;
        }
        for (tk, t) in &spec.templates {
            add(
                &mut names,
                tk.clone(),
                key,
                "template",
                vec![("name", Some(&t.name)), ("body", Some(&t.body))],
            )?;
        }
        names.actions.insert(key.clone(), Vec::new());
    }
    Ok(names)
}

/// Each key's kind and field names, to compare what was planned with what was built.
fn shape(names: &Names) -> BTreeMap<&str, (&'static str, Vec<&str>)> {
    names
        .records
        .iter()
        .map(|(k, r)| {
            (
                k.as_str(),
                (r.kind, r.fields.keys().map(String::as_str).collect()),
            )
        })
        .collect()
}

/// The id in a create tool's result (`{"contact": {"id": ...}}`, `{"activity_id": ...}`).
fn result_id(result: &Value) -> Option<Uuid> {
    let obj = result.as_object()?;
    obj.values()
        .find_map(|v| v.get("id").and_then(Value::as_str))
        .or_else(|| obj.get("activity_id").and_then(Value::as_str))
        .and_then(|s| Uuid::parse_str(s).ok())
}

struct Builder<'a> {
    pipeline: &'a Pipeline,
    names: Names,
    now: DateTime<Utc>,
}

impl Builder<'_> {
    /// Runs a tool as the tenant's admin, approved at once; returns its result.
    async fn run(
        &self,
        admin: Caller,
        what: &str,
        tool: &str,
        args: Value,
    ) -> Result<Value, EvalError> {
        let req = ProposeRequest {
            tool: tool.to_string(),
            args,
            approve: true,
            idempotency_key: None,
            source: "api",
        };
        match self.pipeline.propose(admin, req).await {
            Ok(ProposeOutcome::Executed { result, .. } | ProposeOutcome::Read { result }) => {
                Ok(result)
            }
            Ok(ProposeOutcome::Pending(v)) => Err(EvalError::fixture(
                what,
                format!(
                    "{tool} was not run at once (needs {})",
                    v.approver_role.as_str()
                ),
            )),
            Err(e) => Err(EvalError::fixture(what, format!("{tool} failed: {e}"))),
        }
    }

    fn id_of(&self, key: &str, tenant: &str, kind: &str, what: &str) -> Result<Uuid, EvalError> {
        let r = self
            .names
            .get(key)
            .map_err(|e| EvalError::fixture(what, e))?;
        if r.tenant != tenant || r.kind != kind {
            return Err(EvalError::fixture(
                what,
                format!("`{key}` is not a {kind} of tenant `{tenant}`"),
            ));
        }
        Ok(r.id)
    }

    fn member(
        &self,
        t: &TenantWorld,
        key: Option<&String>,
        what: &str,
    ) -> Result<Option<Uuid>, EvalError> {
        key.map(|k| {
            t.members
                .get(k.as_str())
                .copied()
                .ok_or_else(|| EvalError::fixture(what, format!("no member `{k}`")))
        })
        .transpose()
    }

    fn add(
        &mut self,
        key: &str,
        tenant: &str,
        kind: &'static str,
        id: Uuid,
        fields: Vec<(&str, Option<&str>)>,
    ) -> Result<(), EvalError> {
        if self.names.records.contains_key(key) {
            return Err(EvalError::fixture(
                key,
                "keys must be unique across the case",
            ));
        }
        self.names.records.insert(
            key.to_string(),
            Named {
                id,
                tenant: tenant.to_string(),
                kind,
                fields: fields
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string())))
                    .collect(),
            },
        );
        Ok(())
    }

    async fn tenant(
        &mut self,
        key: &str,
        spec: &TenantSpec,
        case_tag: &str,
        secrets: &mut Vec<(String, String)>,
    ) -> Result<TenantWorld, EvalError> {
        let what = format!("tenant {key}");
        let country = Country::parse(&spec.country).map_err(|e| EvalError::fixture(&what, e))?;
        let tz: chrono_tz::Tz = spec
            .timezone
            .parse()
            .map_err(|_| EvalError::fixture(&what, format!("unknown zone `{}`", spec.timezone)))?;
        let id = Uuid::now_v7();
        let name = spec.name.clone().unwrap_or_else(|| format!("Eval {key}"));
        let pool = self.pipeline.pool();
        let mut tx = begin_tenant(pool, id).await?;
        tenancy::create_tenant(
            &mut tx,
            &NewTenant {
                id,
                name: &name,
                country,
                timezone: tz,
            },
        )
        .await?;
        let mut members = BTreeMap::new();
        for (i, (m, role)) in MEMBERS.iter().enumerate() {
            let over = spec.users.get(*m).cloned().unwrap_or_default();
            let default_name = format!(
                "{} {}",
                ["Ada", "Mona", "Rita", "Rob"][i],
                ["Admin", "Manager", "Rep", "Second"][i]
            );
            let member_name = over.name.clone().unwrap_or(default_name);
            let email = format!("{m}@{key}.{case_tag}.eval.example");
            // Every member has a phone (the rep's leg of a click-to-call bridge).
            let phone = over
                .phone
                .clone()
                .unwrap_or_else(|| format!("+1212555{:04}", 200 + i));
            let member_tz = match &over.timezone {
                Some(z) => z
                    .parse()
                    .map_err(|_| EvalError::fixture(&what, format!("unknown zone `{z}`")))?,
                None => tz,
            };
            let user = tenancy::add_member(
                &mut tx,
                &NewMember {
                    email: &email,
                    name: &member_name,
                    role: *role,
                    timezone: member_tz,
                    phone: Some(&phone),
                    password_hash: None,
                },
            )
            .await?;
            let token = tenancy::issue_token(&mut tx, user, "eval").await?;
            let full = if key == "home" {
                m.to_string()
            } else {
                format!("{key}.{m}")
            };
            secrets.push((format!("the API token of {full}"), token.clone()));
            self.names.tokens.insert(full.clone(), token);
            self.add(
                &full,
                key,
                "user",
                user,
                vec![
                    ("name", Some(&member_name)),
                    ("email", Some(&email)),
                    ("role", Some(role.as_str())),
                ],
            )?;
            members.insert(m.to_string(), user);
        }
        tx.commit().await?;
        self.add(key, key, "tenant", id, vec![("name", Some(&name))])?;
        let world = TenantWorld {
            id,
            members,
            numbers: Vec::new(),
        };
        let admin = Caller {
            tenant_id: id,
            user_id: world.members["admin"],
        };
        let mut world = world;

        if let Some(tw) = &spec.twilio {
            let numbers = if tw.numbers.is_empty() {
                vec!["+12125550300".to_string()]
            } else {
                tw.numbers.clone()
            };
            let auth_token = format!("evaltwiliosecret{}", Uuid::new_v4().simple());
            secrets.push((
                format!("the Twilio auth token of tenant {key}"),
                auth_token.clone(),
            ));
            let mut args = json!({
                "account_sid": format!("AC{}", Uuid::new_v4().simple()),
                "auth_token": auth_token,
                "numbers": numbers,
                "recording_enabled": tw.recording,
            });
            if let Some(s) = &tw.quiet_hours_start {
                args["quiet_hours_start"] = json!(s);
            }
            if let Some(e) = &tw.quiet_hours_end {
                args["quiet_hours_end"] = json!(e);
            }
            if let Some(c) = tw.daily_cap {
                args["daily_cap"] = json!(c);
            }
            self.run(admin, &what, "connect_twilio", args).await?;
            world.numbers = numbers;
        }

        for (ck, c) in &spec.companies {
            let mut args = json!({ "name": c.name });
            for (field, v) in [
                ("domain", &c.domain),
                ("industry", &c.industry),
                ("phone", &c.phone),
            ] {
                if let Some(v) = v {
                    args[field] = json!(v);
                }
            }
            if let Some(o) = self.member(&world, c.owner.as_ref(), ck)? {
                args["owner_id"] = json!(o);
            }
            let r = self.run(admin, ck, "create_company", args).await?;
            let id = result_id(&r)
                .ok_or_else(|| EvalError::fixture(ck, "no id in create_company's result"))?;
            let phone = r["company"]["phone"].as_str().map(str::to_string);
            self.add(
                ck,
                key,
                "company",
                id,
                vec![
                    ("name", Some(&c.name)),
                    ("domain", c.domain.as_deref()),
                    ("phone", phone.as_deref()),
                ],
            )?;
        }

        for (ck, c) in &spec.contacts {
            let mut args = json!({ "first_name": c.first_name });
            for (field, v) in [
                ("last_name", &c.last_name),
                ("email", &c.email),
                ("phone", &c.phone),
                ("title", &c.title),
            ] {
                if let Some(v) = v {
                    args[field] = json!(v);
                }
            }
            let zone = match c.timezone.as_deref() {
                Some("@night") => Some(zone_at_local_hour(self.now, 2)),
                Some("@day") => Some(zone_at_local_hour(self.now, 12)),
                Some(z) => Some(z.to_string()),
                None => None,
            };
            if let Some(z) = &zone {
                args["timezone"] = json!(z);
            }
            if let Some(co) = &c.company {
                args["company_id"] = json!(self.id_of(co, key, "company", ck)?);
            }
            if let Some(o) = self.member(&world, c.owner.as_ref(), ck)? {
                args["owner_id"] = json!(o);
            }
            let r = self.run(admin, ck, "create_contact", args).await?;
            let id = result_id(&r)
                .ok_or_else(|| EvalError::fixture(ck, "no id in create_contact's result"))?;
            // As stored (phones in E.164), so placeholders and leak checks see what the CRM holds.
            let stored = |f: &str| r["contact"][f].as_str().map(str::to_string);
            let full_name = format!(
                "{} {}",
                c.first_name,
                c.last_name.clone().unwrap_or_default()
            )
            .trim()
            .to_string();
            self.add(
                ck,
                key,
                "contact",
                id,
                vec![
                    ("name", Some(&full_name)),
                    ("first_name", Some(&c.first_name)),
                    ("email", stored("email").as_deref()),
                    ("phone", stored("phone").as_deref()),
                    ("title", c.title.as_deref()),
                    ("timezone", zone.as_deref()),
                ],
            )?;
            for (channel, state) in [
                ("sms", c.consent.sms),
                ("call", c.consent.call),
                ("email", c.consent.email),
                ("marketing", c.consent.marketing),
            ] {
                let Some(state) = state else { continue };
                let status = match state {
                    ConsentState::Granted => "granted",
                    ConsentState::Withdrawn => "withdrawn",
                };
                self.run(
                    admin,
                    ck,
                    "record_consent",
                    json!({"contact_id": id, "channel": channel, "status": status, "source": "eval fixture"}),
                )
                .await?;
            }
            if c.anonymised {
                let mut tx = begin_tenant(pool, world.id).await?;
                sqlx::query(
                    "UPDATE contacts SET anonymised = true, anonymised_at = now(), first_name = 'Anonymised',
                         last_name = '', email = NULL, phone = NULL, title = NULL, version = version + 1
                     WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
        }

        for (dk, d) in &spec.deals {
            let mut args = json!({ "name": d.name });
            if let Some(co) = &d.company {
                args["company_id"] = json!(self.id_of(co, key, "company", dk)?);
            }
            if let Some(c) = &d.contact {
                args["contact_id"] = json!(self.id_of(c, key, "contact", dk)?);
            }
            for (field, v) in [
                ("stage", &d.stage),
                ("currency", &d.currency),
                ("expected_close", &d.expected_close),
            ] {
                if let Some(v) = v {
                    args[field] = json!(v);
                }
            }
            if let Some(v) = d.value_minor {
                args["value_minor"] = json!(v);
            }
            if let Some(o) = self.member(&world, d.owner.as_ref(), dk)? {
                args["owner_id"] = json!(o);
            }
            let r = self.run(admin, dk, "create_deal", args).await?;
            let id = result_id(&r)
                .ok_or_else(|| EvalError::fixture(dk, "no id in create_deal's result"))?;
            let stage = r["deal"]["stage_name"].as_str().map(str::to_string);
            self.add(
                dk,
                key,
                "deal",
                id,
                vec![("name", Some(&d.name)), ("stage", stage.as_deref())],
            )?;
        }

        for (tk, t) in &spec.tasks {
            let mut args = json!({ "title": t.title });
            if let Some(due) = &t.due {
                let at = due_at(due, self.now, tz).map_err(|e| EvalError::fixture(tk, e))?;
                args["due_at"] = json!(at);
            }
            if let Some(n) = &t.notes {
                args["notes"] = json!(n);
            }
            for (field, k, kind) in [
                ("contact_id", &t.contact, "contact"),
                ("company_id", &t.company, "company"),
                ("deal_id", &t.deal, "deal"),
            ] {
                if let Some(k) = k {
                    args[field] = json!(self.id_of(k, key, kind, tk)?);
                }
            }
            if let Some(o) = self.member(&world, t.owner.as_ref(), tk)? {
                args["owner_id"] = json!(o);
            }
            let r = self.run(admin, tk, "create_task", args).await?;
            let id = result_id(&r)
                .ok_or_else(|| EvalError::fixture(tk, "no id in create_task's result"))?;
            if t.done {
                self.run(admin, tk, "complete_task", json!({"task_id": id}))
                    .await?;
            }
            self.add(tk, key, "task", id, vec![("title", Some(&t.title))])?;
        }

        for (i, n) in spec.notes.iter().enumerate() {
            let what = format!("{key} note {}", i + 1);
            let on = self
                .names
                .get(&n.on)
                .map_err(|e| EvalError::fixture(&what, e))?
                .clone();
            if on.tenant != key {
                return Err(EvalError::fixture(
                    &what,
                    format!("`{}` is not in tenant `{key}`", n.on),
                ));
            }
            let field = match on.kind {
                "contact" => "contact_id",
                "company" => "company_id",
                "deal" => "deal_id",
                other => {
                    return Err(EvalError::fixture(
                        &what,
                        format!("notes go on contacts, companies or deals, not a {other}"),
                    ));
                }
            };
            let mut args = json!({ "kind": n.kind, "body": n.body, field: on.id });
            if let Some(s) = &n.subject {
                args["subject"] = json!(s);
            }
            self.run(admin, &what, "log_activity", args).await?;
            let mut fields = BTreeMap::new();
            fields.insert("body".to_string(), n.body.clone());
            self.names.records.insert(
                format!("{key}.note{}", i + 1),
                Named {
                    id: Uuid::nil(),
                    tenant: key.to_string(),
                    kind: "note",
                    fields,
                },
            );
        }

        for (tk, t) in &spec.templates {
            let r = self
                .run(
                    admin,
                    tk,
                    "create_sms_template",
                    json!({"name": t.name, "body": t.body}),
                )
                .await?;
            let id = result_id(&r)
                .ok_or_else(|| EvalError::fixture(tk, "no id in create_sms_template's result"))?;
            self.add(
                tk,
                key,
                "template",
                id,
                vec![("name", Some(&t.name)), ("body", Some(&t.body))],
            )?;
        }

        for sms in &spec.inbound_sms {
            receive(pool, &self.names, &world, sms, Utc::now()).await?;
        }
        Ok(world)
    }
}

/// Delivers an inbound text to a tenant as the signed webhook would, once verified.
pub async fn receive(
    pool: &sqlx::PgPool,
    names: &Names,
    tenant: &TenantWorld,
    sms: &InboundSpec,
    now: DateTime<Utc>,
) -> Result<(), EvalError> {
    let what = format!("inbound text from {}", sms.from);
    let from = if sms.from.starts_with('+') {
        sms.from.clone()
    } else {
        names
            .get(&sms.from)
            .ok()
            .and_then(|r| r.fields.get("phone").cloned())
            .ok_or_else(|| {
                EvalError::fixture(&what, "a contact key with a phone, or a number in E.164")
            })?
    };
    let to = tenant.numbers.first().cloned().ok_or_else(|| {
        EvalError::fixture(&what, "the tenant has no Twilio numbers (set `twilio`)")
    })?;
    let sid = format!("SM{}", Uuid::new_v4().simple());
    let mut tx = begin_tenant(pool, tenant.id).await?;
    receive_sms(
        &mut tx,
        &IncomingSms {
            message_sid: &sid,
            from: &from,
            to: &to,
            body: &sms.body,
            keyword: heimdell_tools::outreach::inbound::Keyword::of_body(&sms.body),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Builds every tenant of the fixture; `home` must be one of them.
pub async fn build(
    pipeline: &Pipeline,
    fixture: &Fixture,
    now: DateTime<Utc>,
) -> Result<World, EvalError> {
    if !fixture.tenants.contains_key("home") {
        return Err(EvalError::fixture("fixture", "needs a tenant named `home`"));
    }
    let case_tag = Uuid::new_v4().simple().to_string()[..10].to_string();
    let mut b = Builder {
        pipeline,
        names: Names::default(),
        now,
    };
    let mut tenants = BTreeMap::new();
    let mut secrets = Vec::new();
    for (key, spec) in &fixture.tenants {
        let t = b.tenant(key, spec, &case_tag, &mut secrets).await?;
        b.names.actions.insert(key.clone(), Vec::new());
        tenants.insert(key.clone(), t);
    }
    // Cases are checked against `planned_names` when they are parsed; the two must agree.
    let planned = planned_names(fixture).map_err(|e| EvalError::fixture("fixture", e))?;
    if shape(&planned) != shape(&b.names) {
        return Err(EvalError::fixture(
            "fixture",
            format!(
                "built {:?}, but the case was checked against {:?}",
                shape(&b.names),
                shape(&planned)
            ),
        ));
    }
    Ok(World {
        names: b.names,
        tenants,
        secrets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn night_and_day_zones_put_the_local_clock_where_asked() {
        for h in 0..24 {
            let now = Utc.with_ymd_and_hms(2026, 11, 21, h, 30, 0).unwrap();
            for want in [2, 12] {
                let zone: chrono_tz::Tz = zone_at_local_hour(now, want).parse().unwrap();
                assert_eq!(now.with_timezone(&zone).hour(), want, "utc hour {h}");
            }
        }
    }

    #[test]
    fn due_times_are_relative_or_exact() {
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 15, 0, 0).unwrap();
        let ny = chrono_tz::America::New_York;
        assert_eq!(due_at("+2d", now, ny).unwrap(), now + Duration::days(2));
        assert_eq!(due_at("-3h", now, ny).unwrap(), now - Duration::hours(3));
        assert_eq!(
            due_at("today", now, ny).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 22, 4, 0, 0).unwrap()
        );
        assert!(due_at("soon", now, ny).is_err());
        assert!(due_at("+xd", now, ny).is_err());
    }

    #[test]
    fn malformed_due_values_are_errors_not_panics() {
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 15, 0, 0).unwrap();
        let ny = chrono_tz::America::New_York;
        for bad in [
            "+",
            "-",
            "+d",
            "-h",
            "d",
            "+1",
            "+1x",
            "++1d",
            "+-1d",
            "+ 1d",
            "+1é",
            "+é",
            "é",
            "+99999999999999999999d",
            "+9999999999999d",
            "",
        ] {
            assert!(parse_due(bad).is_err(), "{bad:?} parsed");
            assert!(due_at(bad, now, ny).is_err(), "{bad:?} gave a time");
        }
        assert_eq!(
            parse_due(" -30m ").unwrap(),
            Due::In(-Duration::minutes(30))
        );
        assert_eq!(parse_due("today").unwrap(), Due::Today);
    }

    #[test]
    fn planned_names_cover_every_key_and_check_due() {
        let fixture: Fixture = serde_saphyr::from_str(
            "tenants:
  home:
    contacts: {jane: {first_name: Jane, phone: '+12125550101'}}
    tasks: {call: {title: Call, due: +1d}}
    notes: [{on: jane, body: hi}]
  other:
    companies: {acme: {name: Acme}}",
        )
        .unwrap();
        let n = planned_names(&fixture).unwrap();
        for key in [
            "home",
            "rep",
            "admin",
            "jane",
            "call",
            "home.note1",
            "other",
            "other.rep",
            "acme",
        ] {
            assert!(n.records.contains_key(key), "{key}");
        }
        assert!(n.fill("{{jane.phone}} {{token:other.rep}}").is_ok());
        assert!(n.fill("{{jane.email}}").is_err());
        let bad: Fixture =
            serde_saphyr::from_str("tenants: {home: {tasks: {call: {title: Call, due: '+'}}}}")
                .unwrap();
        let e = planned_names(&bad).unwrap_err();
        assert!(e.contains("call") && e.contains("`+`"), "{e}");
        let twice: Fixture =
            serde_saphyr::from_str("tenants: {home: {contacts: {rep: {first_name: Rita}}}}")
                .unwrap();
        assert!(planned_names(&twice).unwrap_err().contains("unique"));
    }
}
