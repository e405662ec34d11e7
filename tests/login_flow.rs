//! The login flow through the public API, against a real development
//! provider on loopback. Each test pins one security rule.

mod common;

use std::time::Duration;

use common::{Harness, Options};
use ssokit::error::{BadRequest, ErrorKind, FlowError, IdpError, LinkError};
use ssokit::flow::{ChoiceOutcome, LinkChoice, Outcome, SignInKind};
use ssokit::hooks::EventKind;
use ssokit::oidc::jwt::TokenError;
use ssokit::policy::DenyReason;
use ssokit::testkit::Fault;
use ssokit::{Error, IdentityKey};

fn signed_in(o: Result<Outcome, Error>) -> ssokit::SignedIn {
    match o {
        Ok(Outcome::SignedIn(s)) => s,
        other => panic!("expected signed in, got {other:?}"),
    }
}

fn denied(o: Result<Outcome, Error>) -> DenyReason {
    match o {
        Ok(Outcome::Denied(d)) => d.reason,
        other => panic!("expected denied, got {other:?}"),
    }
}

fn token_error(o: Result<Outcome, Error>) -> TokenError {
    match o.map_err(|e| e.kind().clone_token()) {
        Err(Some(t)) => t,
        other => panic!("expected a token error, got {other:?}"),
    }
}

trait KindExt {
    fn clone_token(&self) -> Option<TokenError>;
}
impl KindExt for ErrorKind {
    fn clone_token(&self) -> Option<TokenError> {
        match self {
            ErrorKind::Token(t) => Some(t.clone()),
            _ => None,
        }
    }
}

// ---- account resolution ----

#[tokio::test]
async fn jit_creates_the_user_from_the_template() {
    let h = Harness::new().await;
    let s = signed_in(h.login("dave@acme.test").await);
    assert_eq!(s.kind, SignInKind::Provisioned);
    assert_eq!(s.user.role.as_deref(), Some("member"));
    assert_eq!(s.user.groups, vec!["everyone".to_owned()]);
    assert_eq!(s.user.email, "dave@acme.test");
    assert_eq!(s.user.tenant.as_str(), "acme");
    assert!(h.events.kinds().contains(&EventKind::Provisioned));
    // Second login: already linked, no second user.
    let again = signed_in(h.login("dave@acme.test").await);
    assert_eq!(again.kind, SignInKind::Linked);
    assert_eq!(again.user.id, s.user.id);
    assert_eq!(h.users.users().len(), 6);
}

#[tokio::test]
async fn role_map_overrides_the_template_role() {
    let h = Harness::with(Options {
        role_map: vec![("admins".into(), "admin".into())],
        ..Options::default()
    })
    .await;
    let s = signed_in(h.login("erin@acme.test").await);
    assert_eq!(s.user.role.as_deref(), Some("admin"));
}

#[tokio::test]
async fn jit_off_denies_unknown_users() {
    let h = Harness::with(Options {
        jit: false,
        ..Options::default()
    })
    .await;
    assert_eq!(
        denied(h.login("dave@acme.test").await),
        DenyReason::NotProvisioned
    );
    assert_eq!(h.users.users().len(), 5);
}

#[tokio::test]
async fn duplicate_email_is_denied_with_an_audit_event() {
    let h = Harness::new().await;
    assert_eq!(
        denied(h.login("bob@acme.test").await),
        DenyReason::DuplicateEmail
    );
    let kinds = h.events.kinds();
    assert!(kinds.contains(&EventKind::DuplicateEmail), "{kinds:?}");
    assert!(h.mailer.sent().is_empty());
}

#[tokio::test]
async fn inactive_user_is_denied_and_stays_inactive() {
    let h = Harness::new().await;
    assert_eq!(
        denied(h.login("carol@acme.test").await),
        DenyReason::UserInactive
    );
    // Also when the disabled user is already linked.
    let carol = h
        .users
        .users()
        .into_iter()
        .find(|u| u.email == "carol@acme.test")
        .unwrap();
    h.users.link(
        &carol.id,
        IdentityKey {
            connection: common::CONNECTION.into(),
            subject: "dev|carol@acme.test".into(),
        },
    );
    assert_eq!(
        denied(h.login("carol@acme.test").await),
        DenyReason::UserInactive
    );
    assert!(!h.users.user(&carol.id).unwrap().active);
}

