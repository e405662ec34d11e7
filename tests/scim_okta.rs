//! Okta: the SCIM 2.0 SPEC test requests (R1–R12 of Okta's Runscope suite)
//! and Okta's provisioning payloads and quirks; JumpCloud's and OneLogin's
//! PUT-style updates.
#![cfg(feature = "scim")]

mod scim_support;

use scim_support::*;
use serde_json::{Value, json};
use ssokit::scim::RevokeReason;

fn okta_user(user_name: &str) -> Value {
    // Okta's documented "Create the user" request: externalId is the Okta id,
    // and it carries a password and `groups: []`.
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

#[tokio::test]
async fn okta_spec_test_r1_to_r12() {
    let h = Harness::new().await;
    // Seed one user (the suite requires it).
    let seeded = h.post("/Users", okta_user("seed.user@okta.local")).await;
    assert_eq!(seeded.status, 201);

    // R1: GET /Users?count=1&startIndex=1.
    let r1 = h.get("/Users?count=1&startIndex=1").await;
    assert_eq!(r1.status, 200);
    assert_eq!(r1.body["schemas"], json!([LIST]));
    assert!(
        r1.body["itemsPerPage"].is_u64()
            && r1.body["startIndex"].is_u64()
            && r1.body["totalResults"].is_u64()
    );
    let u = &r1.body["Resources"][0];
    for f in ["id", "userName", "active"] {
        assert!(u.get(f).is_some(), "{f}");
    }
    assert!(u["name"]["familyName"].is_string() && u["name"]["givenName"].is_string());
    assert!(u["emails"][0]["value"].is_string());
    // R2: GET the user of R1.
    let id = u["id"].as_str().unwrap();
    let r2 = h.get(&format!("/Users/{id}")).await;
    assert_eq!(r2.body["id"], id);
    assert_eq!(r2.body["userName"], "seed.user@okta.local");
    // R3 / R5: a random userName does not exist: 200 and totalResults 0.
    for _ in 0..2 {
        let r = h
            .get(&format!(
                "/Users?filter={}&startIndex=1&count=100",
                enc(r#"userName eq "xGm2bQ7p@example.com""#)
            ))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["totalResults"], 0);
    }
    // R4: a nonexistent id.
    h.get("/Users/010101010101010")
        .await
        .assert_error(404, None);
    // R6: create a realistic user.
    let r6 = h.post("/Users", okta_user("test.user@okta.local")).await;
    assert_eq!(r6.status, 201);
    assert_eq!(r6.body["active"], true);
    assert_eq!(r6.body["userName"], "test.user@okta.local");
    assert_eq!(r6.body["name"]["familyName"], "User");
    assert_eq!(r6.body["schemas"][0], USER);
    assert!(
        r6.body.get("password").is_none(),
        "the password is never returned"
    );
    assert!(r6.body.get("groups").is_none());
    // R7: GET it back.
    let r7 = h.get(&format!("/Users/{}", r6.id())).await;
    assert_eq!(r7.body["userName"], "test.user@okta.local");
    assert_eq!(r7.body["displayName"], "Test User");
    // R8: the same user again: 409.
    h.post("/Users", okta_user("test.user@okta.local"))
        .await
        .assert_error(409, Some("uniqueness"));
    // R9: the upper-cased userName finds the user (userName is caseExact=false).
    let r9 = h
        .get(&format!(
            "/Users?filter={}",
            enc(r#"userName eq "TEST.USER@OKTA.LOCAL""#)
        ))
        .await;
    assert_eq!(r9.status, 200);
    assert_eq!(r9.body["totalResults"], 1);
    // R10: GET /Groups.
    assert_eq!(h.get("/Groups").await.status, 200);
    // R11: a bad token: 401 with an Error body.
    let r11 = h
        .send_as(Some("not-a-valid-token"), "GET", "/Users", None)
        .await;
    r11.assert_error(401, None);
    assert_eq!(r11.headers["www-authenticate"], "Bearer realm=\"SCIM\"");
    // R12: a random id: 404 with status "404".
    let r12 = h.get("/Users/00000000-0000-4000-8000-000000000000").await;
    r12.assert_error(404, None);
}

#[tokio::test]
async fn okta_profile_update_by_put_ignores_password_and_groups() {
    let h = Harness::new().await;
    let u = h.user("member@okta.local").await;
    let g = h.group("Engineering").await;
    h.patch_ops(&format!("/Groups/{g}"), json!([{"op": "add", "path": "members", "value": [{"value": u, "display": "member@okta.local"}]}])).await;

    let mut body = okta_user("member@okta.local");
    body["id"] = json!(u);
    body["name"]["givenName"] = json!("Renamed");
    let r = h.put(&format!("/Users/{u}"), body).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["name"]["givenName"], "Renamed");
    assert!(r.body.get("password").is_none());
    // `groups: []` never removes memberships.
    assert_eq!(h.members(&g), std::slice::from_ref(&u));

    // Okta (AIW apps) deactivates by PUT with active=false: sessions revoked.
    let mut body = okta_user("member@okta.local");
    body["active"] = json!(false);
    let r = h.put(&format!("/Users/{u}"), body).await;
    assert_eq!(r.body["active"], false);
    assert_eq!(
        h.revoker.calls().last().unwrap().2,
        RevokeReason::Deactivated
    );
    // Memberships of inactive users are kept.
    assert_eq!(h.members(&g), std::slice::from_ref(&u));
}

#[tokio::test]
async fn okta_deactivate_and_reactivate_without_path() {
    let h = Harness::new().await;
    let u = h.post("/Users", okta_user("deact@okta.local")).await.id();
    let r = h
        .patch(&format!("/Users/{u}"), json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": false}}]}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["active"], false);
    assert_eq!(h.revoker.calls().len(), 1);
    // Okta password sync by PATCH: the (undeclared) password is ignored, nothing else changes.
    let r = h
        .patch(&format!("/Users/{u}"), json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"password": "newpass1"}}]}))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("password").is_none());
    let r = h
        .patch(&format!("/Users/{u}"), json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": true}}]}))
        .await;
    assert_eq!(r.body["active"], true);
}

