//! End-to-end tests of the development provider over real HTTP on
//! 127.0.0.1, with signatures verified by `ring` against the served JWKS.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Value, json};
use url::Url;

use super::jose;
use super::*;

const CLIENT: &str = "test-app";
const SECRET: &str = "s3cret";
const REDIRECT: &str = "http://127.0.0.1:9/sso/callback";

fn alice() -> DevUser {
    DevUser {
        name: "Alice Liddell".into(),
        ..DevUser::new("alice").with_groups(["admins", "staff"])
    }
}

/// A provider whose issuer has a path, so that nesting is exercised.
async fn start() -> RunningProvider {
    DevProvider::spawn_local(|base| {
        DevProvider::new(base.join("dev/idp").unwrap())
            .with_client(CLIENT, SECRET, &[REDIRECT])
            .with_user(alice())
    })
    .await
    .expect("spawn dev provider")
}

pub(super) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(super) struct Pkce {
    pub(super) verifier: String,
    pub(super) challenge: String,
}

pub(super) fn pkce() -> Pkce {
    let verifier = crate::secret::random_token(32);
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    Pkce {
        verifier,
        challenge,
    }
}

fn authorize_params(challenge: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", CLIENT.into()),
        ("redirect_uri", REDIRECT.into()),
        ("response_type", "code".into()),
        ("scope", "openid email profile".into()),
        ("state", "st-1".into()),
        ("nonce", "n-1".into()),
        ("code_challenge", challenge.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

/// The authorization URL with `params`, where a `None` value removes the
/// parameter and a `Some` replaces or adds it.
fn authorize_url(
    p: &DevProvider,
    challenge: &str,
    changes: &[(&'static str, Option<&str>)],
) -> Url {
    let mut params = authorize_params(challenge);
    for (name, value) in changes {
        params.retain(|(n, _)| n != name);
        if let Some(value) = value {
            params.push((name, (*value).to_owned()));
        }
    }
    let mut url = p.authorization_endpoint().clone();
    url.query_pairs_mut().extend_pairs(params);
    url
}

pub(super) fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub(super) fn location(response: &reqwest::Response) -> Url {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "expected a redirect"
    );
    Url::parse(response.headers()[LOCATION].to_str().unwrap()).unwrap()
}

/// Signs in through the HTML form over HTTP; returns the code.
async fn browser_login(p: &DevProvider, pkce: &Pkce, login: &str) -> String {
    let client = http();
    let page = client
        .get(authorize_url(p, &pkce.challenge, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let mut form = authorize_params(&pkce.challenge);
    form.push(("login", login.to_owned()));
    let response = client
        .post(p.authorization_endpoint().clone())
        .form(&form)
        .send()
        .await
        .unwrap();
    let back = location(&response);
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    param(&back, "code").expect("a code")
}

/// Signs in without HTTP; returns the code.
fn quick_login(p: &DevProvider, pkce: &Pkce, login: &str) -> String {
    let back = p
        .sign_in(&authorize_url(p, &pkce.challenge, &[]), login)
        .unwrap();
    param(&back, "code").expect("a code")
}

async fn redeem(p: &DevProvider, code: &str, verifier: &str) -> reqwest::Response {
    http()
        .post(p.token_endpoint().clone())
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

/// Logs in and redeems; returns the token response.
async fn tokens_for(p: &DevProvider, login: &str) -> Value {
    let pkce = pkce();
    let code = quick_login(p, &pkce, login);
    let response = redeem(p, &code, &pkce.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn fetch_jwks(p: &DevProvider) -> Value {
    http()
        .get(p.jwks_uri().clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub(super) struct Jwt {
    pub(super) header: Value,
    pub(super) claims: Value,
    pub(super) signing_input: String,
    pub(super) signature: Vec<u8>,
}

pub(super) fn parse_jwt(token: &str) -> Jwt {
    let mut parts = token.split('.');
    let (h, c, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert!(parts.next().is_none());
    Jwt {
        header: serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap(),
        claims: serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).unwrap()).unwrap(),
        signing_input: format!("{h}.{c}"),
        signature: URL_SAFE_NO_PAD.decode(s).unwrap(),
    }
}

pub(super) fn b64d(value: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(value.as_str().unwrap()).unwrap()
}

/// Verifies like a careful relying party: key by `kid`, algorithm from the
/// key. Returns the claims.
fn verify(token: &str, jwks: &Value) -> Result<Value, &'static str> {
    let jwt = parse_jwt(token);
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == jwt.header["kid"])
        .ok_or("unknown kid")?;
    if key["alg"] != jwt.header["alg"] {
        return Err("alg does not match the key");
    }
    let input = jwt.signing_input.as_bytes();
    let ok = match key["kty"].as_str() {
        Some("RSA") => RsaPublicKeyComponents {
            n: b64d(&key["n"]),
            e: b64d(&key["e"]),
        }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            input,
            &jwt.signature,
        )
        .is_ok(),
        Some("EC") => {
            let mut point = vec![4u8];
            point.extend(b64d(&key["x"]));
            point.extend(b64d(&key["y"]));
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(input, &jwt.signature)
                .is_ok()
        }
        _ => false,
    };
    if ok {
        Ok(jwt.claims)
    } else {
        Err("bad signature")
    }
}

#[tokio::test]
async fn discovery_lists_absolute_endpoints_under_the_issuer() {
    let idp = start().await;
    let p = idp.provider();
    let base = idp.url();
    assert_eq!(p.issuer().as_str(), format!("{base}dev/idp"));
    let response = http().get(p.discovery_url().clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let doc: Value = response.json().await.unwrap();
    let issuer = p.issuer().as_str();
    assert_eq!(doc["issuer"], issuer);
    for (field, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("jwks_uri", "/jwks"),
        ("userinfo_endpoint", "/userinfo"),
    ] {
        assert_eq!(doc[field], format!("{issuer}{path}"), "{field}");
    }
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["grant_types_supported"], json!(["authorization_code"]));
    assert!(
        doc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("openid"))
    );
    assert!(
        doc["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("groups"))
    );
    assert_eq!(p.request_counts().discovery, 1);

    // Every advertised endpoint is actually served.
    let jwks = http()
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), StatusCode::OK);
    // Nothing is served outside the issuer's path.
    let outside = http().get(base.join("jwks").unwrap()).send().await.unwrap();
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn code_flow_end_to_end() {
    let idp = start().await;
    let p = idp.provider();
    let pkce = pkce();

    let page = http()
        .get(authorize_url(
            p,
            &pkce.challenge,
            &[("login_hint", Some("al\"ice"))],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Development identity provider \u{2014} any account works"));
    assert!(html.contains(&format!("action=\"{}\"", p.authorization_endpoint())));
    assert!(
        html.contains("value=\"al&quot;ice\""),
        "login_hint prefilled and escaped"
    );
    assert!(
        html.contains("name=\"user\" value=\"alice\""),
        "one-click button for alice"
    );
    assert!(html.contains(&format!(
        "name=\"code_challenge\" value=\"{}\"",
        pkce.challenge
    )));

    // The one-click button sends `user` (and the empty text field).
    let mut form = authorize_params(&pkce.challenge);
    form.push(("login", String::new()));
    form.push(("user", "alice".into()));
    let response = http()
        .post(p.authorization_endpoint().clone())
        .form(&form)
        .send()
        .await
        .unwrap();
    let back = location(&response);
    assert!(back.as_str().starts_with(REDIRECT));
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&back, "iss").as_deref(), Some(p.issuer().as_str()));
    let code = param(&back, "code").unwrap();
    assert!(
        URL_SAFE_NO_PAD.decode(&code).unwrap().len() >= 16,
        "≥ 128 bits"
    );

    let response = redeem(p, &code, &pkce.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid email profile");
    assert!(tokens["expires_in"].as_i64().unwrap() > 0);

    let id_token = tokens["id_token"].as_str().unwrap();
    let header = parse_jwt(id_token).header;
    assert_eq!(
        header,
        json!({"alg": "RS256", "kid": "dev-rsa-1", "typ": "JWT"})
    );
    let claims = verify(id_token, &fetch_jwks(p).await).expect("valid RS256 signature");
    assert_eq!(claims["iss"], p.issuer().as_str());
    assert_eq!(claims["sub"], "dev|alice");
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(claims["azp"], CLIENT);
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["groups"], json!(["admins", "staff"]));
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 300);
    assert!((iat - p.now_unix()).abs() <= 5);
    assert!(claims["auth_time"].as_i64().unwrap() <= iat);

    let info: Value = http()
        .get(p.userinfo_endpoint().clone())
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        info,
        json!({
            "sub": "dev|alice",
            "email": "alice@example.test",
            "email_verified": true,
            "name": "Alice Liddell",
            "preferred_username": "alice",
            "groups": ["admins", "staff"],
        })
    );
    let counts = p.request_counts();
    assert_eq!(
        (
            counts.authorize,
            counts.login,
            counts.token,
            counts.userinfo,
            counts.jwks
        ),
        (1, 1, 1, 1, 1)
    );
}

#[tokio::test]
async fn unknown_and_seeded_logins() {
    let idp = start().await;
    let p = idp.provider();

    let pkce1 = pkce();
    let code = browser_login(p, &pkce1, "  Jane.Doe ").await;
    let tokens: Value = redeem(p, &code, &pkce1.verifier)
        .await
        .json()
        .await
        .unwrap();
    let claims = parse_jwt(tokens["id_token"].as_str().unwrap()).claims;
    assert_eq!(claims["sub"], "dev|jane.doe");
    assert_eq!(claims["email"], "jane.doe@example.test");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Jane Doe");
    assert!(claims.get("groups").is_none(), "no empty groups claim");

    let pkce2 = pkce();
    let code = browser_login(p, &pkce2, "ALICE@example.test").await;
    let tokens: Value = redeem(p, &code, &pkce2.verifier)
        .await
        .json()
        .await
        .unwrap();
    let claims = parse_jwt(tokens["id_token"].as_str().unwrap()).claims;
    assert_eq!(claims["sub"], "dev|alice", "seeded user found by e-mail");

    // An empty login re-renders the page with a message, no code.
    let mut form = authorize_params(&pkce2.challenge);
    form.push(("login", "   ".into()));
    let response = http()
        .post(p.authorization_endpoint().clone())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("Enter a login"));
}

#[tokio::test]
async fn client_authentication() {
    let idp = start().await;
    let p = idp.provider();
    let form = |code: &str, verifier: &str, extra: &[(&'static str, &'static str)]| {
        let mut f = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code_verifier", verifier.to_owned()),
        ];
        f.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        f
    };

    // client_secret_post works.
    let pk = pkce();
    let code = quick_login(p, &pk, "alice");
    let response = http()
        .post(p.token_endpoint().clone())
        .form(&form(
            &code,
            &pk.verifier,
            &[("client_id", CLIENT), ("client_secret", SECRET)],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Wrong secret over Basic: 401 invalid_client with a Basic challenge.
    let pk = pkce();
    let code = quick_login(p, &pk, "alice");
    let response = http()
        .post(p.token_endpoint().clone())
        .basic_auth(CLIENT, Some("wrong"))
        .form(&form(&code, &pk.verifier, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(
        !body.to_string().contains("wrong"),
        "the secret is not echoed"
    );

    // Wrong secret in the body, unknown client, no authentication at all.
    for extra in [
        &[("client_id", CLIENT), ("client_secret", "wrong")][..],
        &[("client_id", "nobody"), ("client_secret", SECRET)][..],
        &[("client_id", CLIENT)][..],
    ] {
        let response = http()
            .post(p.token_endpoint().clone())
            .form(&form(&code, &pk.verifier, extra))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{extra:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
    }

    // Two methods at once is refused.
    let response = http()
        .post(p.token_endpoint().clone())
        .basic_auth(CLIENT, Some(SECRET))
        .form(&form(&code, &pk.verifier, &[("client_secret", SECRET)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // The code survived the failed authentications and still works.
    let response = redeem(p, &code, &pk.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn basic_credentials_are_form_decoded() {
    let secret = "p@ss:w+rd/&%";
    let idp = DevProvider::spawn_local(|base| {
        DevProvider::new(base).with_client("app:1", secret, &[REDIRECT])
    })
    .await
    .unwrap();
    let p = idp.provider();
    let pk = pkce();
    let mut url = p.authorization_endpoint().clone();
    url.query_pairs_mut()
        .extend_pairs(authorize_params(&pk.challenge).into_iter().map(|(k, v)| {
            (
                k,
                if k == "client_id" {
                    "app:1".to_owned()
                } else {
                    v
                },
            )
        }));
    let code = param(&p.sign_in(&url, "bob").unwrap(), "code").unwrap();
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = STANDARD.encode(format!("{}:{}", encode("app:1"), encode(secret)));
    let response = http()
        .post(p.token_endpoint().clone())
        .header("authorization", format!("Basic {credentials}"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", pk.verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(
        parse_jwt(tokens["id_token"].as_str().unwrap()).claims["aud"],
        "app:1"
    );
}

#[tokio::test]
async fn pkce_is_required_and_checked() {
    let idp = start().await;
    let p = idp.provider();
    let pk = pkce();

    // No challenge: redirected back with invalid_request, state and iss.
    let response = http()
        .get(authorize_url(p, &pk.challenge, &[("code_challenge", None)]))
        .send()
        .await
        .unwrap();
    let back = location(&response);
    assert!(back.as_str().starts_with(REDIRECT));
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&back, "iss").as_deref(), Some(p.issuer().as_str()));
    assert!(param(&back, "code").is_none());

    // The plain method is refused, so is a missing method.
    for method in [Some("plain"), None] {
        let url = authorize_url(p, &pk.challenge, &[("code_challenge_method", method)]);
        let back = p.sign_in(&url, "alice").unwrap();
        assert_eq!(
            param(&back, "error").as_deref(),
            Some("invalid_request"),
            "{method:?}"
        );
    }

    // A wrong verifier fails, and burns the code.
    let code = quick_login(p, &pk, "alice");
    let other = pkce();
    let response = redeem(p, &code, &other.verifier).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    let response = redeem(p, &code, &pk.verifier).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // A missing verifier is an invalid request.
    let code = quick_login(p, &pk, "alice");
    let response = http()
        .post(p.token_endpoint().clone())
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn codes_are_single_use_bound_and_short_lived() {
    let idp = start().await;
    let p = idp.provider();
    let pk = pkce();

    let code = quick_login(p, &pk, "alice");
    assert_eq!(
        redeem(p, &code, &pk.verifier).await.status(),
        StatusCode::OK
    );
    let second = redeem(p, &code, &pk.verifier).await;
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    // The redirect URI must match the authorization request.
    let code = quick_login(p, &pk, "alice");
    let response = http()
        .post(p.token_endpoint().clone())
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", pk.verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    // Other grant types are not supported.
    let response = http()
        .post(p.token_endpoint().clone())
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");

    // Codes expire after 60 s of provider time.
    let code = quick_login(p, &pk, "alice");
    p.set_time_offset(61);
    let response = redeem(p, &code, &pk.verifier).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    // The offset also moves token times.
    let tokens = tokens_for(p, "alice").await;
    let claims = parse_jwt(tokens["id_token"].as_str().unwrap()).claims;
    assert!((claims["iat"].as_i64().unwrap() - p.now_unix()).abs() <= 5);
    let real_now = p.now_unix() - 61;
    assert!(claims["iat"].as_i64().unwrap() >= real_now + 55);
}

#[tokio::test]
async fn authorization_request_validation() {
    let idp = start().await;
    let p = idp.provider();
    let pk = pkce();

    // Unknown client or unregistered redirect URI: an error page, no redirect.
    for changes in [
        &[("client_id", Some("nobody"))][..],
        &[("client_id", None)][..],
        &[("redirect_uri", Some("http://127.0.0.1:9/sso/callback/"))][..],
        &[("redirect_uri", Some("https://evil.example/cb"))][..],
    ] {
        let response = http()
            .get(authorize_url(p, &pk.challenge, changes))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{changes:?}");
        assert!(response.headers().get(LOCATION).is_none());
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("This sign-in request is invalid")
        );
        let rejected = p.sign_in(&authorize_url(p, &pk.challenge, changes), "alice");
        assert!(rejected.is_err(), "{changes:?}");
    }

    // Other mistakes are redirected back as OAuth errors.
    for (changes, error) in [
        (&[("nonce", None)][..], "invalid_request"),
        (&[("state", None)][..], "invalid_request"),
        (&[("scope", Some("email profile"))][..], "invalid_scope"),
        (
            &[("response_type", Some("token"))][..],
            "unsupported_response_type",
        ),
        (
            &[("response_mode", Some("fragment"))][..],
            "invalid_request",
        ),
        (
            &[("code_challenge", Some("too-short"))][..],
            "invalid_request",
        ),
    ] {
        let back = p
            .sign_in(&authorize_url(p, &pk.challenge, changes), "alice")
            .unwrap();
        assert_eq!(param(&back, "error").as_deref(), Some(error), "{changes:?}");
        assert!(param(&back, "code").is_none());
    }

    // A repeated parameter is an invalid request.
    let mut url = authorize_url(p, &pk.challenge, &[]);
    url.query_pairs_mut().append_pair("nonce", "n-2");
    let back = p.sign_in(&url, "alice").unwrap();
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));

    // State is echoed in the page escaped.
    let response = http()
        .get(authorize_url(
            p,
            &pk.challenge,
            &[("state", Some("\"><script>alert(1)</script>"))],
        ))
        .send()
        .await
        .unwrap();
    let html = response.text().await.unwrap();
    assert!(!html.contains("<script>"));
    assert!(html.contains("&quot;&gt;&lt;script&gt;"));

    // sign_in refuses URLs that are not this provider's.
    let mut foreign = authorize_url(p, &pk.challenge, &[]);
    foreign.set_path("/elsewhere/authorize");
    let err = p.sign_in(&foreign, "alice").unwrap_err();
    assert!(
        err.to_string()
            .contains("not this provider's authorization endpoint")
    );
    assert!(
        p.sign_in(&authorize_url(p, &pk.challenge, &[]), " ")
            .is_err()
    );
}

/// Signs in with `fault` on and returns the token response.
async fn tokens_with(p: &DevProvider, fault: Fault) -> Value {
    p.clear_faults();
    p.set_fault(fault, true);
    let tokens = tokens_for(p, "alice").await;
    p.clear_faults();
    tokens
}

#[tokio::test]
async fn faults_shape_the_id_token() {
    let idp = start().await;
    let p = idp.provider();
    let jwks = fetch_jwks(p).await;
    let id_token = |tokens: &Value| tokens["id_token"].as_str().unwrap().to_owned();

    let t = id_token(&tokens_with(p, Fault::ExpiredIdToken).await);
    let claims = verify(&t, &jwks).unwrap();
    assert!(claims["exp"].as_i64().unwrap() < p.now_unix() - 300);

    let claims = verify(
        &id_token(&tokens_with(p, Fault::WrongAudience).await),
        &jwks,
    )
    .unwrap();
    assert_ne!(claims["aud"], CLIENT);

    let claims = verify(&id_token(&tokens_with(p, Fault::WrongIssuer).await), &jwks).unwrap();
    assert_eq!(claims["iss"], format!("{}/wrong-issuer", p.issuer()));

    let claims = verify(&id_token(&tokens_with(p, Fault::WrongNonce).await), &jwks).unwrap();
    assert_ne!(claims["nonce"], "n-1");
    assert!(claims["nonce"].as_str().is_some_and(|n| !n.is_empty()));

    let t = id_token(&tokens_with(p, Fault::AlgNone).await);
    let jwt = parse_jwt(&t);
    assert_eq!(jwt.header, json!({"alg": "none", "typ": "JWT"}));
    assert!(jwt.signature.is_empty() && t.ends_with('.'));
    assert_eq!(jwt.claims["sub"], "dev|alice");

    let t = id_token(&tokens_with(p, Fault::Hs256WithPublicKey).await);
    let jwt = parse_jwt(&t);
    assert_eq!(jwt.header["alg"], "HS256");
    assert_eq!(jwt.header["kid"], p.signing_kid());
    let hmac_key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        jose::rsa_public_der(jose::keys().rsa_for(1)),
    );
    ring::hmac::verify(&hmac_key, jwt.signing_input.as_bytes(), &jwt.signature)
        .expect("HMAC keyed with the RSA public key DER");
    assert_eq!(verify(&t, &jwks), Err("alg does not match the key"));

    let t = id_token(&tokens_with(p, Fault::UnknownKid).await);
    assert_eq!(parse_jwt(&t).header["kid"], "dev-unpublished");
    assert_eq!(verify(&t, &jwks), Err("unknown kid"));
    // Not signed by any published key either.
    let published_n = &jwks["keys"][0]["n"];
    assert_ne!(
        published_n,
        &jose::rsa_jwk(&jose::keys().unpublished, "x")["n"],
        "the unknown-kid key is really unpublished"
    );

    let t = id_token(&tokens_with(p, Fault::BadSignature).await);
    assert_eq!(parse_jwt(&t).header["kid"], p.signing_kid());
    assert_eq!(verify(&t, &jwks), Err("bad signature"));

    let t = id_token(&tokens_with(p, Fault::EcSigning).await);
    assert_eq!(
        parse_jwt(&t).header,
        json!({"alg": "ES256", "kid": "dev-ec-1", "typ": "JWT"})
    );
    assert_eq!(verify(&t, &jwks).unwrap()["sub"], "dev|alice");

    let tokens = tokens_with(p, Fault::NoEmailVerified).await;
    assert_eq!(
        verify(&id_token(&tokens), &jwks).unwrap()["email_verified"],
        false
    );
    p.set_fault(Fault::NoEmailVerified, true);
    let info: Value = http()
        .get(p.userinfo_endpoint().clone())
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["email_verified"], false);
    p.clear_faults();

    let tokens = tokens_with(p, Fault::ThinIdToken).await;
    let claims = verify(&id_token(&tokens), &jwks).unwrap();
    for absent in [
        "email",
        "email_verified",
        "name",
        "preferred_username",
        "groups",
    ] {
        assert!(claims.get(absent).is_none(), "{absent}");
    }
    for present in [
        "iss",
        "sub",
        "aud",
        "azp",
        "exp",
        "iat",
        "auth_time",
        "nonce",
    ] {
        assert!(claims.get(present).is_some(), "{present}");
    }
    let info: Value = http()
        .get(p.userinfo_endpoint().clone())
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["email"], "alice@example.test");
    assert_eq!(info["groups"], json!(["admins", "staff"]));

    // With no fault, the token is valid again.
    let claims = verify(&id_token(&tokens_for(p, "alice").await), &jwks).unwrap();
    assert_eq!(claims["aud"], CLIENT);
}

#[tokio::test]
async fn endpoint_faults() {
    let idp = start().await;
    let p = idp.provider().clone();
    let client = http();

    p.set_fault(Fault::JwksDown, true);
    p.set_fault(Fault::DiscoveryDown, true);
    assert_eq!(p.faults().iter().count(), 2);
    for url in [p.jwks_uri(), p.discovery_url()] {
        let response = client.get(url.clone()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let counts = p.request_counts();
    assert_eq!(
        (counts.jwks, counts.discovery),
        (1, 1),
        "failed requests count too"
    );
    p.clear_faults();
    assert!(p.faults().is_empty());
    assert_eq!(
        client
            .get(p.jwks_uri().clone())
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(p.request_counts().jwks, 2);
    p.reset_request_counts();
    assert_eq!(p.request_counts(), RequestCounts::default());

    // The token endpoint fails without consuming the code.
    let pk = pkce();
    let code = quick_login(&p, &pk, "alice");
    p.set_fault(Fault::TokenEndpointError, true);
    let response = redeem(&p, &code, &pk.verifier).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    p.set_fault(Fault::TokenEndpointError, false);
    assert_eq!(
        redeem(&p, &code, &pk.verifier).await.status(),
        StatusCode::OK
    );

    // Denied logins redirect back with access_denied.
    p.set_fault(Fault::DenyLogin, true);
    let mut form = authorize_params(&pk.challenge);
    form.push(("login", "alice".into()));
    let response = client
        .post(p.authorization_endpoint().clone())
        .form(&form)
        .send()
        .await
        .unwrap();
    let back = location(&response);
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    assert!(param(&back, "code").is_none());
}

#[tokio::test]
async fn key_rotation() {
    let idp = start().await;
    let p = idp.provider();
    let before = tokens_for(p, "alice").await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(verify(&before, &fetch_jwks(p).await).is_ok());

    p.rotate_keys();
    let jwks = fetch_jwks(p).await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["dev-rsa-2", "dev-ec-1"]);
    assert_eq!(
        verify(&before, &jwks),
        Err("unknown kid"),
        "old key no longer published"
    );
    let after = tokens_for(p, "alice").await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(parse_jwt(&after).header["kid"], "dev-rsa-2");
    assert!(verify(&after, &jwks).is_ok());

    p.set_publish_previous_key(true);
    let jwks = fetch_jwks(p).await;
    assert!(
        verify(&before, &jwks).is_ok(),
        "rollover window publishes both"
    );
    assert!(verify(&after, &jwks).is_ok());
    assert_eq!(p.request_counts().jwks, 3);
}

#[tokio::test]
async fn crafted_tokens_verify() {
    let p = DevProvider::new(Url::parse("https://idp.example.test/").unwrap());
    let jwks = p.jwks_json();
    let claims = json!({"iss": "x", "sub": "y", "custom": [1, 2]});
    let t = p.sign_id_token(&claims);
    assert_eq!(
        parse_jwt(&t).header,
        json!({"alg": "RS256", "kid": "dev-rsa-1", "typ": "JWT"})
    );
    assert_eq!(verify(&t, &jwks), Ok(claims.clone()));
    assert_eq!(
        verify(&p.sign_id_token_es256(&claims), &jwks),
        Ok(claims.clone())
    );
    // Faults do not touch crafted tokens.
    p.set_fault(Fault::AlgNone, true);
    assert_eq!(verify(&p.sign_id_token(&claims), &jwks), Ok(claims));
}

#[tokio::test]
async fn userinfo_requires_a_live_access_token() {
    let idp = start().await;
    let p = idp.provider();
    let client = http();
    let response = client
        .get(p.userinfo_endpoint().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let response = client
        .get(p.userinfo_endpoint().clone())
        .bearer_auth("made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let tokens = tokens_for(p, "alice").await;
    let token = tokens["access_token"].as_str().unwrap();
    let ok = client
        .post(p.userinfo_endpoint().clone())
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    p.set_time_offset(3601);
    let expired = client
        .get(p.userinfo_endpoint().clone())
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn auto_login_skips_the_page() {
    let idp = start().await;
    let p = idp.provider();
    p.set_auto_login(Some("alice"));
    let pk = pkce();
    let response = http()
        .get(authorize_url(p, &pk.challenge, &[]))
        .send()
        .await
        .unwrap();
    let code = param(&location(&response), "code").unwrap();
    let tokens: Value = redeem(p, &code, &pk.verifier).await.json().await.unwrap();
    assert_eq!(
        parse_jwt(tokens["id_token"].as_str().unwrap()).claims["sub"],
        "dev|alice"
    );
    p.set_auto_login(None);
    let response = http()
        .get(authorize_url(p, &pk.challenge, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn router_nests_into_a_stateful_host_router() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let p = DevProvider::new(Url::parse(&format!("http://{addr}/dev/idp")).unwrap()).with_client(
        CLIENT,
        SECRET,
        &[REDIRECT],
    );
    let app: Router = Router::new()
        .route(
            "/",
            get(|State(name): State<Arc<String>>| async move { name.to_string() }),
        )
        .nest_service("/dev/idp", p.router())
        .with_state(Arc::new("host".to_owned()));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let doc: Value = http()
        .get(p.discovery_url().clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["token_endpoint"],
        format!("http://{addr}/dev/idp/token")
    );
    let home = http().get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(home.text().await.unwrap(), "host");
    // The code flow works through the host's router too.
    let pk = pkce();
    let code = browser_login(&p, &pk, "carol").await;
    assert_eq!(
        redeem(&p, &code, &pk.verifier).await.status(),
        StatusCode::OK
    );
    server.abort();
}

#[tokio::test]
async fn spawning_and_shutdown() {
    // The issuer must be on the bound origin.
    let err = DevProvider::spawn_local(|_| {
        DevProvider::new(Url::parse("http://idp.example.test/").unwrap())
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    // spawn needs a real port.
    let err = DevProvider::new(Url::parse("http://127.0.0.1:0/").unwrap())
        .spawn()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);

    // spawn binds the issuer's own address (free a port first).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let idp = DevProvider::new(Url::parse(&format!("http://127.0.0.1:{port}/idp")).unwrap())
        .spawn()
        .await
        .unwrap();
    assert_eq!(idp.local_addr().port(), port);
    let url = idp.provider().jwks_uri().clone();
    let client = http();
    assert_eq!(
        client.get(url.clone()).send().await.unwrap().status(),
        StatusCode::OK
    );
    // Shutdown completes even with the client's keep-alive connection open.
    tokio::time::timeout(std::time::Duration::from_secs(5), idp.shutdown())
        .await
        .expect("shutdown does not hang on idle connections")
        .unwrap();
    drop(client);
    assert!(http().get(url).send().await.is_err(), "server stopped");

    // Root issuers are served at the root.
    let idp = DevProvider::spawn_local(DevProvider::new).await.unwrap();
    assert_eq!(idp.issuer(), &idp.url());
    let doc: Value = http()
        .get(idp.provider().discovery_url().clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], idp.url().as_str());
    assert_eq!(doc["jwks_uri"], format!("{}jwks", idp.url()));
}
