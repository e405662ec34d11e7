//! The protocol through the handler: RFC 7644 examples, discovery, CRUD,
//! PATCH semantics, projection, pagination, ETags and error bodies.
#![cfg(feature = "scim")]

mod scim_support;

use scim_support::*;
use serde_json::{Value, json};

fn bjensen() -> Value {
    // RFC 7644 §3.3 example, with the enterprise extension of RFC 7643 §8.3.
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": "bjensen",
        "externalId": "bjensen",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "active": true,
        ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations"}
    })
}

#[tokio::test]
async fn discovery_endpoints() {
    let h = Harness::new().await;
    let spc = h.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["bulk"]["supported"], false);
    assert_eq!(spc.body["filter"]["supported"], true);
    assert_eq!(spc.body["etag"]["supported"], true);
    assert_eq!(spc.body["changePassword"]["supported"], false);
    assert_eq!(
        spc.body["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );

    let rts = h.get("/ResourceTypes").await;
    assert_eq!(rts.body["totalResults"], 2);
    assert_eq!(rts.body["Resources"][0]["id"], "User");
    assert_eq!(
        rts.body["Resources"][0]["schemaExtensions"][0]["schema"],
        ENTERPRISE
    );
    assert_eq!(
        h.get("/ResourceTypes/Group").await.body["endpoint"],
        "/Groups"
    );
    h.get("/ResourceTypes/Nope").await.assert_error(404, None);

    let schemas = h.get("/Schemas").await;
    let ids: Vec<&str> = schemas.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [USER, ENTERPRISE, GROUP]);
    let user = h.get(&format!("/Schemas/{USER}")).await;
    let attrs: Vec<&str> = user.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    // Exactly what the standard declaration stores: no password, no x509, no groups.
    assert_eq!(
        attrs,
        [
            "userName",
            "name",
            "displayName",
            "nickName",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "emails",
            "phoneNumbers",
            "addresses"
        ]
    );
    let user_name = &user.body["attributes"][0];
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    assert_eq!(user_name["mutability"], "readWrite");
    assert!(!user.body.to_string().contains("null"), "nulls are omitted");
    h.get("/Schemas/urn:nope").await.assert_error(404, None);

    // Only GET; filters on discovery are forbidden.
    for m in ["POST", "PUT", "PATCH", "DELETE"] {
        for p in [
            "/ServiceProviderConfig",
            "/Schemas",
            "/ResourceTypes",
            &format!("/Schemas/{USER}"),
            "/ResourceTypes/User",
        ] {
            h.send(m, p, Some(&json!({}))).await.assert_error(405, None);
        }
    }
    h.get("/Schemas?filter=id%20pr")
        .await
        .assert_error(403, None);
    // Unknown endpoints are 404 with an Error body; /Me and /Bulk 501.
    h.get("/7a1f3b34-4a8e-4f0b-9c38-2d6c0e4f1f00")
        .await
        .assert_error(404, None);
    h.get("/Me").await.assert_error(501, None);
    h.post("/Bulk", json!({})).await.assert_error(501, None);
    h.send("PATCH", "/Users", Some(&json!({})))
        .await
        .assert_error(405, None);
}