#[tokio::test]
async fn okta_group_push() {
    let h = Harness::new().await;
    let (a, b) = (h.user("a@okta.local").await, h.user("b@okta.local").await);
    // Create with an empty members list.
    let r = h
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []}),
        )
        .await;
    assert_eq!(r.status, 201);
    let g = r.id();
    // Rename: a path-less replace carrying the group's (read-only) id.
    let r = h
        .patch_ops(
            &format!("/Groups/{g}"),
            json!([{"op": "replace", "value": {"id": g, "displayName": "Test SCIMv2 renamed"}}]),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        h.get(&format!("/Groups/{g}")).await.body["displayName"],
        "Test SCIMv2 renamed"
    );
    // Membership: add with display, then remove-by-filter + add in one request.
    h.patch_ops(&format!("/Groups/{g}"), json!([{"op": "add", "path": "members", "value": [{"value": a, "display": "a@okta.local"}]}])).await;
    let r = h
        .patch_ops(
            &format!("/Groups/{g}"),
            json!([
                {"op": "replace", "value": {"id": g, "displayName": "Test SCIMv2 renamed"}},
                {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
                {"op": "add", "path": "members", "value": [{"value": b, "display": "b@okta.local"}]}
            ]),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(h.members(&g), std::slice::from_ref(&b));
    let r = h.get(&format!("/Groups/{g}")).await;
    assert_eq!(
        r.body["members"],
        json!([{"value": b, "display": "b@okta.local"}])
    );
    // Import: paging through groups.
    let r = h.get("/Groups?startIndex=1&count=100").await;
    assert_eq!(r.body["totalResults"], 1);
    assert!(r.body["Resources"][0]["members"].is_array());
    // Unlink with delete.
    assert_eq!(h.delete(&format!("/Groups/{g}")).await.status, 204);
}

#[tokio::test]
async fn jumpcloud_and_onelogin_put_the_whole_object() {
    let h = Harness::new().await;
    let boss = h.user("boss@jc.test").await;
    let r = h
        .post("/Users", json!({
            "schemas": [ENTERPRISE, USER],
            "userName": "jc.user@jc.test",
            "externalId": "5f0e3c1d2a",
            "name": {"givenName": "Jay", "familyName": "Cloud"},
            "emails": [{"value": "jc.user@jc.test", "type": "work", "primary": true}],
            "active": true,
            ENTERPRISE: {"employeeNumber": "42", "department": "Ops", "manager": {"value": boss}}
        }))
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let id = r.id();
    // JumpCloud: PUT with id, meta, empty arrays and photos (undeclared).
    let mut full = r.body.clone();
    full["addresses"] = json!([]);
    full["phoneNumbers"] = json!([]);
    full["photos"] = json!([{"value": "https://photos.example/jc.png", "type": "photo"}]);
    full["title"] = json!("Engineer");
    full[ENTERPRISE]["department"] = json!("Platform");
    full["schemas"] = json!([ENTERPRISE, USER]);
    let r = h.put(&format!("/Users/{id}"), full).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["title"], "Engineer");
    assert_eq!(r.body[ENTERPRISE]["department"], "Platform");
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], boss);
    assert!(r.body.get("photos").is_none() && r.body.get("addresses").is_none());
    assert_eq!(r.body["id"], id);
    // OneLogin: PUT with a changed userName; a userName taken by someone else is a 409.
    let mut body = r.body.clone();
    body["userName"] = json!("BOSS@jc.test");
    h.put(&format!("/Users/{id}"), body.clone())
        .await
        .assert_error(409, Some("uniqueness"));
    body["userName"] = json!("jay.cloud@jc.test");
    assert_eq!(
        h.put(&format!("/Users/{id}"), body).await.body["userName"],
        "jay.cloud@jc.test"
    );
    // JumpCloud's Test Connection creates and deletes a test user and group.
    let tu = h.user("jc-test-user@jc.test").await;
    let tg = h.group("jc-test-group").await;
    assert_eq!(h.delete(&format!("/Groups/{tg}")).await.status, 204);
    assert_eq!(h.delete(&format!("/Users/{tu}")).await.status, 204);
}
