//! The Okta-like flavor over real HTTP on 127.0.0.1, with signatures
//! verified by `ring` against the served JWKS.

use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

use super::tests::{http, location, param, parse_jwt, pkce};
use super::tests_entra::verify_rs256;
use super::*;

const CLIENT: &str = "0oa1devapp";
const SECRET: &str = "okta-s3cret";
const REDIRECT: &str = "http://127.0.0.1:9/sso/okta/callback";
const AUS: &str = "aus123";

fn alice() -> DevUser {
    DevUser {
        name: "Alice Liddell".into(),
        ..DevUser::okta("alice@acme.example").with_groups(["app-admins", "Everyone", "app-users"])
    }
}

async fn start() -> RunningProvider {
    DevProvider::spawn_local(|base| {
        DevProvider::okta(base)
            .with_client(CLIENT, SECRET, &[REDIRECT])
            .with_authorization_server(AUS)
            .with_user(alice())
    })
    .await
    .expect("spawn Okta dev provider")
}

fn authorize_url(
    p: &DevProvider,
    server: Option<&str>,
    challenge: &str,
    extra: &[(&str, &str)],
) -> Url {
    let mut url = p.okta_endpoints(server).authorization;
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email")
        .append_pair("state", "st-o")
        .append_pair("nonce", "n-o")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .extend_pairs(extra);
    url
}

