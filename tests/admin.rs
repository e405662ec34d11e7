//! Administration: activation links, the duplicate-e-mail audit, migration
//! hygiene, phased rollout, enforcement, clearing links, admin events.

mod common;

use std::time::Duration;

use common::{CONNECTION, Harness, Options};
use ssokit::admin::UserFilter;
use ssokit::error::{ActivationError, ErrorKind, LinkError};
use ssokit::flow::{Begin, Outcome, SignInKind};
use ssokit::hooks::{EventKind, MailKind};
use ssokit::policy::DenyReason;
use ssokit::{ConnectionId, Error, IdentityKey, TenantId, UserId};
use url::Url;

fn acme() -> TenantId {
    "acme".into()
}

fn conn() -> ConnectionId {
    CONNECTION.into()
}

fn user_id(h: &Harness, email: &str) -> UserId {
    h.users
        .users()
        .into_iter()
        .find(|u| u.email == email)
        .unwrap()
        .id
}

fn activation_token(h: &Harness) -> String {
    let mail = h.mailer.last().unwrap();
    assert_eq!(mail.kind, MailKind::Activation);
    let link = Url::parse(mail.link.expose()).unwrap();
    link.query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned()
}

/// Follows an activation link and signs in at the IdP as `login`.
async fn activate(h: &Harness, token: &str, login: &str) -> Result<Outcome, Error> {
    let begin = h.sso.begin_activation(token, None).await?;
    let Begin::Redirect(r) = begin else {
        panic!("{begin:?}")
    };
    let cb = h.provider().sign_in(&r.url, login).unwrap();
    h.sso
        .complete_login(cb.query().unwrap(), Some(r.flow_cookie.expose()))
        .await
}

fn activation_error(r: Result<Outcome, Error>) -> ActivationError {
    match r {
        Err(e) => match e.kind() {
            ErrorKind::Activation(a) => a.clone(),
            other => panic!("{other:?}"),
        },
        Ok(o) => panic!("expected an activation error, got {o:?}"),
    }
}

#[tokio::test]
async fn batch_reset_of_1000_users_mails_each_active_user_once() {
    let h = Harness::new().await;
    for i in 0..1000 {
        h.users
            .add_user("acme", &format!("user{i}@acme.test"), None, i % 10 != 0);
    }
    let before = h.mailer.sent().len();
    let report = h
        .sso
        .send_activation_filtered(&acme(), &conn(), &UserFilter::all())
        .await
        .unwrap();
    // 1000 new users (100 inactive) plus the harness's 4 acme users (Carol inactive).
    assert_eq!(report.sent.len(), 900 + 3);
    assert_eq!(report.inactive.len(), 100 + 1);
    let mails = &h.mailer.sent()[before..];
    assert_eq!(
        mails.len(),
        report.sent.len(),
        "exactly one mail per active user"
    );
    let mut recipients: Vec<_> = mails.iter().map(|m| m.to.clone()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), mails.len());
    assert!(
        mails.iter().all(|m| m.to != "user0@acme.test"),
        "inactive users get nothing"
    );
    let sent_events = h
        .events
        .kinds()
        .into_iter()
        .filter(|k| *k == EventKind::ActivationSent)
        .count();
    assert_eq!(sent_events, report.sent.len());
}

#[tokio::test]
async fn activation_links_the_identity_whatever_its_email_says() {
    let h = Harness::new().await;
    let ann = user_id(&h, "ann@acme.test");
    let report = h
        .sso
        .send_activation(&acme(), &conn(), &[ann.clone(), UserId::new("nope")])
        .await
        .unwrap();
    assert_eq!(report.sent, vec![ann.clone()]);
    assert_eq!(report.not_found, vec![UserId::new("nope")]);
    let token = activation_token(&h);
    // Ann signs in at the IdP as an identity with another address.
    let o = activate(&h, &token, "dave@acme.test").await.unwrap();
    let Outcome::SignedIn(s) = o else {
        panic!("{o:?}")
    };
    assert_eq!(s.kind, SignInKind::Activated);
    assert_eq!(s.user.id, ann);
    assert_eq!(h.users.identities_of(&ann).len(), 1);
    // The identity now signs in directly; the link is single use.
    let again = h.login("dave@acme.test").await.unwrap();
    assert!(
        matches!(again, Outcome::SignedIn(ref s) if s.user.id == ann && s.kind == SignInKind::Linked)
    );
    assert_eq!(
        activation_error(activate(&h, &token, "dave@acme.test").await),
        ActivationError::Invalid
    );
    assert!(h.events.kinds().contains(&EventKind::ActivationCompleted));
}

