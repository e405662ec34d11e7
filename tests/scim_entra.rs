//! Microsoft Entra ID's provisioning service: the request sequence and the
//! payloads of its documentation ("Tutorial: Develop and plan provisioning
//! for a SCIM endpoint", "Known issues and resolutions with SCIM 2.0
//! protocol compliance"), in both the default and the `aadOptscim062020`
//! modes, and each Entra quirk.
#![cfg(feature = "scim")]

mod scim_support;

use scim_support::*;
use serde_json::json;
use ssokit::scim::RevokeReason;

#[tokio::test]
async fn documented_user_lifecycle() {
    let h = Harness::new().await;

    // Test Connection: a filter on a random GUID answers 200 with an empty list.
    let r = h
        .get("/Users?filter=userName+eq+%22ecc5a8a6-f93f-4a6a-9b0d-4b5b6a3bd1c7%22")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));

    // "Get User by query – Zero results".
    let r = h
        .get(&format!(
            "/Users?filter={}",
            enc(r#"userName eq "non-existent user""#)
        ))
        .await;
    assert_eq!(r.body["totalResults"], 0);

    // "Create User" (the documented request, with roles: [] and meta).
    let create = json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": true,
        "emails": [{
            "primary": true,
            "type": "work",
            "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
        }],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    });
    let r = h.post("/Users", create).await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let id = r.id();
    assert_eq!(r.body["externalId"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
    assert_eq!(
        r.body["emails"][0]["value"],
        "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
    );
    assert!(r.body.get("roles").is_none());

    // "Get User by query" on the matching attribute.
    let r = h
        .get(&format!(
            "/Users?filter={}",
            enc(r#"userName eq "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1""#)
        ))
        .await;
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["id"], id);
    // Other matching attributes Entra can be configured with.
    let r = h
        .get(&format!(
            "/Users?filter={}",
            enc(r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#)
        ))
        .await;
    assert_eq!(r.body["totalResults"], 1);
    let r = h
        .get(&format!("/Users?filter={}", enc(r#"emails[type eq "work"].value eq "test_user_fd0ea19b-0777-472c-9f96-4f70d2226f2e@TESTUSER.com""#)))
        .await;
    assert_eq!(r.body["totalResults"], 1);

    // "Get User" by id.
    assert_eq!(
        h.get(&format!("/Users/{id}")).await.body["userName"],
        "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
    );

    // "Update User [Multi-valued properties]" with capitalised ops.
    let r = h
        .patch(&format!("/Users/{id}"), json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
            ]
        }))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(r.body["emails"][0]["primary"], true);
    assert_eq!(r.body["name"]["familyName"], "updatedFamilyName");
    assert_eq!(r.body["name"]["givenName"], "givenName");

    // "Update User [Single-valued properties]".
    let r = h
        .patch(&format!("/Users/{id}"), json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]
        }))
        .await;
    assert_eq!(
        r.body["userName"],
        "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    );

    // "Disable User" (the documented body lists Operations first).
    let r = h
        .patch(
            &format!("/Users/{id}"),
            json!({
                "Operations": [{"op": "Replace", "path": "active", "value": false}],
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]
            }),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["active"], false);
    assert_eq!(
        h.revoker.calls(),
        [(
            acme(),
            ssokit::UserId::new(id.clone()),
            RevokeReason::Deactivated
        )]
    );
    // A disabled user is still returned by GET and by filters (soft delete).
    assert_eq!(h.get(&format!("/Users/{id}")).await.body["active"], false);
    assert_eq!(
        h.get(&format!("/Users?filter={}", enc("active eq false")))
            .await
            .body["totalResults"],
        1
    );

    // Re-enable, then "Delete User" (hard delete).
    let r = h
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "Replace", "path": "active", "value": "True"}]),
        )
        .await;
    assert_eq!(r.body["active"], true);
    assert_eq!(h.delete(&format!("/Users/{id}")).await.status, 204);
    assert_eq!(h.revoker.calls().last().unwrap().2, RevokeReason::Deleted);
    h.get(&format!("/Users/{id}")).await.assert_error(404, None);
}