#[tokio::test]
async fn disabled_linked_user_is_never_reactivated_by_jit() {
    let h = Harness::new().await;
    let s = signed_in(h.login("dave@acme.test").await);
    h.users.set_active(&s.user.id, false);
    assert_eq!(
        denied(h.login("dave@acme.test").await),
        DenyReason::UserInactive
    );
    assert_eq!(
        h.users.users().len(),
        6,
        "no replacement account is created"
    );
}

#[tokio::test]
async fn group_not_allowed_is_denied() {
    let h = Harness::with(Options {
        allowed_groups: vec!["engineering".into()],
        ..Options::default()
    })
    .await;
    assert_eq!(
        denied(h.login("dave@acme.test").await),
        DenyReason::GroupNotAllowed
    );
    let s = signed_in(h.login("erin@acme.test").await);
    assert_eq!(s.kind, SignInKind::Provisioned);
}

#[tokio::test]
async fn email_outside_the_tenants_domains_is_denied() {
    let h = Harness::new().await;
    // The IdP (whose admin can mint any address) asserts mallory@evil.test.
    let started = h.begin("someone@acme.test").await;
    let q = h.idp_sign_in(&started, "mallory@evil.test");
    assert_eq!(
        denied(h.sso.complete_login(&q, Some(&started.cookie)).await),
        DenyReason::EmailDomainNotOwned
    );
}

#[tokio::test]
async fn unverified_email_never_links() {
    let h = Harness::new().await;
    h.provider().set_fault(Fault::NoEmailVerified, true);
    let s = signed_in(h.login("ann@acme.test").await);
    // Not Ann's account: a new one, without the unverified address.
    assert_eq!(s.kind, SignInKind::Provisioned);
    assert_ne!(s.user.email, "ann@acme.test");
    assert!(h.mailer.sent().is_empty());
}

// ---- linking ----

#[tokio::test]
async fn link_flow_links_after_mailed_confirmation() {
    let h = Harness::new().await;
    let ann = h
        .users
        .users()
        .into_iter()
        .find(|u| u.email == "ann@acme.test")
        .unwrap();
    let (token, cookie) = h.request_link("ann@acme.test").await;
    let mail = h.mailer.last().unwrap();
    assert_eq!(
        mail.to, "ann@acme.test",
        "mailed to the local account, not the IdP"
    );
    assert!(
        format!("{mail:?}").find(&token).is_none(),
        "Debug redacts the token"
    );
    // Not linked before confirmation.
    assert!(h.users.identities_of(&ann.id).is_empty());
    let s = signed_in(h.sso.confirm_link(&token, Some(&cookie)).await);
    assert_eq!(s.kind, SignInKind::LinkConfirmed);
    assert_eq!(s.user.id, ann.id);
    assert_eq!(h.users.identities_of(&ann.id).len(), 1);
    // Next login signs in directly.
    assert_eq!(
        signed_in(h.login("ann@acme.test").await).kind,
        SignInKind::Linked
    );
    let kinds = h.events.kinds();
    for k in [
        EventKind::LinkOffered,
        EventKind::LinkRequested,
        EventKind::LinkConfirmed,
        EventKind::SignedIn,
    ] {
        assert!(kinds.contains(&k), "{k:?} missing from {kinds:?}");
    }
}

#[tokio::test]
async fn link_token_is_valid_at_4_59() {
    let h = Harness::new().await;
    let (token, cookie) = h.request_link("ann@acme.test").await;
    h.clock.advance(Duration::from_secs(299));
    signed_in(h.sso.confirm_link(&token, Some(&cookie)).await);
}

#[tokio::test]
async fn link_token_is_refused_at_5_01() {
    let h = Harness::new().await;
    let (token, cookie) = h.request_link("ann@acme.test").await;
    h.clock.advance(Duration::from_secs(301));
    let err = h.sso.confirm_link(&token, Some(&cookie)).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Link(LinkError::Expired)),
        "{err}"
    );
    let ann = h
        .users
        .users()
        .into_iter()
        .find(|u| u.email == "ann@acme.test")
        .unwrap();
    assert!(h.users.identities_of(&ann.id).is_empty());
}

