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

const STYLE: &str = r#"
 *, *::before, *::after { box-sizing: border-box; }
 body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: #f3f4f7; color: #1b2130; margin: 0; line-height: 1.5; }
 header { background: #fff; border-bottom: 1px solid #e3e6ec; padding: 0 32px; height: 60px; display: flex; align-items: center; justify-content: space-between; }
 .brand { display: flex; align-items: center; gap: 10px; font-weight: 650; font-size: 1.05rem; color: #1b2130; text-decoration: none; }
 .logo { width: 30px; height: 30px; border-radius: 8px; background: linear-gradient(135deg, #3b5bdb, #7048e8); color: #fff; display: grid; place-items: center; font-weight: 700; }
 .tag { color: #6b7385; font-size: .85rem; display: flex; align-items: center; gap: 6px; }
 main { max-width: 460px; margin: 56px auto 24px; background: #fff; border: 1px solid #e3e6ec; border-radius: 14px; padding: 36px 40px; box-shadow: 0 6px 24px rgba(27,33,48,.06); }
 h1 { font-size: 1.4rem; margin: 0 0 6px; letter-spacing: -.01em; }
 .lead { color: #4a5263; margin: 0 0 22px; }
 label { display: block; font-size: .88rem; font-weight: 600; margin-bottom: 6px; color: #30384a; }
 input[type=email] { width: 100%; padding: 11px 13px; border: 1px solid #c9ced8; border-radius: 8px; font-size: 1rem; }
 input[type=email]:focus { outline: 3px solid #c5d0fa; border-color: #3b5bdb; }
 button, .button { display: block; text-align: center; text-decoration: none; margin-top: 14px; width: 100%; padding: 11px; border: 0; border-radius: 8px; background: #3b5bdb; color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
 button:hover, .button:hover { background: #324fc4; }
 button.secondary, .button.secondary { background: #fff; color: #1b2130; border: 1px solid #c9ced8; }
 button.secondary:hover { background: #f5f6f9; }
 .choice small { display: block; font-weight: 400; color: #6b7385; font-size: .8rem; }
 .muted { color: #6b7385; font-size: .88rem; }
 .icon { width: 44px; height: 44px; border-radius: 50%; display: grid; place-items: center; margin-bottom: 14px; }
 .icon.ok { background: #e6f4ea; color: #1e7b34; } .icon.info { background: #e8edfc; color: #3b5bdb; } .icon.bad { background: #fdecea; color: #b42318; }
 .banner { background: #e6f4ea; color: #1e5e2e; border-radius: 8px; padding: 10px 14px; font-size: .9rem; margin-bottom: 20px; display: flex; align-items: center; gap: 8px; }
 dl { display: grid; grid-template-columns: 120px 1fr; gap: 8px 12px; margin: 0 0 20px; }
 dt { color: #6b7385; } dd { margin: 0; overflow-wrap: anywhere; }
 .badge { display: inline-block; padding: 1px 10px; border-radius: 999px; background: #e8edfc; color: #2f49b8; font-size: .85rem; font-weight: 600; }
 ul.ids { list-style: none; padding: 0; margin: 0 0 8px; }
 ul.ids li { border: 1px solid #e3e6ec; border-radius: 8px; padding: 8px 12px; margin-bottom: 6px; display: flex; justify-content: space-between; gap: 12px; font-size: .9rem; }
 ul.ids code { overflow-wrap: anywhere; }
 h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .06em; color: #6b7385; margin: 26px 0 10px; }
 table.demo { width: 100%; border-collapse: collapse; font-size: .85rem; }
 table.demo td { padding: 5px 0; border-top: 1px solid #eef0f4; vertical-align: top; }
 table.demo td:first-child { white-space: nowrap; padding-right: 12px; }
 code, .trace { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85em; }
 .trace { background: #f0f1f4; padding: 3px 8px; border-radius: 6px; user-select: all; }
 .error h1 { color: #b42318; }
 footer { text-align: center; color: #8a91a2; font-size: .8rem; margin: 0 0 32px; }
 footer a, .muted a { color: inherit; }
"#;

const LOCK: &str = r#"<svg width="14" height="14" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true"><rect x="4" y="11" width="16" height="10" rx="2"/><path d="M8 11V7a4 4 0 0 1 8 0v4"/></svg>"#;

fn icon(kind: &str, path: &str) -> String {
    format!(
        r#"<div class="icon {kind}"><svg width="22" height="22" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">{path}</svg></div>"#
    )
}

const CHECK: &str = r#"<path d="M20 6 9 17l-5-5"/>"#;
const LINK: &str = r#"<path d="M10 13a5 5 0 0 0 7.5.5l3-3a5 5 0 0 0-7-7l-1.7 1.7"/><path d="M14 11a5 5 0 0 0-7.5-.5l-3 3a5 5 0 0 0 7 7l1.7-1.7"/>"#;
const MAIL: &str = r#"<rect x="3" y="5" width="18" height="14" rx="2"/><path d="m3 7 9 6 9-6"/>"#;
const STOP: &str = r#"<circle cx="12" cy="12" r="9"/><path d="M12 7v6M12 16.5v.5"/>"#;

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Acme Workspace</title>
<style>{STYLE}</style></head>
<body><header><a class="brand" href="/"><span class="logo">A</span>Acme Workspace</a><span class="tag">{LOCK} Single sign-on</span></header>
<main>{body}</main>
<footer>ssokit demo · development identity providers: OpenID Connect at <a href="/dev/idp/.well-known/openid-configuration">/dev/idp</a>, SAML at <a href="/dev/saml/metadata">/dev/saml</a></footer></body></html>"#,
        title = esc(title)
    )
}

pub(crate) fn login(tenant_subdomain: Option<&str>) -> String {
    if let Some(label) = tenant_subdomain {
        return layout(
            "Sign in",
            &format!(
                r#"<h1>Sign in to {label}</h1>
<p class="lead">You will continue at your organisation's sign-in page.</p>
<form method="post" action="/login"><button type="submit">Continue with single sign-on</button></form>"#,
                label = esc(label)
            ),
        );
    }
    layout(
        "Sign in",
        r#"<h1>Sign in to Acme Workspace</h1>
<p class="lead">Enter your work e-mail. We will send you to your organisation's sign-in page.</p>
<form method="post" action="/login">
 <label for="email">Work e-mail</label>
 <input id="email" name="email" type="email" autocomplete="username" placeholder="you@company.com" required autofocus>
 <button type="submit">Next</button>
</form>
<h2>Demo accounts</h2>
<table class="demo">
 <tr><td><code>dave@acme.test</code></td><td>new: created on first sign-in</td></tr>
 <tr><td><code>ann@acme.test</code></td><td>existing account: link it by e-mail</td></tr>
 <tr><td><code>bob@acme.test</code></td><td>two accounts share it: refused</td></tr>
 <tr><td><code>carol@acme.test</code></td><td>disabled account: refused</td></tr>
 <tr><td><code>greg@globex.test</code></td><td>SAML: created on first sign-in</td></tr>
 <tr><td><code>gina@globex.test</code></td><td>SAML: existing account: link it</td></tr>
</table>"#,
    )
}

pub(crate) fn choose(connections: &[ConnectionChoice], return_to: Option<&str>) -> String {
    let mut body = String::from(
        r#"<h1>Choose how to sign in</h1><p class="lead">Your organisation has more than one sign-in method.</p>"#,
    );
    for c in connections {
        body.push_str(&format!(
            r#"<form method="post" action="/login"><input type="hidden" name="connection" value="{id}"><input type="hidden" name="return_to" value="{rt}"><button type="submit" class="secondary choice">{name}<small>{id}</small></button></form>"#,
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
            r#"{icon}<h1>You already have an account</h1>
<p>An account with the address <strong>{email}</strong> already exists. To sign in with single sign-on from now on, add this sign-in method to it.</p>
<p class="muted">We will e-mail a confirmation link to that address. Open it in this browser within 5 minutes.</p>
<form method="post" action="/link/choose">
 <input type="hidden" name="offer" value="{offer}">
 <button type="submit" name="choice" value="link">Add to existing account</button>
 {new_button}
</form>"#,
            icon = icon("info", LINK),
            email = esc(masked_email),
            offer = esc(offer),
        ),
    )
}

pub(crate) fn link_mailed(masked_email: &str, valid_for_secs: u64) -> String {
    layout(
        "Check your e-mail",
        &format!(
            r#"{icon}<h1>Check your e-mail</h1>
<p>We sent a confirmation link to <strong>{email}</strong>. It is valid for {mins} minutes and works once, in this browser.</p>
<p class="muted">Demo: the mail is printed by the server and listed at <a href="/dev/outbox">/dev/outbox</a>.</p>"#,
            icon = icon("info", MAIL),
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
                r#"<li><code>{}</code><span class="muted">{}</span></li>"#,
                esc(&i.subject),
                esc(i.connection.as_str())
            )
        })
        .collect();
    let ids = if ids.is_empty() {
        r#"<p class="muted">None yet.</p>"#.to_owned()
    } else {
        format!(r#"<ul class="ids">{ids}</ul>"#)
    };
    layout(
        "Welcome",
        &format!(
            r#"<div class="banner"><svg width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.5" aria-hidden="true">{check}</svg>You are signed in with single sign-on.</div>
<h1>Welcome, {name}</h1>
<dl><dt>E-mail</dt><dd>{email}</dd><dt>Organisation</dt><dd>{tenant}</dd><dt>Role</dt><dd><span class="badge" id="role">{role}</span></dd><dt>User id</dt><dd><code>{id}</code></dd></dl>
<h2>Linked sign-in identities</h2>{ids}
<form method="post" action="/logout"><button type="submit" class="secondary">Sign out</button></form>"#,
            name = esc(user.name.as_deref().unwrap_or(&user.email)),
            email = esc(&user.email),
            tenant = esc(user.tenant.as_str()),
            role = esc(user.role.as_deref().unwrap_or("—")),
            id = esc(user.id.as_str()),
            check = CHECK,
        ),
    )
}

/// A sentence for the user from an error's text: without the trace id
/// (shown on its own) or the error's category prefix, capitalised.
fn sentence(message: &str, trace_id: Option<&str>) -> String {
    let mut m = message.trim();
    if let Some(t) = trace_id {
        m = m.strip_suffix(&format!(" (trace id {t})")).unwrap_or(m);
    }
    for prefix in ["bad request: ", "login flow: ", "account link: "] {
        m = m.strip_prefix(prefix).unwrap_or(m);
    }
    let mut chars = m.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

pub(crate) fn error(message: &str, trace_id: Option<&str>) -> String {
    let trace = trace_id
        .map(|t| {
            format!(
                r#"<p class="muted">Reference: <span class="trace">{}</span><br>Quote it if you contact your administrator or support.</p>"#,
                esc(t)
            )
        })
        .unwrap_or_default();
    layout(
        "Cannot sign in",
        &format!(
            r#"<div class="error">{icon}<h1>We could not sign you in</h1><p>{message}</p>{trace}<a class="button secondary" href="/">Back to sign-in</a></div>"#,
            icon = icon("bad", STOP),
            message = esc(&sentence(message, trace_id)),
        ),
    )
}