#[tokio::test]
async fn documented_group_lifecycle() {
    let h = Harness::new().await;
    let u1 = h.user("u1@contoso.test").await;
    let u2 = h.user("u2@contoso.test").await;

    // "Get Group by displayName" before creating it.
    let q = format!(
        "/Groups?excludedAttributes=members&filter={}",
        enc(r#"displayName eq "displayName""#)
    );
    assert_eq!(h.get(&q).await.body["totalResults"], 0);

    // "Create Group": an extra Microsoft schema URI and meta are tolerated; created empty.
    let r = h
        .post("/Groups", json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"}
        }))
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let g = r.id();
    assert_eq!(r.body["schemas"], json!([GROUP]));
    assert_eq!(r.body["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");

    let r = h.get(&q).await;
    assert_eq!(r.body["totalResults"], 1);
    assert!(r.body["Resources"][0].get("members").is_none());
    // "Get Group" with excludedAttributes=members.
    let r = h
        .get(&format!("/Groups/{g}?excludedAttributes=members"))
        .await;
    assert_eq!(r.body["displayName"], "displayName");

    // "Update Group [Non-member attributes]".
    let r = h
        .patch_ops(&format!("/Groups/{g}"), json!([{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]))
        .await;
    assert_eq!(r.status, 204);

    // "Update Group [Add Members]": `$ref: null`, several members in one PATCH.
    let r = h
        .patch_ops(&format!("/Groups/{g}"), json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": u1}, {"$ref": null, "value": u2}]}]))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(h.members(&g), sorted(vec![u1.clone(), u2.clone()]));

    // "Update Group [Remove Members]": a value list removes those members, not all.
    let r = h
        .patch_ops(
            &format!("/Groups/{g}"),
            json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": u1}]}]),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(h.members(&g), std::slice::from_ref(&u2));

    // aadOptscim062020: member removal by value filter, lower-case op.
    let r = h
        .patch_ops(
            &format!("/Groups/{g}?aadOptscim062020"),
            json!([{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}]),
        )
        .await;
    assert_eq!(r.status, 204);
    assert!(h.members(&g).is_empty());

    let r = h.get(&format!("/Groups/{g}")).await;
    assert_eq!(
        r.body["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    // "Delete Group".
    assert_eq!(h.delete(&format!("/Groups/{g}")).await.status, 204);
    h.get(&format!("/Groups/{g}")).await.assert_error(404, None);
}

#[tokio::test]
async fn flagged_mode_pathless_replace_with_dotted_keys() {
    // With ?aadOptscim062020, several attributes arrive in one path-less replace.
    let h = Harness::new().await;
    let id = h.user("flag@contoso.test").await;
    let r = h
        .patch(&format!("/Users/{id}?aadOptscim062020"), json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "replace", "value": {
                    "displayName": "Pvlo",
                    "name.givenName": "Gtfd",
                    "name.familyName": "Pkqf",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Nmbr",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "mgr-id"
                }},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
                {"op": "replace", "path": "active", "value": false}
            ]
        }))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["displayName"], "Pvlo");
    assert_eq!(
        r.body["name"],
        json!({"givenName": "Gtfd", "familyName": "Pkqf"})
    );
    assert_eq!(r.body[ENTERPRISE]["employeeNumber"], "Nmbr");
    assert_eq!(r.body[ENTERPRISE]["manager"], json!({"value": "mgr-id"}));
    assert_eq!(
        r.body["emails"],
        json!([{"type": "work", "value": "TestBcwqnm@test.microsoft.com"}])
    );
    assert_eq!(r.body["active"], false);
    assert_eq!(h.revoker.calls().len(), 1);
}

#[tokio::test]
async fn quirk_value_path_creates_the_typed_value() {
    let h = Harness::new().await;
    let id = h.user("typed@contoso.test").await;
    let p = format!("/Users/{id}");
    // Add and Replace on an absent typed element create it (addresses and phones too).
    let r = h
        .patch_ops(&p, json!([
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "w@contoso.test"},
            {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
            {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
            {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Redmond"}
        ]))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(
        r.body["emails"],
        json!([{"type": "work", "value": "w@contoso.test"}])
    );
    assert_eq!(
        r.body["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
    assert_eq!(
        r.body["addresses"],
        json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Redmond"}])
    );
    // The second write to the same typed element updates it, not a duplicate.
    let r = h.patch_ops(&p, json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w2@contoso.test"}])).await;
    assert_eq!(
        r.body["emails"],
        json!([{"type": "work", "value": "w2@contoso.test"}])
    );
}

#[tokio::test]
async fn quirk_string_booleans_everywhere() {
    let h = Harness::new().await;
    let r = h
        .post(
            "/Users",
            json!({
                "userName": "bools@contoso.test", "active": "True",
                "emails": [{"value": "b@contoso.test", "type": "work", "primary": "True"}],
                "addresses": null, "title": null
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["emails"][0]["primary"], true);
    assert!(r.body.get("addresses").is_none());
    let id = r.id();
    for (v, want) in [("False", false), ("TRUE", true), ("false", false)] {
        let r = h
            .patch_ops(
                &format!("/Users/{id}"),
                json!([{"op": "Replace", "path": "active", "value": v}]),
            )
            .await;
        assert_eq!(r.body["active"], want);
    }
}

#[tokio::test]
async fn quirk_manager_shapes() {
    let h = Harness::new().await;
    let boss = h.user("boss@contoso.test").await;
    // POST with manager as a plain string.
    let r = h
        .post(
            "/Users",
            json!({"userName": "emp@contoso.test", ENTERPRISE: {"manager": boss}}),
        )
        .await;
    assert_eq!(
        r.body[ENTERPRISE]["manager"],
        json!({"value": boss}),
        "returned as an object"
    );
    let id = r.id();
    // PATCH Add with a string, with a one-element array, then remove by filter on the single complex attribute.
    let mp = format!("{ENTERPRISE}:manager");
    let r = h
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "Add", "path": mp, "value": "other-boss"}]),
        )
        .await;
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], "other-boss");
    let r = h
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "Replace", "path": mp, "value": [{"$ref": null, "value": boss}]}]),
        )
        .await;
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], boss);
    let r = h
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "remove", "path": format!("{mp}[value eq \"{boss}\"]")}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert!(r.body.get(ENTERPRISE).is_none());
}

#[tokio::test]
async fn requests_without_scim_content_type_and_empty_operations() {
    let h = Harness::new().await;
    let req = http::Request::post("/Users")
        .header("authorization", format!("Bearer {}", h.token))
        .header("content-type", "application/json")
        .body(br#"{"userName":"plainjson@contoso.test"}"#.to_vec())
        .unwrap();
    let r = h.raw(req).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.headers["content-type"], "application/scim+json");
    // Microsoft's validator sends a PATCH with no operations: a no-op.
    let r = h
        .patch(
            &format!("/Users/{}", r.id()),
            json!({"schemas": [PATCH_OP], "Operations": []}),
        )
        .await;
    assert_eq!(r.status, 200);
}