#[tokio::test]
async fn expired_activation_link_is_refused() {
    let h = Harness::new().await;
    let ann = user_id(&h, "ann@acme.test");
    h.sso
        .send_activation(&acme(), &conn(), std::slice::from_ref(&ann))
        .await
        .unwrap();
    let token = activation_token(&h);
    h.clock.advance(Duration::from_secs(7 * 24 * 3600 + 1));
    assert_eq!(
        activation_error(activate(&h, &token, "ann@acme.test").await),
        ActivationError::Expired
    );
    assert!(h.users.identities_of(&ann).is_empty());
}

#[tokio::test]
async fn superseded_activation_link_is_refused() {
    let h = Harness::new().await;
    let ann = user_id(&h, "ann@acme.test");
    h.sso
        .send_activation(&acme(), &conn(), std::slice::from_ref(&ann))
        .await
        .unwrap();
    let first = activation_token(&h);
    h.sso
        .send_activation(&acme(), &conn(), std::slice::from_ref(&ann))
        .await
        .unwrap();
    let second = activation_token(&h);
    assert_eq!(
        activation_error(activate(&h, &first, "ann@acme.test").await),
        ActivationError::Superseded
    );
    // Superseded also when the old link was opened before the resend.
    let Outcome::SignedIn(s) = activate(&h, &second, "ann@acme.test").await.unwrap() else {
        panic!()
    };
    assert_eq!(s.user.id, ann);
}

#[tokio::test]
async fn activation_with_an_identity_from_another_tenant_or_connection_is_refused() {
    let h = Harness::new().await;
    let ann = user_id(&h, "ann@acme.test");
    // A connection of another tenant cannot activate acme's users.
    let globex_ann = h
        .users
        .users()
        .into_iter()
        .find(|u| u.tenant.as_str() == "globex")
        .unwrap()
        .id;
    let err = h
        .sso
        .send_activation(&"globex".into(), &conn(), &[globex_ann])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Activation(ActivationError::NotApplicable)
        ),
        "{err}"
    );
    // An identity whose verified address is in another organisation's domain is refused.
    h.sso
        .send_activation(&acme(), &conn(), std::slice::from_ref(&ann))
        .await
        .unwrap();
    let token = activation_token(&h);
    let o = activate(&h, &token, "mallory@evil.test").await.unwrap();
    assert!(
        matches!(o, Outcome::Denied(ref d) if d.reason == DenyReason::EmailDomainNotOwned),
        "{o:?}"
    );
    assert!(h.users.identities_of(&ann).is_empty());
    // An identity already linked to someone else is not moved.
    let dave = match h.login("dave@acme.test").await.unwrap() {
        Outcome::SignedIn(s) => s.user.id,
        o => panic!("{o:?}"),
    };
    h.sso
        .send_activation(&acme(), &conn(), std::slice::from_ref(&ann))
        .await
        .unwrap();
    let token = activation_token(&h);
    let err = activate(&h, &token, "dave@acme.test").await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Link(LinkError::IdentityLinkedElsewhere)
        ),
        "{err}"
    );
    assert!(h.users.identities_of(&ann).is_empty());
    assert_eq!(h.users.identities_of(&dave).len(), 1);
}

#[tokio::test]
async fn duplicate_email_audit_finds_case_space_unicode_and_deleted_collisions() {
    let h = Harness::new().await;
    h.users
        .add_user("acme", "Ann@Acme.test ", Some("Ann again"), true);
    let gone = h
        .users
        .add_user("acme", "carol@acme.test", Some("Carol (deleted)"), true);
    h.users.delete_user(&gone.id);
    h.users
        .add_user("acme", "re\u{301}my@acme.test", None, true);
    h.users.add_user("acme", "R\u{e9}my@acme.test", None, false);
    // Enough unique users to cross the directory's page boundaries.
    for i in 0..2500 {
        h.users
            .add_user("acme", &format!("solo{i:04}@acme.test"), None, true);
    }
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = h
            .sso
            .duplicate_emails(&acme(), cursor.as_deref(), 1)
            .await
            .unwrap();
        pages += 1;
        all.extend(page.groups);
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let keys: Vec<_> = all.iter().map(|g| g.email_key.as_str()).collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(keys.contains(&"ann@acme.test"));
    assert!(keys.contains(&"bob@acme.test"));
    assert!(
        keys.contains(&"carol@acme.test"),
        "a deleted user's collision is reported"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with("r") && k.ends_with("my@acme.test"))
    );
    let carol = all
        .iter()
        .find(|g| g.email_key == "carol@acme.test")
        .unwrap();
    assert!(carol.users.iter().any(|r| r.deleted));
    assert!(pages >= 4, "one group per page: {pages}");
    // Other tenants are not mixed in.
    assert!(
        all.iter()
            .all(|g| g.users.iter().all(|r| r.user.tenant.as_str() == "acme"))
    );
}

