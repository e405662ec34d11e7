//! Server-rendered pages. Everything echoed is HTML-escaped.

use ssokit::flow::ConnectionChoice;
use ssokit::{IdentityKey, LocalUser};

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Acme Workspace</title>
<style>
 body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; background: #f4f5f7; color: #1d2330; margin: 0; }}
 header {{ background: #1d2330; color: #fff; padding: 14px 28px; font-weight: 600; letter-spacing: .02em; }}
 main {{ max-width: 440px; margin: 56px auto; background: #fff; border-radius: 10px; padding: 32px 36px; box-shadow: 0 2px 12px rgba(0,0,0,.08); }}
 h1 {{ font-size: 1.35rem; margin: 0 0 18px; }}
 label {{ display: block; font-size: .9rem; margin-bottom: 6px; color: #4a5263; }}
 input[type=email] {{ width: 100%; box-sizing: border-box; padding: 10px 12px; border: 1px solid #c9ced8; border-radius: 6px; font-size: 1rem; }}
 button {{ margin-top: 16px; width: 100%; padding: 10px; border: 0; border-radius: 6px; background: #3056d3; color: #fff; font-size: 1rem; cursor: pointer; }}
 button.secondary {{ background: #e8ebf2; color: #1d2330; }}
 .muted {{ color: #6b7385; font-size: .88rem; }}
 .trace {{ font-family: ui-monospace, monospace; background: #f0f1f4; padding: 2px 6px; border-radius: 4px; }}
 dl {{ display: grid; grid-template-columns: 110px 1fr; gap: 6px 12px; }} dt {{ color: #6b7385; }} dd {{ margin: 0; }}
 .error h1 {{ color: #b42318; }}
</style></head>
<body><header>Acme Workspace</header><main>{body}</main></body></html>"#,
        title = esc(title)
    )
}

pub(crate) fn login(tenant_subdomain: Option<&str>) -> String {
    if let Some(label) = tenant_subdomain {
        return layout(
            "Sign in",
            &format!(
                r#"<h1>Sign in to {label}</h1>
<form method="post" action="/login"><button type="submit">Continue with single sign-on</button></form>
<p class="muted">You will be sent to your organisation's sign-in page.</p>"#,
                label = esc(label)
            ),
        );
    }
    layout(
        "Sign in",
        r#"<h1>Sign in</h1>
<form method="post" action="/login">
 <label for="email">Work e-mail</label>
 <input id="email" name="email" type="email" autocomplete="username" placeholder="you@company.com" required autofocus>
 <button type="submit">Next</button>
</form>
<p class="muted">You will be sent to your organisation's sign-in page.<br>
Demo accounts: <code>ann@acme.test</code> (existing account: link), <code>dave@acme.test</code> (new: created on first sign-in), <code>bob@acme.test</code> (duplicate e-mail), <code>carol@acme.test</code> (disabled).</p>"#,
    )
}

pub(crate) fn choose(connections: &[ConnectionChoice], return_to: Option<&str>) -> String {
    let mut body = String::from("<h1>Choose how to sign in</h1>");
    for c in connections {
        body.push_str(&format!(
            r#"<form method="post" action="/login"><input type="hidden" name="connection" value="{id}"><input type="hidden" name="return_to" value="{rt}"><button type="submit">{name}</button></form>"#,
            id = esc(c.id.as_str()),
            rt = esc(return_to.unwrap_or("")),
            name = esc(&c.name)
        ));
    }
    layout("Choose a connection", &body)
}

pub(crate) fn link_offer(offer: &str, masked_email: &str, allow_new: bool) -> String {
    let new_button = if allow_new {
        r#"<button type="submit" name="choice" value="new" class="secondary">Create a new account instead</button>"#
    } else {
        ""
    };
    layout(
        "Link your account",
        &format!(
            r#"<h1>You already have an account</h1>
<p>An account with the address <strong>{email}</strong> already exists. To sign in with single sign-on from now on, add this sign-in method to it.</p>
<p class="muted">We will e-mail a confirmation link to that address. Open it in this browser within 5 minutes.</p>
<form method="post" action="/link/choose">
 <input type="hidden" name="offer" value="{offer}">
 <button type="submit" name="choice" value="link">Add to existing account</button>
 {new_button}
</form>"#,
            email = esc(masked_email),
            offer = esc(offer),
        ),
    )
}

pub(crate) fn link_mailed(masked_email: &str, valid_for_secs: u64) -> String {
    layout(
        "Check your e-mail",
        &format!(
            r#"<h1>Check your e-mail</h1>
<p>We sent a confirmation link to <strong>{email}</strong>. It is valid for {mins} minutes and works once, in this browser.</p>
<p class="muted">Demo: the mail is printed by the server and listed at <a href="/dev/outbox">/dev/outbox</a>.</p>"#,
            email = esc(masked_email),
            mins = valid_for_secs.div_ceil(60)
        ),
    )
}

pub(crate) fn signed_in(user: &LocalUser, identities: &[IdentityKey]) -> String {
    let ids: String = identities
        .iter()
        .map(|i| {
            format!(
                "<li>{} <span class=\"muted\">({})</span></li>",
                esc(&i.subject),
                esc(i.connection.as_str())
            )
        })
        .collect();
    layout(
        "Welcome",
        &format!(
            r#"<h1>Welcome, {name}</h1>
<dl><dt>E-mail</dt><dd>{email}</dd><dt>Organisation</dt><dd>{tenant}</dd><dt>Role</dt><dd>{role}</dd><dt>User id</dt><dd>{id}</dd></dl>
<p class="muted">Linked sign-in identities:</p><ul>{ids}</ul>
<form method="post" action="/logout"><button type="submit" class="secondary">Sign out</button></form>"#,
            name = esc(user.name.as_deref().unwrap_or(&user.email)),
            email = esc(&user.email),
            tenant = esc(user.tenant.as_str()),
            role = esc(user.role.as_deref().unwrap_or("—")),
            id = esc(user.id.as_str()),
        ),
    )
}

pub(crate) fn error(message: &str, trace_id: Option<&str>) -> String {
    let trace = trace_id
        .map(|t| {
            format!(
                r#"<p class="muted">Reference: <span class="trace">{}</span></p>"#,
                esc(t)
            )
        })
        .unwrap_or_default();
    layout(
        "Cannot sign in",
        &format!(
            r#"<div class="error"><h1>We could not sign you in</h1><p>{}</p>{trace}<p><a href="/">Back to sign-in</a></p></div>"#,
            esc(message)
        ),
    )
}
