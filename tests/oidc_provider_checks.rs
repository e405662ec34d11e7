//! Checks on what an OpenID provider sends besides the ID token, with
//! wiremock standing in for a misbehaving provider: a discovery document
//! naming another issuer, and a userinfo response for another subject.

use std::sync::Arc;

use ssokit::error::{ErrorKind, IdpError};
use ssokit::hooks::MemoryDirectory;
use ssokit::testkit::DevProvider;
use ssokit::{Begin, BeginLogin, Connection, LoginHint, Sso, SsoConfig, StaticConnections, Tenant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn discovery(base: &str, issuer: &str) -> serde_json::Value {
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    })
}

fn sso(issuer: &str, userinfo: bool) -> Sso {
    let conn: Connection = serde_json::from_value(serde_json::json!({
        "id": "c", "tenant": "acme", "kind": "oidc", "issuer": issuer, "client_id": "app",
        "client_secret": "secret", "jit": true, "userinfo": userinfo,
    }))
    .unwrap();
    let tenants = vec![Tenant {
        id: "acme".into(),
        domains: vec!["acme.test".into()],
        subdomain: None,
    }];
    Sso::builder(SsoConfig::new("http://127.0.0.1:9/".parse().unwrap()))
        .connections(Arc::new(
            StaticConnections::new(tenants, vec![conn]).unwrap(),
        ))
        .users(Arc::new(MemoryDirectory::new()))
        .build()
        .unwrap()
}

async fn begin(sso: &Sso) -> Result<Begin, ssokit::Error> {
    sso.begin_login(BeginLogin {
        hint: LoginHint::Email("ann@acme.test".into()),
        return_to: None,
    })
    .await
}

#[tokio::test]
async fn discovery_naming_another_issuer_is_refused() {
    let server = MockServer::start().await;
    let base = server.uri();
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(discovery(&base, "https://evil.example")),
        )
        .mount(&server)
        .await;
    let err = begin(&sso(&base, false)).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Idp(IdpError::Discovery(_))),
        "{err}"
    );
}

#[tokio::test]
async fn userinfo_for_another_subject_is_refused() {
    let server = MockServer::start().await;
    let base = server.uri();
    // A provider whose keys sign the tokens this mock hands out.
    let keys = DevProvider::new(base.parse().unwrap());
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(discovery(&base, &base)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(keys.jwks_json()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/userinfo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "sub": "someone-else", "email": "ann@acme.test", "email_verified": true
        })))
        .mount(&server)
        .await;
    let sso = sso(&base, true);
    let Begin::Redirect(r) = begin(&sso).await.unwrap() else {
        panic!()
    };
    let param = |k: &str| {
        r.url
            .query_pairs()
            .find(|(n, _)| n == k)
            .unwrap()
            .1
            .into_owned()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let id_token = keys.sign_id_token(&serde_json::json!({
        "iss": base, "sub": "ann", "aud": "app", "iat": now, "exp": now + 300, "nonce": param("nonce"),
    }));
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id_token": id_token, "access_token": "at", "token_type": "Bearer", "expires_in": 300
        })))
        .mount(&server)
        .await;
    let err = sso
        .complete_login(
            &format!("code=c&state={}", param("state")),
            Some(r.flow_cookie.expose()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Idp(IdpError::Userinfo(_))),
        "{err}"
    );
}
