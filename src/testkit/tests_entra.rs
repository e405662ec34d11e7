//! The Entra-like flavor over real HTTP on 127.0.0.1, with signatures
//! verified by `ring` against the served JWKS.

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use ring::signature::{self, RsaPublicKeyComponents};
use serde_json::{Value, json};
use url::Url;

use super::tests::{b64d, http, location, param, parse_jwt, pkce};
use super::*;

const CONTOSO: &str = "11111111-1111-4111-8111-111111111111";
const FABRIKAM: &str = "22222222-2222-4222-8222-222222222222";
const CLIENT: &str = "entra-app";
const SECRET: &str = "entra-s3cret";
const REDIRECT: &str = "http://127.0.0.1:9/sso/entra/callback";
const G1: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const G2: &str = "aaaaaaaa-0000-4000-8000-000000000002";

fn alice() -> EntraUser {
    EntraUser {
        name: "Alice Liddell".into(),
        ..EntraUser::new(CONTOSO, "alice@contoso.example")
            .with_email(Some("alice@contoso.example"), Some(true))
            .with_groups([G1, G2])
    }
}

/// The nOAuth attacker: a user of another tenant whose (unverified) e-mail
/// is alice's.
fn mallory() -> EntraUser {
    EntraUser::new(FABRIKAM, "mallory@fabrikam.example")
        .with_email(Some("alice@contoso.example"), Some(false))
}

fn big() -> EntraUser {
    EntraUser::new(CONTOSO, "big@contoso.example")
        .with_groups([G1])
        .with_overage(true)
}

fn configure(base: Url) -> DevProvider {
    DevProvider::entra(base)
        .with_client(CLIENT, SECRET, &[REDIRECT])
        .with_entra_tenant(CONTOSO, &["contoso.example", "contoso.onmicrosoft.test"])
        .with_entra_tenant(FABRIKAM, &["fabrikam.example"])
        .with_entra_user(alice())
        .with_entra_user(mallory())
        .with_entra_user(big())
}

async fn start() -> RunningProvider {
    DevProvider::spawn_local(configure)
        .await
        .expect("spawn Entra dev provider")
}

/// `{base}/{tenant}/oauth2/v2.0/{what}`, with `tenant` as given (a GUID, a
/// domain, `organizations`…).
fn tenant_url(p: &DevProvider, tenant: &str, what: &str) -> Url {
    p.issuer()
        .join(&format!("{tenant}/oauth2/v2.0/{what}"))
        .unwrap()
}

fn authorize_url(p: &DevProvider, tenant: &str, challenge: &str, extra: &[(&str, &str)]) -> Url {
    let mut url = tenant_url(p, tenant, "authorize");
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email")
        .append_pair("state", "st-e")
        .append_pair("nonce", "n-e")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .extend_pairs(extra);
    url
}

