//! The acting member of a tenant, loaded from the database (never from request input), with
//! everything tools and policies need to know about them.

use chrono::{DateTime, Utc};
use heimdell_policies::{Principal, Role as PolicyRole};
use heimdell_tools::domain::{Country, Role};
use heimdell_tools::{Actor, Ctx, ToolError};
use sqlx::PgConnection;
use uuid::Uuid;

/// A user as of this transaction.
#[derive(Debug, Clone)]
pub struct Member {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub role: Role,
    /// Their IANA time zone; "today" is theirs.
    pub tz: chrono_tz::Tz,
    /// Their tenant's default country for phone numbers.
    pub country: Country,
}

impl Member {
    /// Loads the member inside a tenant-scoped transaction; `None` if no such user in this tenant.
    pub async fn load(conn: &mut PgConnection, user_id: Uuid) -> Result<Option<Member>, ToolError> {
        let row: Option<(Uuid, String, String, String)> = sqlx::query_as(
            "SELECT u.tenant_id, u.role, u.timezone, t.country FROM users u JOIN tenants t ON t.id = u.tenant_id
             WHERE u.id = $1",
        )
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
        Ok(row.map(|(tenant_id, role, tz, country)| Member {
            tenant_id,
            user_id,
            role: Role::parse(&role).unwrap_or(Role::Rep),
            tz: tz.parse().unwrap_or(chrono_tz::UTC),
            country: Country::parse(&country)
                .unwrap_or_else(|_| Country::parse("US").expect("US is a country")),
        }))
    }

    pub fn principal(&self) -> Principal {
        principal(self.tenant_id, self.user_id, self.role)
    }

    pub fn ctx(&self, now: DateTime<Utc>, action_id: Option<Uuid>) -> Ctx {
        Ctx {
            actor: Actor {
                tenant_id: self.tenant_id,
                user_id: self.user_id,
                role: self.role,
            },
            now,
            tz: self.tz,
            country: self.country,
            action_id,
        }
    }
}

/// The policies' view of a member.
pub fn principal(tenant_id: Uuid, user_id: Uuid, role: Role) -> Principal {
    Principal {
        user_id,
        tenant_id,
        role: match role {
            Role::Admin => PolicyRole::Admin,
            Role::Manager => PolicyRole::Manager,
            Role::Rep => PolicyRole::Rep,
        },
    }
}