#[tokio::test]
async fn link_token_is_single_use() {
    let h = Harness::new().await;
    let (token, cookie) = h.request_link("ann@acme.test").await;
    signed_in(h.sso.confirm_link(&token, Some(&cookie)).await);
    let err = h.sso.confirm_link(&token, Some(&cookie)).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Link(LinkError::Invalid)),
        "{err}"
    );
}

#[tokio::test]
async fn link_token_works_only_in_the_browser_that_asked() {
    let h = Harness::new().await;
    let (token, _cookie) = h.request_link("ann@acme.test").await;
    // Another browser (e.g. the victim clicking a link an attacker requested).
    let other = h.begin("dave@acme.test").await;
    let err = h
        .sso
        .confirm_link(&token, Some(&other.cookie))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Link(LinkError::BrowserMismatch)),
        "{err}"
    );
    let err = h.sso.confirm_link(&token, None).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Link(LinkError::Invalid)),
        "consumed: {err}"
    );
    let ann = h
        .users
        .users()
        .into_iter()
        .find(|u| u.email == "ann@acme.test")
        .unwrap();
    assert!(h.users.identities_of(&ann.id).is_empty());
}

#[tokio::test]
async fn link_token_is_bound_to_the_user_it_was_sent_to() {
    let h = Harness::new().await;
    let (token, cookie) = h.request_link("ann@acme.test").await;
    let ann = h
        .users
        .users()
        .into_iter()
        .find(|u| u.email == "ann@acme.test")
        .unwrap();
    // The account's address changed after the mail went out.
    h.users.set_email(&ann.id, "ann.new@acme.test");
    let err = h.sso.confirm_link(&token, Some(&cookie)).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Link(LinkError::AccountChanged)),
        "{err}"
    );
    assert!(h.users.identities_of(&ann.id).is_empty());
}

#[tokio::test]
async fn link_token_is_bound_to_the_identity_it_was_issued_for() {
    let h = Harness::new().await;
    let (token, cookie) = h.request_link("ann@acme.test").await;
    // Meanwhile the external identity got linked to another user.
    let dave = h.users.add_user("acme", "dave2@acme.test", None, true);
    h.users.link(
        &dave.id,
        IdentityKey {
            connection: common::CONNECTION.into(),
            subject: "dev|ann@acme.test".into(),
        },
    );
    let err = h.sso.confirm_link(&token, Some(&cookie)).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Link(LinkError::IdentityLinkedElsewhere)
        ),
        "{err}"
    );
    let ann = h
        .users
        .users()
        .into_iter()
        .find(|u| u.email == "ann@acme.test")
        .unwrap();
    assert!(h.users.identities_of(&ann.id).is_empty());
}

#[tokio::test]
async fn garbage_link_tokens_are_refused() {
    let h = Harness::new().await;
    for t in ["", "x", &"a".repeat(10_000), "../../etc", "\u{0}"] {
        let err = h.sso.confirm_link(t, Some("c")).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Link(LinkError::Invalid)),
            "{err}"
        );
    }
}

#[tokio::test]
async fn new_account_choice_only_where_allowed() {
    let h = Harness::new().await;
    let started = h.begin("ann@acme.test").await;
    let q = h.idp_sign_in(&started, "ann@acme.test");
    let Ok(Outcome::LinkOffered(offer)) = h.sso.complete_login(&q, Some(&started.cookie)).await
    else {
        panic!()
    };
    assert!(!offer.allow_new_account);
    let err = h
        .sso
        .choose(
            offer.offer.expose(),
            Some(&started.cookie),
            LinkChoice::NewAccount,
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err.kind(),
        ErrorKind::Flow(FlowError::ChoiceNotAllowed)
    ));

    let h = Harness::with(Options {
        offer_new_account: true,
        ..Options::default()
    })
    .await;
    let started = h.begin("ann@acme.test").await;
    let q = h.idp_sign_in(&started, "ann@acme.test");
    let Ok(Outcome::LinkOffered(offer)) = h.sso.complete_login(&q, Some(&started.cookie)).await
    else {
        panic!()
    };
    assert!(offer.allow_new_account);
    // The offer is bound to the browser too.
    let err = h
        .sso
        .choose(offer.offer.expose(), Some("other"), LinkChoice::Link)
        .await
        .unwrap_err();
    assert!(matches!(
        err.kind(),
        ErrorKind::Flow(FlowError::BrowserMismatch)
    ));
}

