//! The demo's admin pages: what a host builds on ssokit's admin APIs.
//! Each page has a JSON form (`?format=json`) for scripts. Only signed-in
//! users with the role `admin` may use them.

use std::time::{Duration, SystemTime};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use ssokit::admin::UserFilter;
use ssokit::{ConnectionId, IdentityKey, LocalUser, UserId};

use crate::app::AppState;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{t} · Admin</title>
<style>body{{font-family:system-ui,sans-serif;margin:32px;color:#1d2330}} table{{border-collapse:collapse}}
td,th{{border:1px solid #d5d9e0;padding:4px 8px;text-align:left;font-size:.9rem}} nav a{{margin-right:14px}}
form{{margin:10px 0}} input{{padding:4px}} .muted{{color:#6b7385}}</style></head>
<body><nav><a href="/admin">Admin</a><a href="/admin/audit">Duplicate e-mails</a><a href="/admin/hygiene">Hygiene</a><a href="/admin/events">Events</a><a href="/">App</a></nav>
<h1>{t}</h1>{body}</body></html>"#,
        t = esc(title)
    ))
}

#[derive(Deserialize, Default)]
pub(crate) struct Format {
    format: Option<String>,
    days: Option<u64>,
    cursor: Option<String>,
}

fn json_wanted(q: &Format) -> bool {
    q.format.as_deref() == Some("json")
}

/// The signed-in admin, or a 403.
#[allow(clippy::result_large_err)] // a response, returned once per request
fn admin(st: &AppState, headers: &HeaderMap) -> Result<LocalUser, Response> {
    match st.signed_in(headers) {
        Some(u) if u.role.as_deref() == Some("admin") => Ok(u),
        _ => Err((
            StatusCode::FORBIDDEN,
            page("Forbidden", "<p>Sign in as an administrator.</p>"),
        )
            .into_response()),
    }
}

fn error(e: &ssokit::Error) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        axum::Json(serde_json::json!({"error": e.to_string(), "trace_id": e.trace_id()})),
    )
        .into_response()
}

pub(crate) async fn index(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let me = match admin(&st, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let users: String = st
        .users()
        .users()
        .into_iter()
        .filter(|u| u.tenant == me.tenant)
        .map(|u| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(u.id.as_str()),
                esc(&u.email),
                esc(u.name.as_deref().unwrap_or("")),
                esc(u.role.as_deref().unwrap_or("")),
                if u.active { "active" } else { "disabled" }
            )
        })
        .collect();
    page(
        "Administration",
        &format!(
            r#"<h2>Reset login method</h2>
<p class="muted">Mails each active user an activation link (valid 7 days; resending replaces the previous link).</p>
<form method="post" action="/admin/reset"><input name="users" placeholder="u1,u2 (empty: everyone)"> <input name="role" placeholder="or a role">
<input name="connection" placeholder="connection id" required> <button>Send activation links</button></form>
<h2>Disable users</h2><form method="post" action="/admin/disable"><input name="users" placeholder="u1,u2" required> <button>Disable</button></form>
<h2>Clear an IdP link</h2><form method="post" action="/admin/unlink"><input name="user" placeholder="u1" required>
<input name="connection" placeholder="connection" required> <input name="subject" placeholder="subject" required> <button>Clear link</button></form>
<h2>Users of {tenant}</h2><table><tr><th>id</th><th>e-mail</th><th>name</th><th>role</th><th>status</th></tr>{users}</table>"#,
            tenant = esc(me.tenant.as_str())
        ),
    )
    .into_response()
}

fn ids(list: &str) -> Vec<UserId> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(UserId::new)
        .collect()
}

#[derive(Deserialize)]
pub(crate) struct ResetForm {
    users: Option<String>,
    role: Option<String>,
    connection: String,
}