async fn redeem(token_endpoint: Url, code: &str, verifier: &str) -> reqwest::Response {
    http()
        .post(token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap()
}

/// Signs `login` in at `server` without HTTP and redeems the code there.
async fn tokens(p: &DevProvider, server: Option<&str>, login: &str) -> Value {
    let pk = pkce();
    let back = p
        .sign_in(&authorize_url(p, server, &pk.challenge, &[]), login)
        .unwrap();
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let response = redeem(p.okta_endpoints(server).token, &code, &pk.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn get(url: Url) -> (StatusCode, Value) {
    let response = http().get(url).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn userinfo(url: Url, access_token: &Value) -> reqwest::Response {
    http()
        .get(url)
        .bearer_auth(access_token.as_str().unwrap())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn okta_org_issuer_has_no_trailing_slash() {
    let idp = start().await;
    let p = idp.provider();
    assert_eq!(p.flavor(), Flavor::Okta);
    let origin = idp.url().as_str().trim_end_matches('/').to_owned();
    assert!(!origin.ends_with('/'));

    let (status, doc) = get(idp.url().join(".well-known/openid-configuration").unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        doc["issuer"],
        origin.as_str(),
        "exactly the origin, no slash"
    );
    for (field, path) in [
        ("authorization_endpoint", "/oauth2/v1/authorize"),
        ("token_endpoint", "/oauth2/v1/token"),
        ("jwks_uri", "/oauth2/v1/keys"),
        ("userinfo_endpoint", "/oauth2/v1/userinfo"),
    ] {
        assert_eq!(doc[field], format!("{origin}{path}"), "{field}");
    }
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    let org = p.okta_endpoints(None);
    assert_eq!(org.issuer, origin);
    assert_eq!(&org.discovery, p.discovery_url());
    assert_eq!(p.discovery_json(), doc);

    let (status, keys) = get(org.jwks.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let key = &keys["keys"][0];
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    assert_eq!(key["kid"], p.okta_signing_kid(None).as_str());
    assert_eq!(
        (&key["alg"], &key["kty"], &key["use"]),
        (&json!("RS256"), &json!("RSA"), &json!("sig"))
    );
    assert_eq!(p.jwks_json(), keys);

    let t = tokens(p, None, "alice@acme.example").await;
    let (claims, _) = verify_rs256(t["id_token"].as_str().unwrap(), &keys).unwrap();
    assert_eq!(claims["iss"], origin.as_str());
}

#[tokio::test]
async fn okta_custom_authorization_servers() {
    let idp = start().await;
    let p = idp.provider();
    let origin = idp.url().as_str().trim_end_matches('/').to_owned();
    let issuer = format!("{origin}/oauth2/{AUS}");

    let (status, doc) = get(idp
        .url()
        .join(&format!("oauth2/{AUS}/.well-known/openid-configuration"))
        .unwrap())
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], issuer.as_str());
    for (field, path) in [
        ("authorization_endpoint", "/v1/authorize"),
        ("token_endpoint", "/v1/token"),
        ("jwks_uri", "/v1/keys"),
        ("userinfo_endpoint", "/v1/userinfo"),
    ] {
        assert_eq!(doc[field], format!("{issuer}{path}"), "{field}");
    }
    let e = p.okta_endpoints(Some(AUS));
    assert_eq!(e.issuer, issuer);
    assert_eq!(doc["jwks_uri"], e.jwks.as_str());

    let (_, custom_keys) = get(e.jwks.clone()).await;
    let (_, org_keys) = get(p.okta_endpoints(None).jwks).await;
    assert_eq!(
        custom_keys["keys"][0]["kid"],
        p.okta_signing_kid(Some(AUS)).as_str()
    );
    assert_ne!(custom_keys["keys"][0]["kid"], org_keys["keys"][0]["kid"]);
    assert_ne!(
        custom_keys["keys"][0]["n"], org_keys["keys"][0]["n"],
        "own key"
    );

    // A full flow at the custom server.
    let pk = pkce();
    let back = p
        .sign_in(
            &authorize_url(p, Some(AUS), &pk.challenge, &[]),
            "alice@acme.example",
        )
        .unwrap();
    let code = param(&back, "code").unwrap();
    // Not redeemable at the org authorization server…
    let response = redeem(p.okta_endpoints(None).token, &code, &pk.verifier).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // …and single use even so.
    let back = p
        .sign_in(
            &authorize_url(p, Some(AUS), &pk.challenge, &[]),
            "alice@acme.example",
        )
        .unwrap();
    let response = redeem(
        e.token.clone(),
        &param(&back, "code").unwrap(),
        &pk.verifier,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let t: Value = response.json().await.unwrap();
    let id_token = t["id_token"].as_str().unwrap();
    let (claims, _) = verify_rs256(id_token, &custom_keys).unwrap();
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(claims["sub"], alice().sub.as_str());
    assert_eq!(verify_rs256(id_token, &org_keys), Err("unknown kid"));

    // Access tokens only work at their own server's userinfo.
    assert_eq!(
        userinfo(e.userinfo.clone(), &t["access_token"])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        userinfo(p.okta_endpoints(None).userinfo, &t["access_token"])
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // Unknown servers are Okta 404s.
    for path in [
        "oauth2/aus999/.well-known/openid-configuration",
        "oauth2/aus999/v1/keys",
    ] {
        let (status, body) = get(idp.url().join(path).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["errorCode"], "E0000007");
    }
    let mut wrong = authorize_url(p, Some(AUS), &pk.challenge, &[]);
    wrong.set_path("/oauth2/aus999/v1/authorize");
    assert!(p.sign_in(&wrong, "alice").is_err());
    assert_eq!(
        http().get(wrong).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );

    // Per-server rotation.
    let org_kid = p.okta_signing_kid(None);
    let before = p.okta_signing_kid(Some(AUS));
    p.rotate_authorization_server_keys(AUS);
    assert_ne!(p.okta_signing_kid(Some(AUS)), before);
    assert_eq!(p.okta_signing_kid(None), org_kid);
    p.rotate_keys();
    assert_ne!(p.okta_signing_kid(None), org_kid);
    assert_eq!(p.signing_kid(), p.okta_signing_kid(None));
    assert_eq!(p.requests_to(&e.jwks), 1);
    assert_eq!(p.requests_to(&p.okta_endpoints(None).jwks), 1);
}

#[tokio::test]
async fn okta_code_flow_claims_and_groups_filter() {
    let idp = start().await;
    let p = idp.provider();
    let origin = idp.url().as_str().trim_end_matches('/').to_owned();
    let pk = pkce();
    let extra = [
        ("login_hint", "alice@acme.example"),
        ("idp", "0oaExternalIdp1"),
    ];

    let page = http()
        .get(authorize_url(p, None, &pk.challenge, &extra))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Okta org authorization server"));
    assert!(
        html.contains("name=\"idp\" value=\"0oaExternalIdp1\""),
        "idp carried by the form"
    );
    let params = p.last_authorize_params().unwrap();
    assert_eq!(params["login_hint"], "alice@acme.example");
    assert_eq!(params["idp"], "0oaExternalIdp1");
    assert_eq!(
        p.last_authorize_url().unwrap().path(),
        "/oauth2/v1/authorize"
    );

    let mut form: Vec<(String, String)> = authorize_url(p, None, &pk.challenge, &extra)
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != "login_hint")
        .collect();
    form.push(("user".into(), "alice@acme.example".into()));
    let response = http()
        .post(p.authorization_endpoint().clone())
        .form(&form)
        .send()
        .await
        .unwrap();
    let back = location(&response);
    assert_eq!(param(&back, "iss"), None);
    assert_eq!(param(&back, "state").as_deref(), Some("st-o"));
    let response = redeem(
        p.token_endpoint().clone(),
        &param(&back, "code").unwrap(),
        &pk.verifier,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let t: Value = response.json().await.unwrap();
    let (_, keys) = get(p.jwks_uri().clone()).await;
    let (claims, _) = verify_rs256(t["id_token"].as_str().unwrap(), &keys).unwrap();
    let alice = alice();
    assert!(alice.sub.starts_with("00u"));
    assert_eq!(claims["sub"], alice.sub.as_str());
    assert_eq!(claims["ver"], 1);
    assert_eq!(claims["iss"], origin.as_str());
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(claims["nonce"], "n-o");
    assert_eq!(claims["idp"], "0oaExternalIdp1");
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert!(claims["jti"].as_str().unwrap().starts_with("ID."));
    assert_eq!(claims["email"], "alice@acme.example");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["preferred_username"], "alice@acme.example");
    assert_eq!(claims["name"], "Alice Liddell");
    assert!(
        claims.get("groups").is_none(),
        "no groups claim without a filter"
    );
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 300);
    assert!(claims["auth_time"].as_i64().unwrap() <= iat);

    let info: Value = userinfo(p.userinfo_endpoint().clone(), &t["access_token"])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], alice.sub.as_str());
    assert!(info.get("groups").is_none());

    // The app's groups claim filter.
    p.set_groups_claim_filter(Some("app-"));
    let t = tokens(p, None, "alice@acme.example").await;
    let claims = parse_jwt(t["id_token"].as_str().unwrap()).claims;
    assert_eq!(claims["groups"], json!(["app-admins", "app-users"]));
    assert_eq!(
        claims["idp"], "00odev0rg0000000idp7",
        "org IdP without an idp parameter"
    );
    p.set_groups_claim_filter(Some(""));
    let t = tokens(p, None, "alice@acme.example").await;
    let claims = parse_jwt(t["id_token"].as_str().unwrap()).claims;
    assert_eq!(
        claims["groups"],
        json!(["app-admins", "Everyone", "app-users"])
    );
    p.set_groups_claim_filter(Some("nothing-"));
    let t = tokens(p, None, "alice@acme.example").await;
    assert!(
        parse_jwt(t["id_token"].as_str().unwrap())
            .claims
            .get("groups")
            .is_none()
    );
    p.set_groups_claim_filter(None);

    // Unknown logins are made-up Okta users.
    let t = tokens(p, None, "Bob@Acme.example").await;
    let claims = parse_jwt(t["id_token"].as_str().unwrap()).claims;
    assert_eq!(
        claims["sub"],
        DevUser::okta("bob@acme.example").sub.as_str()
    );
}

#[tokio::test]
async fn okta_thin_id_tokens_and_userinfo() {
    let idp = start().await;
    let p = idp.provider();
    p.set_groups_claim_filter(Some(""));
    p.set_thin_id_tokens(true);
    let t = tokens(p, Some(AUS), "alice@acme.example").await;
    let (_, keys) = get(p.okta_endpoints(Some(AUS)).jwks).await;
    let (claims, _) = verify_rs256(t["id_token"].as_str().unwrap(), &keys).unwrap();
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
        "sub",
        "ver",
        "iss",
        "aud",
        "iat",
        "exp",
        "jti",
        "amr",
        "idp",
        "nonce",
        "auth_time",
    ] {
        assert!(claims.get(present).is_some(), "{present}");
    }
    let response = userinfo(p.okta_endpoints(Some(AUS)).userinfo, &t["access_token"]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let info: Value = response.json().await.unwrap();
    assert_eq!(
        info,
        json!({
            "sub": alice().sub,
            "name": "Alice Liddell",
            "given_name": "Alice",
            "family_name": "Liddell",
            "preferred_username": "alice@acme.example",
            "email": "alice@acme.example",
            "email_verified": true,
            "groups": ["app-admins", "Everyone", "app-users"],
        })
    );

    // Fault::ThinIdToken does the same.
    p.set_thin_id_tokens(false);
    let t = tokens(p, None, "alice@acme.example").await;
    assert!(
        parse_jwt(t["id_token"].as_str().unwrap())
            .claims
            .get("email")
            .is_some()
    );
    p.set_fault(Fault::ThinIdToken, true);
    let t = tokens(p, None, "alice@acme.example").await;
    assert!(
        parse_jwt(t["id_token"].as_str().unwrap())
            .claims
            .get("email")
            .is_none()
    );
}

#[tokio::test]
async fn okta_faults() {
    let idp = start().await;
    let p = idp.provider();
    let origin = idp.url().as_str().trim_end_matches('/').to_owned();
    let id_token = |t: Value| t["id_token"].as_str().unwrap().to_owned();

    p.set_fault(Fault::WrongIssuer, true);
    let claims = parse_jwt(&id_token(tokens(p, None, "alice").await)).claims;
    assert_eq!(claims["iss"], format!("{origin}/wrong-issuer"));
    let claims = parse_jwt(&id_token(tokens(p, Some(AUS), "alice").await)).claims;
    assert_eq!(claims["iss"], format!("{origin}/oauth2/{AUS}/wrong-issuer"));
    p.clear_faults();

    p.set_fault(Fault::NoEmailVerified, true);
    let t = tokens(p, None, "alice@acme.example").await;
    assert_eq!(
        parse_jwt(&id_token(t.clone())).claims["email_verified"],
        false
    );
    let info: Value = userinfo(p.userinfo_endpoint().clone(), &t["access_token"])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["email_verified"], false);
    p.clear_faults();

    let (_, keys) = get(p.jwks_uri().clone()).await;
    for (fault, expected) in [
        (Fault::UnknownKid, "unknown kid"),
        (Fault::BadSignature, "bad signature"),
        (Fault::EcSigning, "not RS256"),
        (Fault::AlgNone, "not RS256"),
    ] {
        p.set_fault(fault, true);
        let t = id_token(tokens(p, None, "alice").await);
        assert_eq!(verify_rs256(&t, &keys), Err(expected), "{fault:?}");
        p.clear_faults();
    }
    // Entra-only faults change nothing here.
    p.set_fault(Fault::V1Token, true);
    p.set_fault(Fault::SignWithOtherTenantKey, true);
    let (claims, _) = verify_rs256(&id_token(tokens(p, None, "alice").await), &keys).unwrap();
    assert_eq!(claims["ver"], 1);
    p.clear_faults();

    p.set_fault(Fault::JwksDown, true);
    p.set_fault(Fault::DiscoveryDown, true);
    for url in [
        p.okta_endpoints(None).jwks,
        p.okta_endpoints(Some(AUS)).jwks,
        p.okta_endpoints(None).discovery,
        p.okta_endpoints(Some(AUS)).discovery,
    ] {
        let status = http().get(url.clone()).send().await.unwrap().status();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{url}");
    }
}

#[tokio::test]
async fn okta_under_a_path_and_crafted_tokens() {
    let idp = DevProvider::spawn_local(|base| {
        DevProvider::okta(base.join("okta").unwrap())
            .with_client(CLIENT, SECRET, &[REDIRECT])
            .with_authorization_server("default")
            .with_sample_users()
    })
    .await
    .unwrap();
    let p = idp.provider();
    let org = format!("{}okta", idp.url());
    assert_eq!(p.okta_endpoints(None).issuer, org);
    let (status, doc) = get(p.discovery_url().clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], org.as_str());
    assert_eq!(doc["jwks_uri"], format!("{org}/oauth2/v1/keys"));
    let (status, doc) = get(p.okta_endpoints(Some("default")).discovery).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], format!("{org}/oauth2/default"));

    let t = tokens(p, Some("default"), "alice").await;
    let claims = parse_jwt(t["id_token"].as_str().unwrap()).claims;
    assert_eq!(claims["sub"], DevUser::okta("alice").sub.as_str());
    assert_eq!(claims["name"], "Alice Example");

    let claims = json!({"iss": org, "sub": "00u-crafted"});
    let (_, keys) = get(p.okta_endpoints(Some("default")).jwks).await;
    let crafted = p.sign_okta_token(Some("default"), &claims);
    assert_eq!(verify_rs256(&crafted, &keys).unwrap().0, claims);
    let (_, keys) = get(p.jwks_uri().clone()).await;
    assert_eq!(
        verify_rs256(&p.sign_id_token(&claims), &keys).unwrap().0,
        claims
    );
}