// ---- callback binding ----

#[tokio::test]
async fn missing_or_wrong_state_is_refused() {
    let h = Harness::new().await;
    let started = h.begin("dave@acme.test").await;
    let q = h.idp_sign_in(&started, "dave@acme.test");
    let code = url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let err = h
        .sso
        .complete_login(&format!("code={code}"), Some(&started.cookie))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::BadRequest(BadRequest::MissingParameter("state"))
        ),
        "{err}"
    );
    let err = h
        .sso
        .complete_login(&format!("code={code}&state=forged"), Some(&started.cookie))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Flow(FlowError::UnknownState)),
        "{err}"
    );
    // The real callback still works: bad input changed nothing.
    signed_in(h.sso.complete_login(&q, Some(&started.cookie)).await);
}

#[tokio::test]
async fn replayed_callback_is_refused() {
    let h = Harness::new().await;
    let started = h.begin("dave@acme.test").await;
    let q = h.idp_sign_in(&started, "dave@acme.test");
    signed_in(h.sso.complete_login(&q, Some(&started.cookie)).await);
    let err = h
        .sso
        .complete_login(&q, Some(&started.cookie))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Flow(FlowError::UnknownState)),
        "{err}"
    );
    assert!(err.trace_id().is_some());
}

#[tokio::test]
async fn callback_in_another_browser_is_refused() {
    // Login CSRF: the attacker's callback completed in the victim's browser.
    let h = Harness::new().await;
    let attacker = h.begin("dave@acme.test").await;
    let q = h.idp_sign_in(&attacker, "dave@acme.test");
    let victim = h.begin("ann@acme.test").await;
    let err = h
        .sso
        .complete_login(&q, Some(&victim.cookie))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Flow(FlowError::BrowserMismatch)),
        "{err}"
    );
    let err = h.sso.complete_login(&q, None).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Flow(FlowError::UnknownState)),
        "{err}"
    );
    assert_eq!(h.users.users().len(), 5, "nobody was provisioned");
}

#[tokio::test]
async fn expired_pending_login_is_refused() {
    let h = Harness::new().await;
    let started = h.begin("dave@acme.test").await;
    let q = h.idp_sign_in(&started, "dave@acme.test");
    h.clock.advance(Duration::from_secs(601));
    let err = h
        .sso
        .complete_login(&q, Some(&started.cookie))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Flow(FlowError::Expired)),
        "{err}"
    );
}

#[tokio::test]
async fn idp_error_and_issuer_mixup_are_refused() {
    let h = Harness::new().await;
    h.provider().set_fault(Fault::DenyLogin, true);
    let started = h.begin("dave@acme.test").await;
    let q = h.idp_sign_in(&started, "dave@acme.test");
    let err = h
        .sso
        .complete_login(&q, Some(&started.cookie))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Idp(IdpError::Authorization { .. })),
        "{err}"
    );
    h.provider().set_fault(Fault::DenyLogin, false);

    let started = h.begin("dave@acme.test").await;
    let q = h.idp_sign_in(&started, "dave@acme.test");
    let mixed: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(url::form_urlencoded::parse(q.as_bytes()).map(|(k, v)| {
            if k == "iss" {
                (k.into_owned(), "https://other-idp.example".to_owned())
            } else {
                (k.into_owned(), v.into_owned())
            }
        }))
        .finish();
    let err = h
        .sso
        .complete_login(&mixed, Some(&started.cookie))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Idp(IdpError::IssuerMismatch)),
        "{err}"
    );
}

// ---- ID token validation ----

async fn login_with_fault(fault: Fault) -> Result<Outcome, Error> {
    let h = Harness::new().await;
    h.provider().set_fault(fault, true);
    let r = h.login("dave@acme.test").await;
    assert_eq!(
        h.users.users().len(),
        5,
        "{fault:?}: nobody was provisioned"
    );
    r
}

#[tokio::test]
async fn nonce_mismatch_is_refused() {
    assert!(matches!(
        token_error(login_with_fault(Fault::WrongNonce).await),
        TokenError::NonceMismatch
    ));
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    assert!(matches!(
        token_error(login_with_fault(Fault::WrongIssuer).await),
        TokenError::WrongIssuer
    ));
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    assert!(matches!(
        token_error(login_with_fault(Fault::WrongAudience).await),
        TokenError::WrongAudience
    ));
}

