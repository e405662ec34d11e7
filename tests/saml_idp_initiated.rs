//! IdP-initiated SAML: refused unless the connection allows it; then the
//! unsolicited response is validated and single use, and the login continues
//! as a browser-bound SP-initiated one.
#![cfg(feature = "saml")]

mod common;

use common::{Harness, PUBLIC_URL, redirect_uri};
use ssokit::error::ErrorKind;
use ssokit::flow::{Begin, Outcome, SignInKind};
use ssokit::testkit::saml::{DevSamlIdp, SamlUser, SsoRequest};
use ssokit::testkit::{DevProvider, RunningProvider};
use ssokit::{ConnectionId, Tenant};
use url::Url;

const SP: &str = "http://127.0.0.1:9/sso/saml/metadata";

async fn setup(allow: bool) -> (Harness, ssokit::testkit::saml::RunningSamlIdp) {
    let public = Url::parse(PUBLIC_URL).unwrap();
    let idp_initiated_acs = public.join("/sso/saml/acs/globex-saml").unwrap();
    let acs = public.join("/sso/saml/acs").unwrap();
    let saml = DevSamlIdp::spawn_local(|base| {
        DevSamlIdp::new(base.join("saml").unwrap())
            .with_sp(SP, idp_initiated_acs.as_str())
            .with_sp(SP, acs.as_str())
            .with_user(SamlUser::new("greg@globex.test"))
    })
    .await
    .unwrap();
    // The harness wants an OIDC provider too; it is not used here.
    let oidc: RunningProvider = DevProvider::spawn_local(|base| {
        DevProvider::new(base).with_client("app", "s", &[redirect_uri().as_str()])
    })
    .await
    .unwrap();
    let spec = serde_json::json!({
        "id": "globex-saml", "tenant": "globex", "kind": "saml", "idp_metadata": saml.idp().metadata_xml(),
        "sp_entity_id": SP, "allow_idp_initiated": allow, "trust_email": true, "jit": true,
    });
    let tenants = vec![Tenant {
        id: "globex".into(),
        domains: vec!["globex.test".into()],
        subdomain: None,
    }];
    (Harness::from_parts(oidc, vec![spec], tenants, None), saml)
}

#[tokio::test]
async fn idp_initiated_continues_as_a_browser_bound_login() {
    let (h, idp) = setup(true).await;
    let unsolicited = idp.idp().idp_initiated(SP, "greg@globex.test").unwrap();
    let conn = ConnectionId::new("globex-saml");
    assert_eq!(unsolicited.url, h.sso.saml_idp_initiated_acs_url(&conn));
    let begin = h
        .sso
        .begin_from_idp_initiated(&conn, &unsolicited.form_body())
        .await
        .unwrap();
    let Begin::Redirect(r) = begin else {
        panic!("{begin:?}")
    };
    // The same unsolicited response cannot be used again.
    let err = h
        .sso
        .begin_from_idp_initiated(&conn, &unsolicited.form_body())
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Saml(_)), "{err}");
    // The SP-initiated round trip, bound to this browser, signs in.
    let post = idp
        .idp()
        .sign_in(
            SsoRequest::from_started(&r.url, r.post_fields.as_deref()),
            "greg@globex.test",
        )
        .unwrap();
    let o = h
        .sso
        .complete_login(&post.form_body(), Some(r.flow_cookie.expose()))
        .await
        .unwrap();
    let Outcome::SignedIn(s) = o else {
        panic!("{o:?}")
    };
    assert_eq!(s.kind, SignInKind::Provisioned);
    assert_eq!(s.user.email, "greg@globex.test");
}

#[tokio::test]
async fn idp_initiated_is_refused_unless_enabled() {
    let (h, idp) = setup(false).await;
    let unsolicited = idp.idp().idp_initiated(SP, "greg@globex.test").unwrap();
    let err = h
        .sso
        .begin_from_idp_initiated(&ConnectionId::new("globex-saml"), &unsolicited.form_body())
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Saml(_)), "{err}");
    assert!(h.users.users().is_empty());
    // And an unsolicited response posted to the normal ACS has no flow: refused.
    let err = h
        .sso
        .complete_login(&unsolicited.form_body(), Some("cookie"))
        .await
        .unwrap_err();
    assert!(err.status() >= 400 && err.status() < 500, "{err}");
}