#[tokio::test]
async fn create_get_replace_delete() {
    let h = Harness::new().await;
    let r = h.post("/Users", bjensen()).await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let id = r.id();
    let loc = format!("{BASE}/Users/{id}");
    assert_eq!(r.headers["location"], loc.as_str());
    assert_eq!(r.body["meta"]["location"], loc);
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(r.body["meta"]["created"], "2023-11-14T22:13:20Z");
    assert_eq!(r.body["schemas"], json!([USER, ENTERPRISE]));
    assert_eq!(r.body[ENTERPRISE]["employeeNumber"], "701984");
    assert!(r.headers.contains_key("etag"));
    assert_eq!(
        r.headers["etag"].to_str().unwrap(),
        r.body["meta"]["version"]
    );

    let g = h.get(&format!("/Users/{id}")).await;
    assert_eq!(g.status, 200);
    assert_eq!(g.body["userName"], "bjensen");

    // A client-sent id and meta are ignored.
    let mut other = bjensen();
    other["userName"] = json!("other");
    other["id"] = json!("client-chosen");
    other["meta"] = json!({"resourceType": "User", "created": "1999-01-01T00:00:00Z"});
    let o = h.post("/Users", other).await;
    assert_ne!(o.id(), "client-chosen");

    // PUT replaces: omitted readWrite attributes are cleared, `active` is kept.
    let put = h
        .put(
            &format!("/Users/{id}"),
            json!({"schemas": [USER], "userName": "bjensen", "displayName": "Babs"}),
        )
        .await;
    assert_eq!(put.status, 200, "{:#}", put.body);
    assert_eq!(put.body["displayName"], "Babs");
    assert!(put.body.get("name").is_none());
    assert!(put.body.get(ENTERPRISE).is_none());
    assert_eq!(
        put.body["active"], true,
        "PUT without `active` never deactivates"
    );
    assert_eq!(put.body["schemas"], json!([USER]));
    // PUT never creates.
    h.put("/Users/missing", json!({"userName": "x"}))
        .await
        .assert_error(404, None);
    // PUT without the required userName.
    h.put(&format!("/Users/{id}"), json!({"displayName": "x"}))
        .await
        .assert_error(400, Some("invalidValue"));

    let d = h.delete(&format!("/Users/{id}")).await;
    assert_eq!(d.status, 204);
    h.get(&format!("/Users/{id}")).await.assert_error(404, None);
    h.delete(&format!("/Users/{id}"))
        .await
        .assert_error(404, None);
    h.patch_ops(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": "active", "value": false}]),
    )
    .await
    .assert_error(404, None);
    let list = h.get("/Users?filter=userName%20eq%20%22bjensen%22").await;
    assert_eq!(
        list.body["totalResults"], 0,
        "deleted users are omitted from queries"
    );
    // The userName is free again.
    assert_eq!(h.post("/Users", bjensen()).await.status, 201);
}

#[tokio::test]
async fn post_validation_errors() {
    let h = Harness::new().await;
    h.post(
        "/Users",
        json!({"schemas": [USER], "displayName": "no userName"}),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    h.post("/Users", json!({"userName": "   "}))
        .await
        .assert_error(400, Some("invalidValue"));
    h.post("/Users", json!({"userName": {"not": "a string"}}))
        .await
        .assert_error(400, Some("invalidValue"));
    h.post("/Users", json!({"userName": "a", "active": "maybe"}))
        .await
        .assert_error(400, Some("invalidValue"));
    h.post("/Users", json!({"userName": "a", "emails": [5]}))
        .await
        .assert_error(400, Some("invalidValue"));
    h.post("/Users", json!(["not", "an", "object"]))
        .await
        .assert_error(400, Some("invalidSyntax"));
    for junk in [
        &b"{"[..],
        b"not json",
        b"",
        b"{\"userName\": }",
        b"\xff\xfe",
    ] {
        h.send_as(Some(&h.token), "POST", "/Users", Some(junk.to_vec()))
            .await
            .assert_error(400, Some("invalidSyntax"));
        h.send_as(Some(&h.token), "PATCH", "/Users/x", Some(junk.to_vec()))
            .await
            .assert_error(400, Some("invalidSyntax"));
    }
    // Duplicate userName, case-insensitively: 409 uniqueness.
    h.user("Alice").await;
    h.post("/Users", json!({"userName": "ALICE"}))
        .await
        .assert_error(409, Some("uniqueness"));
}

#[tokio::test]
async fn list_pagination_and_projection() {
    let h = Harness::new().await;
    for i in 1..=5 {
        let r = h
            .post("/Users", json!({"userName": format!("user{i}"), "displayName": format!("User {i}"), "title": if i % 2 == 0 { "even" } else { "odd" }}))
            .await;
        assert_eq!(r.status, 201);
    }
    let all = h.get("/Users").await;
    assert_eq!(all.body["schemas"], json!([LIST]));
    assert_eq!(all.body["totalResults"], 5);
    assert_eq!(all.body["itemsPerPage"], 5);
    assert_eq!(all.body["startIndex"], 1);

    let page = h.get("/Users?startIndex=2&count=2").await;
    assert_eq!(page.body["totalResults"], 5);
    assert_eq!(page.body["itemsPerPage"], 2);
    assert_eq!(page.body["startIndex"], 2);
    let names: Vec<&str> = page.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user2", "user3"], "stable order across pages");
    // count=0 only counts; negative count is 0; startIndex < 1 is 1.
    let zero = h.get("/Users?count=0").await;
    assert_eq!(zero.body["totalResults"], 5);
    assert_eq!(zero.body["Resources"], json!([]));
    assert_eq!(h.get("/Users?count=-3").await.body["itemsPerPage"], 0);
    assert_eq!(
        h.get("/Users?startIndex=-1&count=1").await.body["Resources"][0]["userName"],
        "user1"
    );
    h.get("/Users?count=many")
        .await
        .assert_error(400, Some("invalidValue"));
    // Past the end: empty page, true total.
    let past = h.get("/Users?startIndex=10").await;
    assert_eq!(past.body["totalResults"], 5);
    assert_eq!(past.body["Resources"], json!([]));

    // Filter with `+` for spaces (Entra) and an unknown parameter ignored.
    let f = h
        .get("/Users?filter=title+eq+%22even%22&aadOptscim062020")
        .await;
    assert_eq!(f.body["totalResults"], 2);

    // sortBy / sortOrder.
    let desc = h
        .get("/Users?sortBy=userName&sortOrder=descending&count=2")
        .await;
    let names: Vec<&str> = desc.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user5", "user4"]);
    h.get("/Users?sortBy=nope")
        .await
        .assert_error(400, Some("invalidValue"));

    // attributes / excludedAttributes.
    let a = h
        .get("/Users?attributes=userName,name.givenName&count=1")
        .await;
    let u = &a.body["Resources"][0];
    assert_eq!(u["userName"], "user1");
    assert!(u.get("displayName").is_none());
    assert!(u.get("title").is_none());
    assert!(u.get("id").is_some(), "id is returned always");
    let e = h
        .get("/Users?excludedAttributes=displayName,id&count=1")
        .await;
    let u = &e.body["Resources"][0];
    assert!(u.get("displayName").is_none());
    assert!(u.get("id").is_some(), "id cannot be excluded");
    assert_eq!(u["title"], "odd");

    // POST /Users/.search and root /.search.
    let s = h
        .post("/Users/.search", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "title eq \"odd\"", "attributes": ["userName"], "startIndex": 1, "count": 10}))
        .await;
    assert_eq!(s.status, 200, "{:#}", s.body);
    assert_eq!(s.body["totalResults"], 3);
    assert!(s.body["Resources"][0].get("title").is_none());
    h.group("Tour Guides").await;
    let root = h
        .post("/.search", json!({"attributes": ["displayName"]}))
        .await;
    assert_eq!(root.body["totalResults"], 6);
    let root = h
        .post("/.search", json!({"filter": "displayName sw \"tour\""}))
        .await;
    assert_eq!(root.body["totalResults"], 1, "{:#}", root.body);
    let root = h
        .post("/.search", json!({"startIndex": 5, "count": 2}))
        .await;
    assert_eq!(root.body["totalResults"], 6);
    assert_eq!(root.body["Resources"][0]["userName"], "user5");
    assert_eq!(root.body["Resources"][1]["displayName"], "Tour Guides");
}