#[tokio::test]
async fn expired_token_is_refused() {
    assert!(matches!(
        token_error(login_with_fault(Fault::ExpiredIdToken).await),
        TokenError::Expired
    ));
}

#[tokio::test]
async fn alg_none_is_refused() {
    assert!(matches!(
        token_error(login_with_fault(Fault::AlgNone).await),
        TokenError::UnsupportedAlgorithm(_)
    ));
}

#[tokio::test]
async fn hs256_keyed_with_the_public_key_is_refused() {
    assert!(matches!(
        token_error(login_with_fault(Fault::Hs256WithPublicKey).await),
        TokenError::UnsupportedAlgorithm(_)
    ));
}

#[tokio::test]
async fn bad_signature_is_refused() {
    assert!(matches!(
        token_error(login_with_fault(Fault::BadSignature).await),
        TokenError::BadSignature
    ));
}

#[tokio::test]
async fn es256_tokens_are_accepted() {
    let h = Harness::new().await;
    h.provider().set_fault(Fault::EcSigning, true);
    signed_in(h.login("dave@acme.test").await);
}

#[tokio::test]
async fn token_endpoint_errors_are_typed() {
    let err = login_with_fault(Fault::TokenEndpointError)
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Idp(IdpError::TokenEndpoint(c)) if c == "invalid_grant"),
        "{err}"
    );
}

// ---- keys ----

#[tokio::test]
async fn unknown_kid_refreshes_keys_after_rotation() {
    let h = Harness::new().await;
    signed_in(h.login("dave@acme.test").await);
    assert_eq!(h.provider().request_counts().jwks, 1);
    h.provider().rotate_keys();
    // Within the rate limit the new key is not fetched yet.
    assert!(matches!(
        token_error(h.login("ann@acme.test").await),
        TokenError::UnknownKey { .. }
    ));
    assert_eq!(
        h.provider().request_counts().jwks,
        1,
        "refresh is rate-limited"
    );
    h.advance(Duration::from_secs(301));
    signed_in(h.login("dave@acme.test").await);
    assert_eq!(
        h.provider().request_counts().jwks,
        2,
        "one refresh on the unknown kid"
    );
}

#[tokio::test]
async fn provider_down_with_cached_keys_still_signs_in() {
    let h = Harness::new().await;
    signed_in(h.login("dave@acme.test").await);
    h.provider().set_fault(Fault::JwksDown, true);
    // Keys are a day old: a refresh is due and fails; the last good keys are used.
    h.advance(Duration::from_secs(25 * 3600));
    signed_in(h.login("dave@acme.test").await);
    assert!(
        h.provider().request_counts().jwks >= 2,
        "a refresh was attempted"
    );
}

#[tokio::test]
async fn unknown_kid_with_jwks_down_is_refused_not_panicking() {
    let h = Harness::new().await;
    h.provider().set_fault(Fault::UnknownKid, true);
    assert!(matches!(
        token_error(h.login("dave@acme.test").await),
        TokenError::UnknownKey { .. }
    ));
}

#[tokio::test]
async fn discovery_down_is_a_typed_error() {
    let h = Harness::new().await;
    h.provider().set_fault(Fault::DiscoveryDown, true);
    let err = h.begin_with("dave@acme.test", None).await.err().unwrap();
    assert!(
        matches!(err.kind(), ErrorKind::Idp(IdpError::Discovery(_))),
        "{err}"
    );
    assert_eq!(err.status(), 502);
}

#[tokio::test]
async fn thin_id_token_is_completed_from_userinfo() {
    let h = Harness::with(Options {
        userinfo: true,
        ..Options::default()
    })
    .await;
    h.provider().set_fault(Fault::ThinIdToken, true);
    let s = signed_in(h.login("dave@acme.test").await);
    assert_eq!(s.user.email, "dave@acme.test");
}

// ---- begin ----

