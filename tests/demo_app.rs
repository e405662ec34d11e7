//! The demo application over real HTTP on loopback: its routes, the session
//! handling a host must get right, and bad input.

#[allow(dead_code)]
#[path = "../examples/demo/admin.rs"]
mod admin;
#[allow(dead_code)]
#[path = "../examples/demo/app.rs"]
mod app;
#[allow(dead_code)]
#[path = "../examples/demo/config.rs"]
mod config;
#[allow(dead_code)]
#[path = "../examples/demo/db.rs"]
mod db;
#[allow(dead_code)]
#[path = "../examples/demo/pages.rs"]
mod pages;
#[allow(dead_code)]
#[path = "../examples/demo/scim.rs"]
mod scim;
#[allow(dead_code)]
#[path = "../examples/demo/scim_sql.rs"]
mod scim_sql;

use std::sync::Arc;

use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use url::Url;

struct Demo {
    base: Url,
}

async fn start() -> Demo {
    start_with(|_| {}).await
}

async fn start_with(tweak: impl FnOnce(&mut config::DemoConfig)) -> Demo {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cfg = config::DemoConfig::embedded(addr);
    tweak(&mut cfg);
    let state = app::AppState::new(cfg, addr).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app::router(state)).await.unwrap() });
    Demo {
        base: Url::parse(&format!("http://{addr}/")).unwrap(),
    }
}

fn browser() -> (Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = Client::builder()
        .redirect(Policy::none())
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    (client, jar)
}

fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input").skip(1) {
        let tag = &part[..part.find('>').unwrap_or(part.len())];
        if !tag.contains(r#"type="hidden""#) {
            continue;
        }
        let attr = |name: &str| {
            let key = format!(r#"{name}=""#);
            tag.find(&key).map(|i| {
                let rest = &tag[i + key.len()..];
                rest[..rest.find('"').unwrap_or(rest.len())]
                    .replace("&amp;", "&")
                    .replace("&quot;", "\"")
            })
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.push((n, v));
        }
    }
    out
}

fn location(resp: &reqwest::Response, base: &Url) -> Url {
    let loc = resp
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap();
    base.join(loc).unwrap()
}