async fn redeem(token_endpoint: Url, code: &str, verifier: &str) -> reqwest::Response {
    http()
        .post(token_endpoint)
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

/// Signs `login` in at `tenant` (without HTTP) and redeems the code at the
/// same tenant's token endpoint; returns the token response.
async fn tokens(p: &DevProvider, tenant: &str, login: &str) -> Value {
    let pk = pkce();
    let back = p
        .sign_in(&authorize_url(p, tenant, &pk.challenge, &[]), login)
        .unwrap();
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let response = redeem(tenant_url(p, tenant, "token"), &code, &pk.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn id_token(p: &DevProvider, tenant: &str, login: &str) -> String {
    tokens(p, tenant, login).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn get_json(url: Url) -> (StatusCode, Value) {
    let response = http().get(url).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn jwks(p: &DevProvider, tenant: &str) -> Value {
    let (status, body) = get_json(
        p.issuer()
            .join(&format!("{tenant}/discovery/v2.0/keys"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    body
}

/// Verifies an RS256 JWS like a relying party that takes the key by `kid`
/// (the JWK's `alg`, if any, must be RS256). Returns the claims and the JWK.
pub(super) fn verify_rs256(token: &str, jwks: &Value) -> Result<(Value, Value), &'static str> {
    let jwt = parse_jwt(token);
    if jwt.header["alg"] != "RS256" {
        return Err("not RS256");
    }
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == jwt.header["kid"])
        .ok_or("unknown kid")?;
    if key["kty"] != "RSA" || key.get("alg").is_some_and(|a| a != "RS256") {
        return Err("key does not fit RS256");
    }
    RsaPublicKeyComponents {
        n: b64d(&key["n"]),
        e: b64d(&key["e"]),
    }
    .verify(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        jwt.signing_input.as_bytes(),
        &jwt.signature,
    )
    .map_err(|_| "bad signature")?;
    Ok((jwt.claims, key.clone()))
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn entra_discovery_per_tenant_and_organizations() {
    let idp = start().await;
    let p = idp.provider();
    let base = idp.url();
    assert_eq!(p.flavor(), Flavor::Entra);
    assert_eq!(p.issuer(), &base);
    let origin = base.as_str().trim_end_matches('/');

    for addressed in [CONTOSO, "contoso.example", "CONTOSO.onmicrosoft.test"] {
        let url = base
            .join(&format!(
                "{addressed}/v2.0/.well-known/openid-configuration"
            ))
            .unwrap();
        let response = http().get(url.clone()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{addressed}");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let doc: Value = response.json().await.unwrap();
        assert_eq!(
            doc["issuer"],
            format!("{origin}/{CONTOSO}/v2.0"),
            "{addressed}"
        );
        assert_eq!(
            doc["authorization_endpoint"],
            format!("{origin}/{CONTOSO}/oauth2/v2.0/authorize")
        );
        assert_eq!(
            doc["token_endpoint"],
            format!("{origin}/{CONTOSO}/oauth2/v2.0/token")
        );
        assert_eq!(
            doc["jwks_uri"],
            format!("{origin}/{CONTOSO}/discovery/v2.0/keys")
        );
        assert_eq!(doc["userinfo_endpoint"], format!("{origin}/oidc/userinfo"));
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            json!(["RS256"])
        );
        assert_eq!(doc["subject_types_supported"], json!(["pairwise"]));
        let e = p.entra_endpoints(addressed);
        assert_eq!(e.discovery, url);
        assert_eq!(doc["issuer"], e.issuer.as_str());
        assert_eq!(doc["jwks_uri"], e.jwks.as_str());
        assert_eq!(doc["token_endpoint"], e.token.as_str());
        assert_eq!(doc["authorization_endpoint"], e.authorization.as_str());
        assert_eq!(doc["userinfo_endpoint"], e.userinfo.as_str());
    }

    for multi in ["organizations", "common"] {
        let (status, doc) = get_json(
            base.join(&format!("{multi}/v2.0/.well-known/openid-configuration"))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        // The template, verbatim.
        assert_eq!(doc["issuer"], format!("{origin}/{{tenantid}}/v2.0"));
        assert_eq!(
            doc["jwks_uri"],
            format!("{origin}/{multi}/discovery/v2.0/keys")
        );
        assert_eq!(
            doc["authorization_endpoint"],
            format!("{origin}/{multi}/oauth2/v2.0/authorize")
        );
        assert_eq!(p.entra_endpoints(multi).issuer, doc["issuer"]);
    }
    assert_eq!(
        p.discovery_url(),
        &p.entra_endpoints("organizations").discovery
    );
    assert_eq!(
        p.discovery_json()["issuer"],
        format!("{origin}/{{tenantid}}/v2.0")
    );

    let unknown = "33333333-3333-4333-8333-333333333333";
    for path in [
        format!("{unknown}/v2.0/.well-known/openid-configuration"),
        "nowhere.example/discovery/v2.0/keys".to_owned(),
        "consumers/v2.0/.well-known/openid-configuration".to_owned(),
    ] {
        let (status, body) = get_json(base.join(&path).unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(body["error"], "invalid_tenant");
    }

    assert_eq!(p.request_counts().discovery, 7);
    assert_eq!(p.request_counts().jwks, 1);
    assert_eq!(p.requests_to(&p.entra_endpoints(CONTOSO).discovery), 1);
    assert_eq!(
        p.requests_to(&p.entra_endpoints("contoso.example").discovery),
        1
    );
    assert_eq!(
        p.requests_to(&p.entra_endpoints("organizations").discovery),
        1
    );
    assert_eq!(p.requests_to(&p.entra_endpoints(FABRIKAM).discovery), 0);
}

#[tokio::test]
async fn entra_jwks_are_per_tenant() {
    let idp = start().await;
    let p = idp.provider();
    let origin = idp.url().as_str().trim_end_matches('/').to_owned();

    let contoso = jwks(p, CONTOSO).await;
    let fabrikam = jwks(p, "fabrikam.example").await;
    assert_eq!(kids(&contoso), [p.entra_signing_kid(CONTOSO)]);
    assert_eq!(kids(&fabrikam), [p.entra_signing_kid(FABRIKAM)]);
    assert_ne!(kids(&contoso), kids(&fabrikam));
    let (c, f) = (&contoso["keys"][0], &fabrikam["keys"][0]);
    assert_ne!(c["n"], f["n"], "each tenant has its own key");
    assert_eq!(c["issuer"], format!("{origin}/{CONTOSO}/v2.0"));
    assert_eq!(f["issuer"], format!("{origin}/{FABRIKAM}/v2.0"));
    assert_eq!(
        (&c["kty"], &c["use"], &c["e"]),
        (&json!("RSA"), &json!("sig"), &json!("AQAB"))
    );
    assert!(c.get("alg").is_none(), "Entra JWKs carry no alg");

    let all = jwks(p, "organizations").await;
    assert_eq!(
        kids(&all),
        [p.entra_signing_kid(CONTOSO), p.entra_signing_kid(FABRIKAM)]
    );
    assert_eq!(jwks(p, "common").await, all);
    assert_eq!(p.jwks_json(), all);

    // Rotating one tenant leaves the other alone.
    let before = p.entra_signing_kid(CONTOSO);
    let token = id_token(p, CONTOSO, "alice@contoso.example").await;
    p.rotate_tenant_keys(CONTOSO);
    let after = p.entra_signing_kid(CONTOSO);
    assert_ne!(before, after);
    assert_eq!(kids(&jwks(p, FABRIKAM).await), kids(&fabrikam));
    let rotated = jwks(p, CONTOSO).await;
    assert_eq!(kids(&rotated), [after.as_str()]);
    assert_ne!(rotated["keys"][0]["n"], c["n"], "new key material");
    assert_eq!(verify_rs256(&token, &rotated), Err("unknown kid"));
    let fresh = id_token(p, CONTOSO, "alice@contoso.example").await;
    assert_eq!(parse_jwt(&fresh).header["kid"], after.as_str());
    assert!(verify_rs256(&fresh, &rotated).is_ok());

    p.set_publish_previous_key(true);
    let window = jwks(p, CONTOSO).await;
    assert_eq!(kids(&window), [after, before]);
    assert!(verify_rs256(&token, &window).is_ok());
    assert_eq!(kids(&jwks(p, FABRIKAM).await).len(), 1, "never rotated");

    // rotate_keys rotates every tenant.
    let fabrikam_kid = p.entra_signing_kid(FABRIKAM);
    p.rotate_keys();
    assert_ne!(p.entra_signing_kid(FABRIKAM), fabrikam_kid);
    assert_eq!(p.signing_kid(), p.entra_signing_kid(CONTOSO));

    assert_eq!(p.requests_to(&p.entra_endpoints(CONTOSO).jwks), 3);
    // Counted by path: the domain-addressed JWKS apart from the GUID one.
    let by_domain = p
        .issuer()
        .join("fabrikam.example/discovery/v2.0/keys")
        .unwrap();
    assert_eq!(p.requests_to(&by_domain), 1);
    assert_eq!(p.requests_to(&p.entra_endpoints(FABRIKAM).jwks), 2);
}

#[tokio::test]
async fn entra_code_flow_over_http() {
    let idp = start().await;
    let p = idp.provider();
    let origin = idp.url().as_str().trim_end_matches('/').to_owned();
    let pk = pkce();
    let extra = [
        ("login_hint", "alice@contoso.example"),
        ("domain_hint", "contoso.example"),
    ];

    let page = http()
        .get(authorize_url(p, CONTOSO, &pk.challenge, &extra))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("value=\"alice@contoso.example\" autocomplete"),
        "prefilled"
    );
    assert!(html.contains(&format!("Entra tenant {CONTOSO}")));
    assert!(html.contains("name=\"user\" value=\"big@contoso.example\""));
    assert!(
        !html.contains("mallory"),
        "another tenant's users are not offered"
    );
    let params = p.last_authorize_params().unwrap();
    assert_eq!(params["login_hint"], "alice@contoso.example");
    assert_eq!(params["domain_hint"], "contoso.example");
    assert_eq!(params["client_id"], CLIENT);
    assert_eq!(
        p.last_authorize_url().unwrap().path(),
        format!("/{CONTOSO}/oauth2/v2.0/authorize")
    );

    let response = http()
        .post(tenant_url(p, CONTOSO, "authorize"))
        .form(&[
            ("client_id", CLIENT),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid profile email"),
            ("state", "st-e"),
            ("nonce", "n-e"),
            ("code_challenge", pk.challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("login", "ALICE@contoso.example"),
        ])
        .send()
        .await
        .unwrap();
    let back = location(&response);
    assert!(back.as_str().starts_with(REDIRECT));
    assert_eq!(param(&back, "state").as_deref(), Some("st-e"));
    assert_eq!(param(&back, "iss"), None, "Entra sends no iss parameter");
    let code = param(&back, "code").unwrap();

    let response = redeem(tenant_url(p, CONTOSO, "token"), &code, &pk.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    let id_token = tokens["id_token"].as_str().unwrap();
    let header = parse_jwt(id_token).header;
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], p.entra_signing_kid(CONTOSO).as_str());

    let (claims, key) = verify_rs256(id_token, &jwks(p, CONTOSO).await).expect("signed by contoso");
    let alice = alice();
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["iss"], format!("{origin}/{CONTOSO}/v2.0"));
    assert_eq!(key["issuer"], claims["iss"]);
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(claims["tid"], CONTOSO);
    assert_eq!(claims["oid"], alice.oid.as_str());
    assert_eq!(claims["sub"], alice.subject(CLIENT).as_str());
    assert_ne!(claims["sub"], alice.oid.as_str());
    assert_eq!(claims["nonce"], "n-e");
    assert_eq!(claims["email"], "alice@contoso.example");
    assert_eq!(claims["xms_edov"], true);
    assert_eq!(claims["preferred_username"], "alice@contoso.example");
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["groups"], json!([G1, G2]));
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["nbf"].as_i64(), Some(iat));
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 300);
    assert!((iat - p.now_unix()).abs() <= 5);
    for absent in ["email_verified", "upn", "_claim_names", "azp"] {
        assert!(claims.get(absent).is_none(), "{absent}");
    }
    // Tenant-specific authority, so organizations' JWKS knows the key too.
    assert!(verify_rs256(id_token, &jwks(p, "organizations").await).is_ok());
    assert_eq!(
        verify_rs256(id_token, &jwks(p, FABRIKAM).await),
        Err("unknown kid")
    );

    let info = http()
        .get(p.entra_endpoints(CONTOSO).userinfo)
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::OK);
    let info: Value = info.json().await.unwrap();
    assert_eq!(
        info,
        json!({
            "sub": alice.subject(CLIENT),
            "name": "Alice Liddell",
            "given_name": "Alice",
            "family_name": "Liddell",
            "email": "alice@contoso.example",
        })
    );
    let unauthorized = http()
        .get(p.userinfo_endpoint().clone())
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);

    let counts = p.request_counts();
    assert_eq!(
        (
            counts.authorize,
            counts.login,
            counts.token,
            counts.userinfo
        ),
        (1, 1, 1, 2)
    );
}

#[tokio::test]
async fn entra_tenant_rules_at_sign_in() {
    let idp = start().await;
    let p = idp.provider();
    let origin = idp.url().as_str().trim_end_matches('/').to_owned();
    let sign_in = |tenant: &str, login: &str| {
        p.sign_in(&authorize_url(p, tenant, &pkce().challenge, &[]), login)
    };
    let error = |back: &Url| param(back, "error");

    // A tenant-specific authority admits only its own tenant's users.
    let denied = sign_in(CONTOSO, "mallory@fabrikam.example").unwrap();
    assert_eq!(error(&denied).as_deref(), Some("access_denied"));
    assert_eq!(param(&denied, "state").as_deref(), Some("st-e"));
    assert!(param(&denied, "code").is_none());
    let denied = sign_in(CONTOSO, "someone@fabrikam.example").unwrap();
    assert_eq!(
        error(&denied).as_deref(),
        Some("access_denied"),
        "a made-up user of the tenant that verified the domain"
    );
    let denied = sign_in("fabrikam.example", "alice@contoso.example").unwrap();
    assert_eq!(error(&denied).as_deref(), Some("access_denied"));
    // Mallory's e-mail is alice's UPN, but the UPN wins: alice, denied.
    let denied = sign_in(FABRIKAM, "alice@contoso.example").unwrap();
    assert_eq!(error(&denied).as_deref(), Some("access_denied"));
    // An unknown domain at a tenant: a made-up user of that tenant.
    let t = id_token(p, CONTOSO, "guest@elsewhere.example").await;
    let (claims, _) = verify_rs256(&t, &jwks(p, CONTOSO).await).unwrap();
    assert_eq!(claims["tid"], CONTOSO);
    assert_eq!(
        claims["oid"],
        EntraUser::new(CONTOSO, "guest@elsewhere.example")
            .oid
            .as_str()
    );
    // A login without a domain gets the tenant's first verified domain.
    let t = id_token(p, FABRIKAM, "Bob").await;
    let claims = parse_jwt(&t).claims;
    assert_eq!(claims["preferred_username"], "bob@fabrikam.example");
    assert_eq!(claims["name"], "Bob");

    // organizations: any tenant's user; tid and iss are the user's tenant.
    let t = id_token(p, "organizations", "mallory@fabrikam.example").await;
    let jwt = parse_jwt(&t);
    assert_eq!(jwt.header["kid"], p.entra_signing_kid(FABRIKAM).as_str());
    let (claims, key) = verify_rs256(&t, &jwks(p, "organizations").await).unwrap();
    assert_eq!(claims["tid"], FABRIKAM);
    assert_eq!(claims["iss"], format!("{origin}/{FABRIKAM}/v2.0"));
    assert_eq!(key["issuer"], claims["iss"]);
    assert_eq!(claims["email"], "alice@contoso.example");
    assert_eq!(claims["xms_edov"], false);
    assert_eq!(claims["oid"], mallory().oid.as_str());
    assert!(verify_rs256(&t, &jwks(p, FABRIKAM).await).is_ok());
    assert_eq!(
        verify_rs256(&t, &jwks(p, CONTOSO).await),
        Err("unknown kid")
    );
    // UPN beats e-mail: alice's UPN is mallory's e-mail.
    let t = id_token(p, "common", "alice@contoso.example").await;
    assert_eq!(parse_jwt(&t).claims["tid"], CONTOSO);
    let t = id_token(p, "organizations", "new@fabrikam.example").await;
    assert_eq!(parse_jwt(&t).claims["tid"], FABRIKAM);
    // An unknown domain cannot be placed in one of two tenants.
    let err = sign_in("organizations", "x@unknown.example").unwrap_err();
    assert!(err.message().contains("No tenant has verified"), "{err}");

    // Addressing by domain is the same tenant, also for redeeming codes.
    let pk = pkce();
    let back = p
        .sign_in(
            &authorize_url(p, "contoso.example", &pk.challenge, &[]),
            "alice@contoso.example",
        )
        .unwrap();
    let response = redeem(
        tenant_url(p, CONTOSO, "token"),
        &param(&back, "code").unwrap(),
        &pk.verifier,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    // A code from organizations is not redeemed at a tenant's endpoint.
    let pk = pkce();
    let back = p
        .sign_in(
            &authorize_url(p, "organizations", &pk.challenge, &[]),
            "alice@contoso.example",
        )
        .unwrap();
    let response = redeem(
        tenant_url(p, CONTOSO, "token"),
        &param(&back, "code").unwrap(),
        &pk.verifier,
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    // Not an authorization endpoint of this provider.
    let pk = pkce();
    let mut wrong = authorize_url(p, CONTOSO, &pk.challenge, &[]);
    wrong.set_path("/33333333-3333-4333-8333-333333333333/oauth2/v2.0/authorize");
    assert!(p.sign_in(&wrong, "alice@contoso.example").is_err());
    let page = http().get(wrong).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.text().await.unwrap().contains("AADSTS90002"));
}

#[tokio::test]
async fn entra_single_tenant_organizations_and_page_errors() {
    let idp = DevProvider::spawn_local(|base| {
        DevProvider::entra(base)
            .with_client(CLIENT, SECRET, &[REDIRECT])
            .with_entra_tenant(CONTOSO, &[])
    })
    .await
    .unwrap();
    let p = idp.provider();
    // A single tenant takes every unknown login, even at organizations.
    let t = id_token(p, "organizations", "carol").await;
    let claims = parse_jwt(&t).claims;
    assert_eq!(claims["tid"], CONTOSO);
    assert_eq!(
        claims["preferred_username"],
        "carol@11111111.onmicrosoft.test"
    );

    // The form shows resolution errors on the page.
    let two = start().await;
    let p = two.provider();
    let pk = pkce();
    let mut form: Vec<(String, String)> = authorize_url(p, "organizations", &pk.challenge, &[])
        .query_pairs()
        .into_owned()
        .collect();
    form.push(("login".into(), "x@unknown.example".into()));
    let response = http()
        .post(tenant_url(p, "organizations", "authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("No tenant has verified")
    );
}

#[tokio::test]
async fn entra_group_overage() {
    let idp = start().await;
    let p = idp.provider();
    let big = big();
    let t = id_token(p, CONTOSO, "big@contoso.example").await;
    let (claims, _) = verify_rs256(&t, &jwks(p, CONTOSO).await).unwrap();
    assert!(claims.get("groups").is_none(), "groups omitted on overage");
    assert_eq!(claims["_claim_names"], json!({"groups": "src1"}));
    assert_eq!(
        claims["_claim_sources"],
        json!({"src1": {"endpoint": format!(
            "https://graph.microsoft.com/v1.0/users/{}/getMemberObjects",
            big.oid
        )}})
    );
    // No e-mail verification claim unless configured.
    assert!(claims.get("xms_edov").is_none());
    assert_eq!(claims["email"], "big@contoso.example");
    // Without groups: neither claim.
    let t = id_token(p, CONTOSO, "plain@contoso.example").await;
    let claims = parse_jwt(&t).claims;
    assert!(claims.get("groups").is_none() && claims.get("_claim_names").is_none());
}

/// Signs alice in at `tenant` with `fault` on; returns the ID token.
async fn with_fault(p: &DevProvider, fault: Fault, tenant: &str, login: &str) -> String {
    p.clear_faults();
    p.set_fault(fault, true);
    let t = id_token(p, tenant, login).await;
    p.clear_faults();
    t
}

#[tokio::test]
async fn entra_faults() {
    let idp = start().await;
    let p = idp.provider();
    let origin = idp.url().as_str().trim_end_matches('/').to_owned();
    let contoso = jwks(p, CONTOSO).await;
    let all = jwks(p, "organizations").await;
    let alice = "alice@contoso.example";

    // iss names another tenant than tid; the signature is contoso's.
    let t = with_fault(p, Fault::IssuerTenantMismatch, CONTOSO, alice).await;
    let (claims, key) = verify_rs256(&t, &contoso).unwrap();
    assert_eq!(claims["tid"], CONTOSO);
    assert_eq!(claims["iss"], format!("{origin}/{FABRIKAM}/v2.0"));
    assert_ne!(key["issuer"], claims["iss"]);
    let t = with_fault(
        p,
        Fault::IssuerTenantMismatch,
        "organizations",
        "mallory@fabrikam.example",
    )
    .await;
    let claims = parse_jwt(&t).claims;
    assert_eq!(claims["tid"], FABRIKAM);
    assert_eq!(claims["iss"], format!("{origin}/{CONTOSO}/v2.0"));

    // A v1.0 token.
    let t = with_fault(p, Fault::V1Token, CONTOSO, alice).await;
    let (claims, _) = verify_rs256(&t, &contoso).unwrap();
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["iss"], format!("https://sts.windows.net/{CONTOSO}/"));
    assert_eq!(claims["upn"], alice);
    assert_eq!(claims["unique_name"], alice);
    assert!(claims.get("preferred_username").is_none());

    // Signed with fabrikam's key and kid; claims say contoso.
    let t = with_fault(p, Fault::SignWithOtherTenantKey, CONTOSO, alice).await;
    assert_eq!(
        parse_jwt(&t).header["kid"],
        p.entra_signing_kid(FABRIKAM).as_str()
    );
    assert_eq!(verify_rs256(&t, &contoso), Err("unknown kid"));
    let (claims, key) = verify_rs256(&t, &all).expect("a published key of another tenant");
    assert_eq!(claims["tid"], CONTOSO);
    assert_eq!(claims["iss"], format!("{origin}/{CONTOSO}/v2.0"));
    assert_eq!(key["issuer"], format!("{origin}/{FABRIKAM}/v2.0"));

    // Generic faults on an Entra token.
    let t = with_fault(p, Fault::ExpiredIdToken, CONTOSO, alice).await;
    let (claims, _) = verify_rs256(&t, &contoso).unwrap();
    assert!(claims["exp"].as_i64().unwrap() < p.now_unix() - 300);
    let t = with_fault(p, Fault::WrongAudience, CONTOSO, alice).await;
    assert_eq!(
        verify_rs256(&t, &contoso).unwrap().0["aud"],
        "some-other-client"
    );
    let t = with_fault(p, Fault::WrongIssuer, CONTOSO, alice).await;
    assert_eq!(
        parse_jwt(&t).claims["iss"],
        format!("{origin}/{CONTOSO}/v2.0/wrong-issuer")
    );
    let t = with_fault(p, Fault::WrongNonce, CONTOSO, alice).await;
    assert_ne!(parse_jwt(&t).claims["nonce"], "n-e");
    let t = with_fault(p, Fault::UnknownKid, CONTOSO, alice).await;
    assert_eq!(verify_rs256(&t, &all), Err("unknown kid"));
    let t = with_fault(p, Fault::BadSignature, CONTOSO, alice).await;
    assert_eq!(verify_rs256(&t, &contoso), Err("bad signature"));
    let t = with_fault(p, Fault::AlgNone, CONTOSO, alice).await;
    assert_eq!(parse_jwt(&t).header["alg"], "none");
    let t = with_fault(p, Fault::Hs256WithPublicKey, CONTOSO, alice).await;
    assert_eq!(parse_jwt(&t).header["alg"], "HS256");
    let t = with_fault(p, Fault::EcSigning, CONTOSO, alice).await;
    assert_eq!(parse_jwt(&t).header["alg"], "ES256");
    assert!(verify_rs256(&t, &all).is_err());
    let t = with_fault(p, Fault::NoEmailVerified, CONTOSO, alice).await;
    let claims = parse_jwt(&t).claims;
    assert_eq!(claims["xms_edov"], false);
    assert!(claims.get("email_verified").is_none());
    let t = with_fault(p, Fault::ThinIdToken, CONTOSO, alice).await;
    let claims = verify_rs256(&t, &contoso).unwrap().0;
    for absent in ["email", "xms_edov", "name", "preferred_username", "groups"] {
        assert!(claims.get(absent).is_none(), "{absent}");
    }
    for present in ["iss", "sub", "aud", "tid", "oid", "nonce", "exp", "ver"] {
        assert!(claims.get(present).is_some(), "{present}");
    }

    // Endpoint faults cover every tenant.
    p.set_fault(Fault::JwksDown, true);
    p.set_fault(Fault::DiscoveryDown, true);
    for url in [
        p.entra_endpoints(CONTOSO).jwks,
        p.entra_endpoints("organizations").jwks,
        p.entra_endpoints("fabrikam.example").discovery,
        p.entra_endpoints("common").discovery,
    ] {
        let status = http().get(url.clone()).send().await.unwrap().status();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{url}");
    }
    p.clear_faults();

    let pk = pkce();
    let back = p
        .sign_in(&authorize_url(p, CONTOSO, &pk.challenge, &[]), alice)
        .unwrap();
    let code = param(&back, "code").unwrap();
    p.set_fault(Fault::TokenEndpointError, true);
    let response = redeem(tenant_url(p, CONTOSO, "token"), &code, &pk.verifier).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    p.set_fault(Fault::TokenEndpointError, false);
    p.set_fault(Fault::DenyLogin, true);
    let back = p
        .sign_in(&authorize_url(p, CONTOSO, &pk.challenge, &[]), alice)
        .unwrap();
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
}

#[tokio::test]
async fn entra_single_tenant_faults_fall_back() {
    let idp = DevProvider::spawn_local(|base| {
        DevProvider::entra(base)
            .with_client(CLIENT, SECRET, &[REDIRECT])
            .with_entra_tenant(CONTOSO, &["contoso.example"])
    })
    .await
    .unwrap();
    let p = idp.provider();
    let origin = idp.url().as_str().trim_end_matches('/').to_owned();
    let t = with_fault(p, Fault::IssuerTenantMismatch, CONTOSO, "a@contoso.example").await;
    assert_eq!(
        parse_jwt(&t).claims["iss"],
        format!("{origin}/00000000-0000-0000-0000-000000000bad/v2.0")
    );
    let t = with_fault(
        p,
        Fault::SignWithOtherTenantKey,
        CONTOSO,
        "a@contoso.example",
    )
    .await;
    assert_eq!(
        verify_rs256(&t, &jwks(p, "organizations").await),
        Err("unknown kid")
    );
}

#[tokio::test]
async fn entra_under_a_path_and_crafted_tokens() {
    let idp = DevProvider::spawn_local(|base| configure(base.join("login/").unwrap()))
        .await
        .unwrap();
    let p = idp.provider();
    let base = idp.url().join("login/").unwrap();
    assert_eq!(p.issuer(), &base);
    let e = p.entra_endpoints(CONTOSO);
    assert_eq!(e.issuer, format!("{base}{CONTOSO}/v2.0"));
    let (status, doc) = get_json(e.discovery.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], e.issuer.as_str());
    let t = id_token(p, "organizations", "alice@contoso.example").await;
    assert_eq!(parse_jwt(&t).claims["iss"], e.issuer.as_str());
    assert_eq!(p.requests_to(&e.discovery), 1);
    // Nothing outside the base path.
    let outside = http()
        .get(
            idp.url()
                .join(&format!("{CONTOSO}/discovery/v2.0/keys"))
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);

    let claims = json!({"iss": e.issuer, "tid": CONTOSO, "custom": true});
    let crafted = p.sign_entra_token(CONTOSO, &claims);
    let (got, _) = verify_rs256(&crafted, &jwks_at(&e.jwks).await).unwrap();
    assert_eq!(got, claims);
    assert_eq!(
        p.sign_id_token(&claims).split('.').nth(1),
        crafted.split('.').nth(1)
    );
}

async fn jwks_at(url: &Url) -> Value {
    get_json(url.clone()).await.1
}
