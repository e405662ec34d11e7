//! Shared by `tests/integration_*.rs`: a browser (reqwest with a cookie jar,
//! no automatic redirects) that signs in through the development IdP's
//! sign-in page over real HTTP, and the scenarios every host must pass.
#![allow(dead_code)]

use std::sync::Arc;

use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};
use ssokit::hooks::MemoryMailer;
use url::Url;

/// A running application under test.
pub(crate) struct AppUnderTest {
    /// Its base URL (`http://127.0.0.1:{port}/`).
    pub(crate) base: Url,
    /// The outbox its `Sso` mails to.
    pub(crate) mailer: MemoryMailer,
    /// The name of its session cookie.
    pub(crate) session_cookie: &'static str,
}

/// One browser: its own cookie jar.
pub(crate) struct Browser {
    pub(crate) client: Client,
    pub(crate) jar: Arc<reqwest::cookie::Jar>,
    base: Url,
}

impl Browser {
    pub(crate) fn new(app: &AppUnderTest) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = Client::builder()
            .redirect(Policy::none())
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        Self {
            client,
            jar,
            base: app.base.clone(),
        }
    }

    pub(crate) fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap()
    }

    pub(crate) async fn get(&self, path_or_url: &str) -> Response {
        self.client.get(self.url(path_or_url)).send().await.unwrap()
    }

    pub(crate) async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// `POST /login`, then the IdP's sign-in page as `email`: the callback
    /// URL the IdP redirects back to (not fetched yet).
    pub(crate) async fn through_idp(&self, email: &str, return_to: Option<&str>) -> Url {
        let mut form = vec![("email", email)];
        if let Some(r) = return_to {
            form.push(("return_to", r));
        }
        let resp = self.post_form("/login", &form).await;
        assert_eq!(
            resp.status(),
            StatusCode::SEE_OTHER,
            "POST /login as {email}"
        );
        let set_cookie = set_cookies(&resp).join("\n");
        assert!(
            set_cookie.contains("ssokit_flow=") && set_cookie.contains("HttpOnly"),
            "{set_cookie}"
        );
        let authorize = location(&resp, &self.base);
        let page = self
            .client
            .get(authorize.clone())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut fields = hidden_inputs(&page);
        fields.push(("login".into(), email.into()));
        let resp = self
            .client
            .post(authorize.clone())
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_redirection(), "{}", resp.status());
        location(&resp, &authorize)
    }

    /// Signs in through the IdP; the callback's response.
    pub(crate) async fn sign_in(&self, email: &str, return_to: Option<&str>) -> Response {
        let callback = self.through_idp(email, return_to).await;
        self.client.get(callback).send().await.unwrap()
    }

    /// `GET /me`: status and JSON.
    pub(crate) async fn me(&self) -> (StatusCode, serde_json::Value) {
        let r = self.get("/me").await;
        (r.status(), r.json().await.unwrap_or_default())
    }

    /// Answers a link-offer page with "Add to existing account".
    pub(crate) async fn choose_link(&self, offer_page: &str) -> Response {
        let mut fields = hidden_inputs(offer_page);
        fields.push(("choice".into(), "link".into()));
        self.client
            .post(self.url("/link/choose"))
            .form(&fields)
            .send()
            .await
            .unwrap()
    }
}

pub(crate) fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input").skip(1) {
        let tag = &part[..part.find('>').unwrap_or(part.len())];
        if !tag.contains(r#"type="hidden""#) && !tag.contains("type=hidden") {
            continue;
        }
        let attr = |name: &str| {
            let quoted = format!(r#"{name}=""#);
            if let Some(i) = tag.find(&quoted) {
                let rest = &tag[i + quoted.len()..];
                return Some(
                    rest[..rest.find('"').unwrap_or(rest.len())]
                        .replace("&quot;", "\"")
                        .replace("&amp;", "&"),
                );
            }
            let bare = format!("{name}=");
            tag.find(&bare).map(|i| {
                let rest = &tag[i + bare.len()..];
                rest[..rest.find([' ', '>']).unwrap_or(rest.len())].to_owned()
            })
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.push((n, v));
        }
    }
    out
}

pub(crate) fn location(resp: &Response, base: &Url) -> Url {
    let loc = resp.headers()["location"].to_str().unwrap();
    base.join(loc).unwrap()
}

pub(crate) fn set_cookies(resp: &Response) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn session_value(resp: &Response, name: &str) -> Option<String> {
    set_cookies(resp).iter().find_map(|c| {
        c.strip_prefix(&format!("{name}="))
            .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
    })
}

// ------------------------------------------------------------------ scenarios