#[tokio::test]
async fn filter_errors_are_invalid_filter() {
    let h = Harness::new().await;
    for f in [
        r#"userName eq"#,
        r#"nope eq "x""#,
        r#"active gt true"#,
        r#"userName eq "x" and (("#,
        "(((((((((((((((((((a pr)))))))))))))))))))",
    ] {
        h.get(&format!("/Users?filter={}", enc(f)))
            .await
            .assert_error(400, Some("invalidFilter"));
    }
    // Groups have no userName.
    h.get(&format!("/Groups?filter={}", enc(r#"userName eq "x""#)))
        .await
        .assert_error(400, Some("invalidFilter"));
}

#[tokio::test]
async fn rfc_patch_examples_on_groups() {
    let h = Harness::new().await;
    let (u1, u2, u3) = (h.user("u1").await, h.user("u2").await, h.user("u3").await);
    let g = h.group("Tour Guides").await;
    let path = format!("/Groups/{g}");

    // §3.5.2.1: add a member.
    let r = h
        .patch_ops(&path, json!([{"op": "add", "path": "members", "value": [{"display": "Babs Jensen", "$ref": format!("{BASE}/Users/{u1}"), "value": u1}]}]))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(h.members(&g), std::slice::from_ref(&u1));
    // Adding the same member again changes nothing.
    h.patch_ops(
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": u1}]}]),
    )
    .await;
    assert_eq!(h.members(&g), std::slice::from_ref(&u1));
    h.patch_ops(
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": u2}, {"value": u3}]}]),
    )
    .await;
    assert_eq!(
        h.members(&g),
        sorted(vec![u1.clone(), u2.clone(), u3.clone()])
    );

    // §3.5.2.2: remove one member by filter.
    let r = h
        .patch_ops(
            &path,
            json!([{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}]),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(h.members(&g), sorted(vec![u1.clone(), u3.clone()]));

    // §3.5.2.2: remove all, then add one, in one request (replace by remove+add).
    let r = h
        .patch_ops(
            &path,
            json!([
                {"op": "remove", "path": "members"},
                {"op": "add", "path": "members", "value": [{"value": u2}]}
            ]),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(h.members(&g), std::slice::from_ref(&u2));

    // §3.5.2.3: replace all members.
    h.patch_ops(
        &path,
        json!([{"op": "replace", "path": "members", "value": [{"value": u1}, {"value": u3}]}]),
    )
    .await;
    assert_eq!(h.members(&g), sorted(vec![u1.clone(), u3.clone()]));

    // A member that is not a user of the tenant: 400, nothing changes.
    h.patch_ops(
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": "nobody"}]}]),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    assert_eq!(h.members(&g), sorted(vec![u1.clone(), u3.clone()]));

    // Remove by a complex filter (needs the member list).
    h.patch_ops(&path, json!([{"op": "remove", "path": format!("members[value eq \"{u1}\" or value eq \"{u3}\"]")}])).await;
    assert!(h.members(&g).is_empty());

    // GET shows members; excludedAttributes=members hides them; attributes= gets a 200 body from PATCH.
    h.patch_ops(
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": u1, "type": "User"}]}]),
    )
    .await;
    let full = h.get(&path).await;
    assert_eq!(full.body["members"], json!([{"value": u1, "type": "User"}]));
    let lean = h.get(&format!("{path}?excludedAttributes=members")).await;
    assert!(lean.body.get("members").is_none());
    assert_eq!(lean.body["displayName"], "Tour Guides");
    let r = h
        .patch(&format!("{path}?attributes=displayName"), json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Guides"}]}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["displayName"], "Guides");
    assert!(r.body.get("members").is_none());

    // Group PUT computes a delta against the current members.
    let put = h.put(&path, json!({"schemas": [GROUP], "displayName": "Guides", "members": [{"value": u2}, {"value": u1}]})).await;
    assert_eq!(put.status, 200);
    assert_eq!(h.members(&g), sorted(vec![u1.clone(), u2.clone()]));

    // Member sub-attributes are immutable.
    h.patch_ops(&path, json!([{"op": "replace", "path": format!("members[value eq \"{u1}\"].display"), "value": "x"}]))
        .await
        .assert_error(400, Some("mutability"));
    // Deleting a user drops it from groups.
    h.delete(&format!("/Users/{u1}")).await;
    assert_eq!(h.members(&g), std::slice::from_ref(&u2));
    assert_eq!(h.delete(&path).await.status, 204);
    h.get(&path).await.assert_error(404, None);
}

#[tokio::test]
async fn rfc_patch_examples_on_users() {
    let h = Harness::new().await;
    let id = h.post("/Users", bjensen()).await.id();
    let path = format!("/Users/{id}");

    // §3.5.2.1: add emails (appends), add without path (merges).
    let r = h
        .patch_ops(&path, json!([{"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "home"}]}]))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 2);
    let r = h
        .patch_ops(&path, json!([{"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickName": "Babs"}}]))
        .await;
    assert_eq!(
        r.body["emails"].as_array().unwrap().len(),
        2,
        "an existing value is not added twice"
    );
    assert_eq!(r.body["nickName"], "Babs");

    // §3.5.2.3: replace a sub-attribute of filtered values; replace a complex attribute keeps other sub-attributes.
    let r = h
        .patch_ops(&path, json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com"},
            {"op": "replace", "path": "name", "value": {"givenName": "Babs"}}
        ]))
        .await;
    assert_eq!(r.body["emails"][0]["value"], "barbara@example.com");
    assert_eq!(r.body["name"]["givenName"], "Babs");
    assert_eq!(r.body["name"]["familyName"], "Jensen");

    // Adding a primary value makes the others non-primary.
    let r = h
        .patch_ops(&path, json!([{"op": "add", "path": "emails", "value": [{"value": "new@example.com", "type": "other", "primary": true}]}]))
        .await;
    let primaries: Vec<&Value> = r.body["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["primary"] == true)
        .collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0]["value"], "new@example.com");

    // §3.5.2.2: remove by filter, remove a sub-attribute, remove a whole attribute (unassigned, not false).
    let r = h
        .patch_ops(
            &path,
            json!([
                {"op": "remove", "path": "emails[type eq \"home\"]"},
                {"op": "remove", "path": "name.givenName"},
                {"op": "remove", "path": "active"},
                {"op": "remove", "path": format!("{ENTERPRISE}:department")}
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert!(
        r.body["emails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] != "home")
    );
    assert!(r.body["name"].get("givenName").is_none());
    assert!(r.body.get("active").is_none());
    assert!(r.body[ENTERPRISE].get("department").is_none());
    assert_eq!(r.body[ENTERPRISE]["employeeNumber"], "701984");

    // Extension by URN path: the whole extension, then an attribute of it.
    let r = h.patch_ops(&path, json!([{"op": "add", "path": ENTERPRISE, "value": {"costCenter": "4130", "manager": {"value": "m1"}}}])).await;
    assert_eq!(r.body[ENTERPRISE]["costCenter"], "4130");
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], "m1");
    let r = h
        .patch_ops(&path, json!([{"op": "remove", "path": ENTERPRISE}]))
        .await;
    assert!(r.body.get(ENTERPRISE).is_none());
    assert_eq!(r.body["schemas"], json!([USER]));

    // Errors: atomic (nothing changes), with the right scimType.
    let before = h.get(&path).await.body;
    let cases = [
        (
            json!([{"op": "replace", "path": "nickName", "value": "X"}, {"op": "replace", "path": "nope", "value": 1}]),
            "invalidPath",
        ),
        (json!([{"op": "remove"}]), "noTarget"),
        (json!([{"op": "remove", "path": "userName"}]), "mutability"),
        (
            json!([{"op": "replace", "path": "id", "value": "x"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "active", "value": "yes"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq ]", "value": "x"}]),
            "invalidFilter",
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq \"work\"", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "name.givenName.x", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "urn:unknown:Schema:attr", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "move", "path": "title", "value": "x"}]),
            "invalidSyntax",
        ),
        (
            json!([{"op": "replace", "path": 7, "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq \"fax\" or value co \"zzz\"].value", "value": "x"}]),
            "noTarget",
        ),
        (
            json!([{"op": "replace", "value": "not an object"}]),
            "invalidValue",
        ),
        (json!([{"op": "add", "path": "title"}]), "invalidValue"),
    ];
    for (ops, scim_type) in cases {
        eprintln!("{ops}");
        h.patch_ops(&path, ops.clone())
            .await
            .assert_error(400, Some(scim_type));
        assert_eq!(h.get(&path).await.body, before, "{ops} changed the user");
    }
    h.patch(&path, json!({"schemas": [PATCH_OP]}))
        .await
        .assert_error(400, Some("invalidSyntax"));
}

#[tokio::test]
async fn etags() {
    let h = Harness::new().await;
    let r = h.post("/Users", bjensen()).await;
    let id = r.id();
    let etag = r.headers["etag"].to_str().unwrap().to_owned();
    let path = format!("/Users/{id}");

    let mut req = http::Request::get(&path)
        .header("authorization", format!("Bearer {}", h.token))
        .header("if-none-match", &etag)
        .body(Vec::new())
        .unwrap();
    assert_eq!(h.raw(req).await.status, 304);

    let patch = serde_json::to_vec(&json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Boss"}]})).unwrap();
    req = http::Request::patch(&path)
        .header("authorization", format!("Bearer {}", h.token))
        .header("if-match", "W/\"stale\"")
        .body(patch.clone())
        .unwrap();
    h.raw(req).await.assert_error(412, None);
    req = http::Request::patch(&path)
        .header("authorization", format!("Bearer {}", h.token))
        .header("if-match", &etag)
        .body(patch.clone())
        .unwrap();
    let ok = h.raw(req).await;
    assert_eq!(ok.status, 200);
    let new_etag = ok.headers["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    // The old version no longer matches: not for PUT, not for DELETE.
    req = http::Request::delete(&path)
        .header("authorization", format!("Bearer {}", h.token))
        .header("if-match", &etag)
        .body(Vec::new())
        .unwrap();
    h.raw(req).await.assert_error(412, None);
    req = http::Request::delete(&path)
        .header("authorization", format!("Bearer {}", h.token))
        .header("if-match", &new_etag)
        .body(Vec::new())
        .unwrap();
    assert_eq!(h.raw(req).await.status, 204);
}