pub(crate) async fn reset(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<ResetForm>,
) -> Response {
    let me = match admin(&st, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let conn = ConnectionId::new(f.connection);
    let users = ids(f.users.as_deref().unwrap_or(""));
    let result = match (users.is_empty(), f.role.filter(|r| !r.is_empty())) {
        (false, _) => st.sso().send_activation(&me.tenant, &conn, &users).await,
        (true, Some(role)) => {
            st.sso()
                .send_activation_filtered(&me.tenant, &conn, &UserFilter::roles(&[&role]))
                .await
        }
        (true, None) => {
            st.sso()
                .send_activation_filtered(&me.tenant, &conn, &UserFilter::all())
                .await
        }
    };
    match result {
        Ok(report) => axum::Json(report).into_response(),
        Err(e) => error(&e),
    }
}

#[derive(Deserialize)]
pub(crate) struct UsersForm {
    users: String,
}

pub(crate) async fn disable(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<UsersForm>,
) -> Response {
    let me = match admin(&st, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    match st
        .sso()
        .bulk_disable(&me.tenant, &ids(&f.users), "disabled by an administrator")
        .await
    {
        Ok(done) => axum::Json(serde_json::json!({ "disabled": done })).into_response(),
        Err(e) => error(&e),
    }
}

#[derive(Deserialize)]
pub(crate) struct UnlinkForm {
    user: String,
    connection: String,
    subject: String,
}

pub(crate) async fn unlink(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<UnlinkForm>,
) -> Response {
    let me = match admin(&st, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let identity = IdentityKey {
        connection: ConnectionId::new(f.connection),
        subject: f.subject,
    };
    match st
        .sso()
        .clear_link(
            &me.tenant,
            &UserId::new(f.user),
            &identity,
            "cleared by support",
        )
        .await
    {
        Ok(removed) => axum::Json(serde_json::json!({ "removed": removed })).into_response(),
        Err(e) => error(&e),
    }
}

pub(crate) async fn audit(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Format>,
) -> Response {
    let me = match admin(&st, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let result = match st
        .sso()
        .duplicate_emails(&me.tenant, q.cursor.as_deref(), 100)
        .await
    {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    if json_wanted(&q) {
        return axum::Json(result).into_response();
    }
    let rows: String = result
        .groups
        .iter()
        .map(|g| {
            let users: Vec<String> = g
                .users
                .iter()
                .map(|r| {
                    format!(
                        "{} ({}{}{})",
                        esc(r.user.id.as_str()),
                        esc(&r.user.email),
                        if r.user.active { "" } else { ", inactive" },
                        if r.deleted { ", deleted" } else { "" }
                    )
                })
                .collect();
            format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&g.email_key),
                users.join("<br>")
            )
        })
        .collect();
    page(
        "Users with duplicate e-mail addresses",
        &format!(
            "<p class=\"muted\">Make every e-mail unique before go-live: these users cannot sign in with SSO.</p>\
             <table><tr><th>e-mail</th><th>users</th></tr>{rows}</table>"
        ),
    )
    .into_response()
}

pub(crate) async fn hygiene(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Format>,
) -> Response {
    let me = match admin(&st, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let days = q.days.unwrap_or(30);
    let since = SystemTime::now() - Duration::from_secs(days * 86_400);
    let never = match st
        .sso()
        .users_without_sso_since(&me.tenant, since, None, 500)
        .await
    {
        Ok(p) => p,
        Err(e) => return error(&e),
    };
    let gone = match st.sso().deprovisioned_users(&me.tenant, None, 500).await {
        Ok(p) => p,
        Err(e) => return error(&e),
    };
    if json_wanted(&q) {
        return axum::Json(serde_json::json!({ "no_sso_since_days": days, "without_sso": never, "deprovisioned": gone }))
            .into_response();
    }
    let list = |p: &ssokit::admin::Page<ssokit::admin::UserRecord>| -> String {
        p.items
            .iter()
            .map(|r| {
                format!(
                    "<li>{} — {}</li>",
                    esc(r.user.id.as_str()),
                    esc(&r.user.email)
                )
            })
            .collect()
    };
    page(
        "Migration hygiene",
        &format!(
            "<h2>No SSO sign-in in the last {days} days</h2><ul>{}</ul><h2>De-provisioned by the IdP</h2><ul>{}</ul>",
            list(&never),
            list(&gone)
        ),
    )
    .into_response()
}

pub(crate) async fn events(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Format>,
) -> Response {
    if let Err(r) = admin(&st, &headers) {
        return r;
    }
    let mut events = st.events().all();
    events.reverse();
    events.truncate(200);
    if json_wanted(&q) {
        return axum::Json(events).into_response();
    }
    let rows: String = events
        .iter()
        .map(|e| {
            format!(
                "<tr><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.kind,
                esc(e.trace_id.as_str()),
                esc(e.tenant.as_ref().map(|t| t.as_str()).unwrap_or("")),
                esc(e.connection.as_ref().map(|c| c.as_str()).unwrap_or("")),
                esc(e.user.as_ref().map(|u| u.as_str()).unwrap_or("")),
                esc(e.reason.as_deref().unwrap_or(""))
            )
        })
        .collect();
    page(
        "Recent events",
        &format!("<table><tr><th>event</th><th>trace id</th><th>tenant</th><th>connection</th><th>user</th><th>reason</th></tr>{rows}</table>"),
    )
    .into_response()
}