/// Just-in-time provisioning: 303 to `return_to`, a new session cookie with
/// the security attributes, the flow cookie cleared, `/me` works, and a
/// session id planted before the login is not the one signed in.
pub(crate) async fn jit_sign_in(app: &AppUnderTest) {
    let browser = Browser::new(app);
    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED);
    let planted = format!("{}=planted-by-attacker; Path=/", app.session_cookie);
    browser.jar.add_cookie_str(&planted, &app.base);
    let resp = browser.sign_in("dave@acme.test", Some("/welcome")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/welcome");
    let cookies = set_cookies(&resp);
    let session = cookies
        .iter()
        .find(|c| c.starts_with(&format!("{}=", app.session_cookie)))
        .expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attr), "{session} lacks {attr}");
    }
    assert!(!session.contains("Secure"), "plain http: no Secure");
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("ssokit_flow=;") && c.contains("Max-Age=0")),
        "the flow cookie is cleared: {cookies:?}"
    );
    let sid = session_value(&resp, app.session_cookie).unwrap();
    assert_ne!(sid, "planted-by-attacker");
    assert!(sid.len() >= 43, "256 random bits");
    let (status, me) = browser.me().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "dave@acme.test");
    assert_eq!(me["role"], "member");
    // The planted id did not become a session.
    let r = Client::new()
        .get(app.base.join("/me").unwrap())
        .header(
            "cookie",
            format!("{}=planted-by-attacker", app.session_cookie),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// Linking to an existing account through the mailed link: the offer, the
/// mail, the link refused in another browser, accepted in this one, then
/// single use.
pub(crate) async fn link_flow(app: &AppUnderTest) {
    let browser = Browser::new(app);
    let resp = browser.sign_in("ann@acme.test", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert!(page.contains("/link/choose"), "{page}");
    let sent_before = app.mailer.sent().len();
    let resp = browser.choose_link(&page).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("e-mail"));
    let mails = app.mailer.sent();
    assert_eq!(mails.len(), sent_before + 1);
    let mail = mails.last().unwrap();
    assert_eq!(mail.to, "ann@acme.test");
    let link = mail.link.expose().to_owned();

    // Another browser cannot use it (and that attempt consumes it).
    let other = Browser::new(app);
    assert_eq!(
        other.get(&link).await.status(),
        StatusCode::BAD_REQUEST,
        "the link works only in the browser that asked for it"
    );
    assert_eq!(other.me().await.0, StatusCode::UNAUTHORIZED);

    // Again, properly.
    let resp = browser.sign_in("ann@acme.test", None).await;
    let page = resp.text().await.unwrap();
    assert_eq!(browser.choose_link(&page).await.status(), StatusCode::OK);
    let link = app.mailer.last().unwrap().link.expose().to_owned();
    let resp = browser.get(&link).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookies(&resp)
            .iter()
            .any(|c| c.starts_with(&format!("{}=", app.session_cookie)))
    );
    let (status, me) = browser.me().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "ann@acme.test");
    assert_eq!(me["role"], "admin", "the existing account, not a new one");
    assert_eq!(browser.get(&link).await.status(), StatusCode::BAD_REQUEST);

    // From now on Ann signs in directly.
    let fresh = Browser::new(app);
    assert_eq!(
        fresh.sign_in("ann@acme.test", None).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(fresh.me().await.1["role"], "admin");
}

/// A callback used twice: the second is refused and signs nobody in.
pub(crate) async fn replayed_callback_refused(app: &AppUnderTest) {
    let browser = Browser::new(app);
    let callback = browser.through_idp("dave@acme.test", None).await;
    let first = browser.client.get(callback.clone()).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let again = browser.client.get(callback.clone()).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(
        !set_cookies(&again)
            .iter()
            .any(|c| c.starts_with(&format!("{}=", app.session_cookie))),
        "no session from a replay"
    );
    // An attacker's browser replaying it gets nothing either.
    let attacker = Browser::new(app);
    let r = attacker.client.get(callback).send().await.unwrap();
    assert!(r.status().is_client_error());
    assert_eq!(attacker.me().await.0, StatusCode::UNAUTHORIZED);
}

/// `return_to` must be a relative path on the site.
pub(crate) async fn open_redirect_refused(app: &AppUnderTest) {
    let browser = Browser::new(app);
    for evil in [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let r = browser
            .post_form(
                "/login",
                &[("email", "dave@acme.test"), ("return_to", evil)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{evil}");
        assert!(r.headers().get("location").is_none(), "{evil}");
    }
}

/// Two accounts share Bob's address: refused (403) with a trace id, and
/// the flow cookie cleared.
pub(crate) async fn duplicate_email_denied(app: &AppUnderTest) {
    let browser = Browser::new(app);
    let r = browser.sign_in("bob@acme.test", None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        set_cookies(&r)
            .iter()
            .all(|c| !c.starts_with(&format!("{}=", app.session_cookie)))
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("Reference"), "{page}");
    assert!(page.contains("Several accounts"), "{page}");
    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED);
}

/// Bad input: 4xx answers, nobody signed in.
pub(crate) async fn bad_input(app: &AppUnderTest) {
    let browser = Browser::new(app);
    assert_eq!(
        browser.post_form("/login", &[("email", "")]).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        browser
            .post_form("/login", &[("email", "someone@gmail.com")])
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    for q in ["", "?state=x", "?code=a&state=b&state=c", "?%ff%fe=%00"] {
        let r = browser.get(&format!("/sso/oidc/callback{q}")).await;
        assert!(r.status().is_client_error(), "{q}: {}", r.status());
    }
    assert_eq!(
        browser.get("/link/confirm?token=nope").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        browser
            .post_form("/link/choose", &[("offer", "x"), ("choice", "link")])
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
}

/// Every scenario, one after the other.
pub(crate) async fn all_scenarios(app: &AppUnderTest) {
    jit_sign_in(app).await;
    link_flow(app).await;
    replayed_callback_refused(app).await;
    open_redirect_refused(app).await;
    bad_input(app).await;
}