/// Signs in through the demo and its development IdP; returns the final response.
async fn sign_in(
    demo: &Demo,
    client: &Client,
    email: &str,
    return_to: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("email", email.to_owned())];
    if let Some(r) = return_to {
        form.push(("return_to", r.to_owned()));
    }
    let resp = client
        .post(demo.base.join("/login").unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let authorize = location(&resp, &demo.base);
    let page = client
        .get(authorize.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut fields = hidden_inputs(&page);
    fields.push(("login".into(), email.into()));
    let resp = client
        .post(authorize.clone())
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let callback = location(&resp, &authorize);
    client.get(callback).send().await.unwrap()
}

async fn me(demo: &Demo, client: &Client) -> (StatusCode, serde_json::Value) {
    let r = client
        .get(demo.base.join("/me").unwrap())
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn jit_sign_in_and_me() {
    let demo = start().await;
    let (client, _) = browser();
    assert_eq!(me(&demo, &client).await.0, StatusCode::UNAUTHORIZED);
    let resp = sign_in(&demo, &client, "dave@acme.test", Some("/welcome")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/welcome");
    let (status, body) = me(&demo, &client).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["email"], "dave@acme.test");
    assert_eq!(body["tenant"], "acme");
    assert_eq!(body["role"], "member");
    let home = client
        .get(demo.base.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Welcome") && home.contains("dev|dave@acme.test"));
    let r = client
        .post(demo.base.join("/logout").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(me(&demo, &client).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn session_fixation_fails() {
    let demo = start().await;
    let (client, jar) = browser();
    // An attacker planted a session id in the victim's browser before login.
    jar.add_cookie_str("demo_session=planted-by-attacker; Path=/", &demo.base);
    sign_in(&demo, &client, "dave@acme.test", None).await;
    assert_eq!(me(&demo, &client).await.0, StatusCode::OK);
    // The planted id did not become a signed-in session.
    let attacker = Client::new();
    let r = attacker
        .get(demo.base.join("/me").unwrap())
        .header("cookie", "demo_session=planted-by-attacker")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn link_flow_through_the_outbox() {
    let demo = start().await;
    let (client, _) = browser();
    let resp = sign_in(&demo, &client, "ann@acme.test", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert!(page.contains(r#"action="/link/choose""#));
    let mut fields = hidden_inputs(&page);
    fields.push(("choice".into(), "link".into()));
    let r = client
        .post(demo.base.join("/link/choose").unwrap())
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let outbox: serde_json::Value = client
        .get(demo.base.join("/dev/outbox").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mail = outbox.as_array().unwrap().last().unwrap();
    assert_eq!(mail["to"], "ann@acme.test");
    let link = Url::parse(mail["link"].as_str().unwrap()).unwrap();
    // Another browser cannot use the link.
    let (other, _) = browser();
    let r = other.get(link.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(me(&demo, &other).await.0, StatusCode::UNAUTHORIZED);
    // The link was consumed by that attempt; sign in again and confirm properly.
    let resp = sign_in(&demo, &client, "ann@acme.test", None).await;
    let mut fields = hidden_inputs(&resp.text().await.unwrap());
    fields.push(("choice".into(), "link".into()));
    client
        .post(demo.base.join("/link/choose").unwrap())
        .form(&fields)
        .send()
        .await
        .unwrap();
    let outbox: serde_json::Value = client
        .get(demo.base.join("/dev/outbox").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = Url::parse(
        outbox.as_array().unwrap().last().unwrap()["link"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let r = client.get(link.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, body) = me(&demo, &client).await;
    assert_eq!(body["email"], "ann@acme.test");
    assert_eq!(
        body["role"], "admin",
        "the pre-existing account, not a new one"
    );
    // Reusing the link fails.
    assert_eq!(
        client.get(link).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn denials_and_bad_input_get_4xx_pages() {
    let demo = start().await;
    let (client, _) = browser();
    let r = sign_in(&demo, &client, "bob@acme.test", None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("Reference:"));
    assert_eq!(
        sign_in(&demo, &client, "carol@acme.test", None)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    let post = |form: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = demo.base.join("/login").unwrap();
        async move { client.post(url).form(&form).send().await.unwrap().status() }
    };
    assert_eq!(
        post(vec![
            ("email", "dave@acme.test".into()),
            ("return_to", "//evil.example".into())
        ])
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(vec![("email", "someone@gmail.com".into())]).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(vec![("email", "".into())]).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(vec![("email", "x@nowhere.test".into())]).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(vec![("email", "a".repeat(100_000))]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    for q in [
        "",
        "?state=x",
        "?code=a&state=b&state=c",
        "?error=access_denied&state=z",
        "?%ff%fe=%00",
    ] {
        let r = client
            .get(demo.base.join(&format!("/sso/oidc/callback{q}")).unwrap())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{q}: {}", r.status());
    }
    let r = client
        .get(demo.base.join("/link/confirm?token=nope").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = client
        .post(demo.base.join("/link/choose").unwrap())
        .form(&[("offer", "x"), ("choice", "link")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Nobody was created by any of it.
    let users: serde_json::Value = client
        .get(demo.base.join("/dev/users").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users.as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn tenant_subdomain_routes_without_an_email() {
    let demo = start_with(|c| c.base_domain = Some("app.example".into())).await;
    let (client, _) = browser();
    let login = demo.base.join("/login").unwrap();
    let r = client
        .post(login.clone())
        .header("host", "acme.app.example")
        .form(&[("x", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/dev/idp/authorize")
    );
    // An unknown subdomain does not route; the bare domain asks for an e-mail.
    let r = client
        .post(login.clone())
        .header("host", "initech.app.example")
        .form(&[("x", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = client
        .post(login)
        .header("host", "app.example")
        .form(&[("x", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

/// Signs in at the dev IdP page reached at `authorize` and follows to the app's callback.
async fn through_idp(client: &Client, authorize: Url, login: &str) -> reqwest::Response {
    let page = client
        .get(authorize.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut fields = hidden_inputs(&page);
    fields.push(("login".into(), login.into()));
    let resp = client
        .post(authorize.clone())
        .form(&fields)
        .send()
        .await
        .unwrap();
    let callback = location(&resp, &authorize);
    client.get(callback).send().await.unwrap()
}

#[tokio::test]
async fn admin_pages_audit_activation_and_events() {
    let demo = start().await;
    // A member cannot use the admin pages.
    let (member, _) = browser();
    sign_in(&demo, &member, "dave@acme.test", None).await;
    let r = member
        .get(demo.base.join("/admin/audit?format=json").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Ann (role admin) links her account, then administers.
    let (admin, _) = browser();
    let resp = sign_in(&demo, &admin, "ann@acme.test", None).await;
    let mut fields = hidden_inputs(&resp.text().await.unwrap());
    fields.push(("choice".into(), "link".into()));
    admin
        .post(demo.base.join("/link/choose").unwrap())
        .form(&fields)
        .send()
        .await
        .unwrap();
    let outbox: serde_json::Value = admin
        .get(demo.base.join("/dev/outbox").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = Url::parse(
        outbox.as_array().unwrap().last().unwrap()["link"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        admin.get(link).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let audit: serde_json::Value = admin
        .get(demo.base.join("/admin/audit?format=json").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let groups = audit["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{audit}");
    assert_eq!(groups[0]["email_key"], "bob@acme.test");
    assert_eq!(groups[0]["users"].as_array().unwrap().len(), 2);
    // Reset Bob Smith's login method; Carol (disabled) gets nothing.
    let users: serde_json::Value = admin
        .get(demo.base.join("/dev/users").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_of = |name: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (bob, carol) = (id_of("Bob Smith"), id_of("Carol (disabled)"));
    let report: serde_json::Value = admin
        .post(demo.base.join("/admin/reset").unwrap())
        .form(&[
            ("users", format!("{bob},{carol}")),
            ("connection", "acme-dev".into()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["sent"], serde_json::json!([bob]));
    assert_eq!(report["inactive"], serde_json::json!([carol]));
    let outbox: serde_json::Value = admin
        .get(demo.base.join("/dev/outbox").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mail = outbox.as_array().unwrap().last().unwrap().clone();
    assert_eq!(mail["to"], "bob@acme.test");
    // Bob follows it and signs in at his IdP under another address: linked to his account anyway.
    let (bobs, _) = browser();
    let r = bobs
        .get(Url::parse(mail["link"].as_str().unwrap()).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let authorize = location(&r, &demo.base);
    let done = through_idp(&bobs, authorize, "robert.smith@acme.test").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let (_, me_json) = me(&demo, &bobs).await;
    assert_eq!(me_json["id"], serde_json::Value::String(bob.clone()));
    let events: serde_json::Value = admin
        .get(demo.base.join("/admin/events?format=json").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<_> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
        .collect();
    for k in [
        "activation_sent",
        "activation_completed",
        "link_confirmed",
        "signed_in",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    // Pages render for people too.
    for path in ["/admin", "/admin/audit", "/admin/hygiene", "/admin/events"] {
        let r = admin
            .get(demo.base.join(path).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
}

/// The hidden fields and action of the first form on a page.
fn form_of(html: &str, base: &Url) -> (Url, Vec<(String, String)>) {
    let start = html.find("<form").expect("a form");
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    let action = tag
        .split("action=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    (base.join(&action).unwrap(), hidden_inputs(&html[start..]))
}

#[tokio::test]
async fn saml_sign_in_through_the_development_idp() {
    let demo = start().await;
    let (client, _) = browser();
    let r = client
        .post(demo.base.join("/login").unwrap())
        .form(&[("email", "greg@globex.test")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let sso = location(&r, &demo.base);
    assert!(
        sso.path().ends_with("/dev/saml/sso") && sso.query().unwrap().contains("SAMLRequest="),
        "{sso}"
    );
    let page = client
        .get(sso.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (action, mut fields) = form_of(&page, &sso);
    fields.push(("login".into(), "greg@globex.test".into()));
    let posted = client
        .post(action.clone())
        .form(&fields)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (acs, response_fields) = form_of(&posted, &action);
    assert_eq!(acs.path(), "/sso/saml/acs");
    // The IdP's POST is cross-site: without the (SameSite=Lax) flow cookie the
    // ACS bounces it once through a same-site form post, consuming nothing.
    let bare = Client::builder().redirect(Policy::none()).build().unwrap();
    let bounced = bare
        .post(acs.clone())
        .form(&response_fields)
        .send()
        .await
        .unwrap();
    assert_eq!(bounced.status(), StatusCode::OK);
    let bounce_page = bounced.text().await.unwrap();
    let (again, again_fields) = form_of(&bounce_page, &acs);
    assert_eq!(again.path(), "/sso/saml/acs");
    assert!(again_fields.iter().any(|(k, _)| k == "ssokit_repost"));
    // Re-posted from the site, with the cookie: signed in (JIT).
    let done = client.post(again).form(&again_fields).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let (_, me_json) = me(&demo, &client).await;
    assert_eq!(me_json["tenant"], "globex");
    assert_eq!(me_json["email"], "greg@globex.test");
    assert_eq!(me_json["signed_in_with"], "globex-saml");
    // The same Response again is refused (single-use request, replay cache).
    let replay = client
        .post(acs.clone())
        .form(&response_fields)
        .send()
        .await
        .unwrap();
    let replay = if replay.status() == StatusCode::OK {
        // The flow cookie is gone after sign-in: bounced first, then refused.
        let page = replay.text().await.unwrap();
        let (again, fields) = form_of(&page, &acs);
        client.post(again).form(&fields).send().await.unwrap()
    } else {
        replay
    };
    assert!(replay.status().is_client_error(), "{}", replay.status());
    // SP metadata for the connection.
    let md = client
        .get(
            demo.base
                .join("/sso/saml/metadata?connection=globex-saml")
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(md.status(), StatusCode::OK);
    let xml = md.text().await.unwrap();
    assert!(
        xml.contains("EntityDescriptor") && xml.contains("/sso/saml/acs"),
        "{xml}"
    );
}

#[tokio::test]
async fn saml_existing_account_gets_the_link_offer() {
    let demo = start().await;
    let (client, _) = browser();
    let r = client
        .post(demo.base.join("/login").unwrap())
        .form(&[("email", "gina@globex.test")])
        .send()
        .await
        .unwrap();
    let sso = location(&r, &demo.base);
    let page = client
        .get(sso.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (action, mut fields) = form_of(&page, &sso);
    fields.push(("login".into(), "gina@globex.test".into()));
    let posted = client
        .post(action.clone())
        .form(&fields)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (acs, response_fields) = form_of(&posted, &action);
    let offer = client
        .post(acs)
        .form(&response_fields)
        .send()
        .await
        .unwrap();
    assert_eq!(offer.status(), StatusCode::OK);
    assert!(
        offer
            .text()
            .await
            .unwrap()
            .contains(r#"action="/link/choose""#)
    );
}