#[tokio::test]
async fn phased_rollout_admits_the_pilot_group_only() {
    let h = Harness::with(Options {
        extra: serde_json::json!({"rollout": {"groups": ["pilot"]}}),
        ..Options::default()
    })
    .await;
    let o = h.login("pia@acme.test").await.unwrap();
    assert!(matches!(o, Outcome::SignedIn(_)), "{o:?}");
    let o = h.login("dave@acme.test").await.unwrap();
    assert!(
        matches!(o, Outcome::Denied(ref d) if d.reason == DenyReason::NotInRollout),
        "{o:?}"
    );
    assert_eq!(
        h.users.users().len(),
        6,
        "nobody outside the pilot was created"
    );
    // By host role too: Ann gets the pilot role.
    let h = Harness::with(Options {
        extra: serde_json::json!({"rollout": {"roles": ["pilot"]}}),
        ..Options::default()
    })
    .await;
    let ann = user_id(&h, "ann@acme.test");
    h.users.link(
        &ann,
        IdentityKey {
            connection: conn(),
            subject: "dev|ann@acme.test".into(),
        },
    );
    assert!(
        matches!(h.login("ann@acme.test").await.unwrap(), Outcome::Denied(ref d) if d.reason == DenyReason::NotInRollout)
    );
    h.users.set_role(&ann, "pilot");
    assert!(matches!(
        h.login("ann@acme.test").await.unwrap(),
        Outcome::SignedIn(_)
    ));
}

#[tokio::test]
async fn enforced_connection_refuses_password_login_for_the_tenants_domains() {
    let h = Harness::new().await;
    assert!(h.sso.password_login_allowed("ann@acme.test").await.unwrap());
    let h = Harness::with(Options {
        extra: serde_json::json!({"enforced": true}),
        ..Options::default()
    })
    .await;
    assert!(!h.sso.password_login_allowed("ann@acme.test").await.unwrap());
    assert!(
        !h.sso
            .password_login_allowed("Someone@ACME.test")
            .await
            .unwrap()
    );
    assert!(
        h.sso
            .password_login_allowed("ann@globex.test")
            .await
            .unwrap()
    );
    assert!(h.sso.password_login_allowed("ann@gmail.com").await.unwrap());
}

#[tokio::test]
async fn a_cleared_link_no_longer_signs_in() {
    let h = Harness::new().await;
    let Outcome::SignedIn(s) = h.login("dave@acme.test").await.unwrap() else {
        panic!()
    };
    let identity = s.identity.clone();
    assert!(
        h.sso
            .clear_link(&acme(), &s.user.id, &identity, "mismatched e-mail")
            .await
            .unwrap()
    );
    assert!(h.events.kinds().contains(&EventKind::LinkCleared));
    // The same identity now needs the normal proof again.
    let o = h.login("dave@acme.test").await.unwrap();
    assert!(matches!(o, Outcome::LinkOffered(_)), "{o:?}");
    assert!(
        !h.sso
            .clear_link(&acme(), &s.user.id, &identity, "again")
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn hygiene_reports_and_bulk_disable() {
    let h = Harness::new().await;
    let start = ssokit::clock::Clock::now(&h.clock);
    let Outcome::SignedIn(dave) = h.login("dave@acme.test").await.unwrap() else {
        panic!()
    };
    let never = h
        .sso
        .users_without_sso_since(&acme(), start, None, 100)
        .await
        .unwrap();
    let emails: Vec<_> = never.items.iter().map(|r| r.user.email.as_str()).collect();
    assert!(
        emails.contains(&"ann@acme.test") && !emails.contains(&"dave@acme.test"),
        "{emails:?}"
    );
    let ann = user_id(&h, "ann@acme.test");
    h.users.mark_deprovisioned(&ann);
    let gone = h.sso.deprovisioned_users(&acme(), None, 100).await.unwrap();
    assert_eq!(
        gone.items
            .iter()
            .map(|r| r.user.id.clone())
            .collect::<Vec<_>>(),
        vec![ann.clone()]
    );
    let disabled = h
        .sso
        .bulk_disable(
            &acme(),
            &[ann.clone(), dave.user.id.clone(), "u999".into()],
            "legacy",
        )
        .await
        .unwrap();
    assert_eq!(disabled.len(), 2);
    let events = h
        .events
        .kinds()
        .into_iter()
        .filter(|k| *k == EventKind::UserDisabled)
        .count();
    assert_eq!(events, 2, "an event per user");
    let o = h.login("dave@acme.test").await.unwrap();
    assert!(
        matches!(o, Outcome::Denied(ref d) if d.reason == DenyReason::UserInactive),
        "{o:?}"
    );
}