#[tokio::test]
async fn open_redirects_are_refused() {
    let h = Harness::new().await;
    for bad in [
        "//evil",
        "https://evil",
        "/\\evil",
        "//evil.example/x",
        "javascript:alert(1)",
    ] {
        let err = h
            .begin_with("dave@acme.test", Some(bad))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err.kind(), ErrorKind::BadRequest(BadRequest::OpenRedirect)),
            "{bad}: {err}"
        );
    }
    assert_eq!(h.puts(), 0, "nothing stored");
    let started = h
        .begin_with("dave@acme.test", Some("/reports?q=1"))
        .await
        .unwrap();
    let q = h.idp_sign_in(&started, "dave@acme.test");
    assert_eq!(
        signed_in(h.sso.complete_login(&q, Some(&started.cookie)).await).return_to,
        "/reports?q=1"
    );
}

#[tokio::test]
async fn discovery_routes_only_verified_domains() {
    let h = Harness::new().await;
    for (email, want) in [
        ("ann@gmail.com", BadRequest::ConsumerDomain),
        ("ann@unknown.test", BadRequest::NoConnection),
        ("not-an-email", BadRequest::InvalidEmail),
        ("ann@globex.test", BadRequest::NoConnection),
    ] {
        let err = h.begin_with(email, None).await.err().unwrap();
        match err.kind() {
            ErrorKind::BadRequest(b) => assert_eq!(b, &want, "{email}"),
            other => panic!("{email}: {other:?}"),
        }
    }
    assert_eq!(h.puts(), 0);
}

#[tokio::test]
async fn malformed_callbacks_are_typed_errors_and_change_nothing() {
    let h = Harness::new().await;
    let started = h.begin("dave@acme.test").await;
    let puts = h.puts();
    let long = format!("state={}", "s".repeat(20_000));
    let cases = [
        "",
        "state=",
        "code=x",
        "state=a&state=b",
        "%%%%",
        "state=%ZZ&code=%",
        &long,
        "state=\u{0}&code=\u{ffff}",
        "error=access_denied",
    ];
    for q in cases {
        let err = h
            .sso
            .complete_login(q, Some(&started.cookie))
            .await
            .unwrap_err();
        assert!((400..500).contains(&err.status()), "{q:?}: {err}");
    }
    assert_eq!(h.puts(), puts, "nothing was stored");
    assert_eq!(h.users.users().len(), 5);
    let q = h.idp_sign_in(&started, "dave@acme.test");
    signed_in(h.sso.complete_login(&q, Some(&started.cookie)).await);
}

#[tokio::test]
async fn errors_never_echo_secrets() {
    let h = Harness::new().await;
    h.provider().set_fault(Fault::BadSignature, true);
    let started = h.begin("dave@acme.test").await;
    let q = h.idp_sign_in(&started, "dave@acme.test");
    let code = url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let err = h
        .sso
        .complete_login(&q, Some(&started.cookie))
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains(&code) && !shown.contains(&started.cookie) && !shown.contains("app-secret"),
        "{shown}"
    );
}

#[tokio::test]
async fn every_outcome_has_a_trace_id_in_its_events() {
    let h = Harness::new().await;
    let s = signed_in(h.login("dave@acme.test").await);
    let events = h.events.all();
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::SignedIn && e.trace_id == s.trace_id)
    );
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::LoginStarted && e.trace_id == s.trace_id)
    );
    let d = h.login("bob@acme.test").await.unwrap();
    assert!(
        h.events
            .all()
            .iter()
            .any(|e| e.kind == EventKind::Denied && &e.trace_id == d.trace_id())
    );
}

#[tokio::test]
async fn link_choice_outcome_reports_validity() {
    let h = Harness::new().await;
    let started = h.begin("ann@acme.test").await;
    let q = h.idp_sign_in(&started, "ann@acme.test");
    let Ok(Outcome::LinkOffered(offer)) = h.sso.complete_login(&q, Some(&started.cookie)).await
    else {
        panic!()
    };
    let c = h
        .sso
        .choose(
            offer.offer.expose(),
            Some(&started.cookie),
            LinkChoice::Link,
        )
        .await
        .unwrap();
    assert!(matches!(
        c,
        ChoiceOutcome::LinkMailed {
            valid_for_secs: 300,
            ..
        }
    ));
    // The offer is single use.
    let err = h
        .sso
        .choose(
            offer.offer.expose(),
            Some(&started.cookie),
            LinkChoice::Link,
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err.kind(),
        ErrorKind::Flow(FlowError::UnknownOffer)
    ));
}
