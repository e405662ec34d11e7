//! Entra certificate credentials: the token request carries a client
//! assertion signed with the host's key (private_key_jwt) and no secret.
//! wiremock stands in for Entra's endpoints to capture the request.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use ssokit::error::{ErrorKind, IdpError};
use ssokit::hooks::MemoryDirectory;
use ssokit::oidc::assertion::ClientAssertionKey;
use ssokit::{Begin, BeginLogin, Connection, LoginHint, Sso, SsoConfig, StaticConnections, Tenant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TID: &str = "33333333-3333-3333-3333-333333333333";
const KEY_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/testkit/keys/rsa3.pk8.der");

#[tokio::test]
async fn token_request_uses_a_signed_client_assertion() {
    let server = MockServer::start().await;
    let base = server.uri();
    let token_endpoint = format!("{base}/{TID}/oauth2/v2.0/token");
    Mock::given(method("GET"))
        .and(path(format!(
            "/{TID}/v2.0/.well-known/openid-configuration"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "issuer": format!("{base}/{TID}/v2.0"),
            "authorization_endpoint": format!("{base}/{TID}/oauth2/v2.0/authorize"),
            "token_endpoint": token_endpoint,
            "jwks_uri": format!("{base}/{TID}/discovery/v2.0/keys"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/{TID}/oauth2/v2.0/token")))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({"error": "invalid_client"})),
        )
        .mount(&server)
        .await;

    let thumb = URL_SAFE_NO_PAD.encode([9u8; 32]);
    let conn: Connection = serde_json::from_value(serde_json::json!({
        "id": "contoso", "tenant": "contoso", "kind": "entra", "tenant_id": TID, "base_url": base,
        "client_id": "app-id", "client_certificate_key_file": KEY_FILE, "client_certificate_thumbprint": thumb,
    }))
    .unwrap();
    let tenants = vec![Tenant {
        id: "contoso".into(),
        domains: vec!["contoso.test".into()],
        subdomain: None,
    }];
    let sso = Sso::builder(SsoConfig::new("http://127.0.0.1:9/".parse().unwrap()))
        .connections(Arc::new(
            StaticConnections::new(tenants, vec![conn]).unwrap(),
        ))
        .users(Arc::new(MemoryDirectory::new()))
        .build()
        .unwrap();
    let Begin::Redirect(r) = sso
        .begin_login(BeginLogin {
            hint: LoginHint::Email("ann@contoso.test".into()),
            return_to: None,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    let state = r
        .url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let err = sso
        .complete_login(
            &format!("code=abc&state={state}"),
            Some(r.flow_cookie.expose()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Idp(IdpError::TokenEndpoint(c)) if c == "invalid_client"),
        "{err}"
    );

    let requests = server.received_requests().await.unwrap();
    let token_req = requests
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("a token request");
    assert!(
        token_req.headers.get("authorization").is_none(),
        "no secret sent"
    );
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&token_req.body)
            .into_owned()
            .collect();
    assert_eq!(
        form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert_eq!(form["client_id"], "app-id");
    assert!(!form.contains_key("client_secret"));
    let jwt = &form["client_assertion"];
    let parts: Vec<_> = jwt.split('.').collect();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["aud"], token_endpoint, "bound to the token endpoint");
    assert_eq!(claims["iss"], "app-id");
    let key = ClientAssertionKey::new(&std::fs::read(KEY_FILE).unwrap(), &thumb).unwrap();
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key_der())
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
        .expect("signed with the configured key");
}
