//! The demo's SQLite SCIM directory (`examples/demo/scim.rs`): the same
//! requests against ssokit's in-memory directory and the SQL one give the
//! same answers (filters, sorting, paging, errors), and two handles on one
//! database file share users, groups and the login-side rows.

#[allow(dead_code)]
#[path = "../examples/demo/db.rs"]
mod db;
#[allow(dead_code)]
#[path = "../examples/demo/scim.rs"]
mod scim;
#[allow(dead_code)]
#[path = "../examples/demo/scim_sql.rs"]
mod scim_sql;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use ssokit::TenantId;
use ssokit::hooks::UserDirectory;
use ssokit::scim::{MemoryRevoker, MemoryScimDirectory, ScimConfig, ScimDirectory, ScimService};
use ssokit::secret::SecretString;

const TOKEN: &str = "test-scim-token-0123456789abcdefghijklmn";
const GLOBEX_TOKEN: &str = "globex-scim-token-0123456789abcdefghijkl";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

struct Side {
    svc: ScimService,
    /// Our names for the ids this side assigned (`U1`, `G2`, …).
    ids: Mutex<HashMap<String, String>>,
}

async fn side(dir: Arc<dyn ScimDirectory>) -> Side {
    let mut config = ScimConfig::new("https://app.test/scim/v2");
    config.rate_limit = None;
    let svc = ScimService::builder(config)
        .directory(dir)
        .revoker(Arc::new(MemoryRevoker::new()))
        .build()
        .expect("service builds");
    for (tenant, token) in [("acme", TOKEN), ("globex", GLOBEX_TOKEN)] {
        svc.tokens()
            .register(
                &TenantId::new(tenant),
                None,
                "test",
                &SecretString::new(token),
                t0(),
            )
            .await
            .expect("token");
    }
    Side {
        svc,
        ids: Mutex::new(HashMap::new()),
    }
}

impl Side {
    /// `{U1}` → this side's id of U1.
    fn expand(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (name, id) in self.ids.lock().unwrap().iter() {
            out = out.replace(&format!("{{{name}}}"), id);
        }
        out
    }

    /// This side's ids → `{U1}`; versions (numbered differently) dropped.
    fn normalize(&self, v: &Value) -> Value {
        let mut text = v.to_string();
        for (name, id) in self.ids.lock().unwrap().iter() {
            text = text.replace(id.as_str(), &format!("{{{name}}}"));
        }
        let mut v: Value = serde_json::from_str(&text).unwrap();
        strip_versions(&mut v);
        v
    }

    async fn send(
        &self,
        token: &str,
        method: &str,
        uri: &str,
        body: Option<&Value>,
        now: SystemTime,
    ) -> (u16, Value) {
        let uri = self.expand(uri);
        let body = body.map(|b| self.expand(&b.to_string()).into_bytes());
        let mut req = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"));
        if body.is_some() {
            req = req.header("content-type", "application/scim+json");
        }
        let resp = self
            .svc
            .handle(req.body(body.unwrap_or_default()).unwrap(), now)
            .await;
        let status = resp.status().as_u16();
        let body = resp.body();
        let v = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body).unwrap()
        };
        (status, v)
    }
}

/// The names and total of a list (for failure messages).
fn brief(v: &Value) -> String {
    match v["Resources"].as_array() {
        Some(items) => format!(
            "{} {:?}",
            v["totalResults"],
            items
                .iter()
                .map(|r| r.get("userName").or_else(|| r.get("displayName")).cloned())
                .collect::<Vec<_>>()
        ),
        None => v.to_string(),
    }
}

fn strip_versions(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(meta)) = m.get_mut("meta") {
                meta.remove("version");
            }
            m.values_mut().for_each(strip_versions);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_versions),
        _ => {}
    }
}

/// The memory directory and the SQL one, fed the same requests.
struct Twins {
    memory: Side,
    sql: Side,
    now: Mutex<SystemTime>,
}

impl Twins {
    async fn new() -> Self {
        let db = db::Db::open(None).unwrap();
        Self {
            memory: side(Arc::new(MemoryScimDirectory::new())).await,
            sql: side(Arc::new(scim::DemoScimDirectory::new(db))).await,
            now: Mutex::new(t0()),
        }
    }

    fn advance(&self, d: Duration) {
        *self.now.lock().unwrap() += d;
    }

    /// Sends to both; asserts the same status and (normalised) body; returns them.
    async fn both(&self, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
        self.both_as(TOKEN, method, uri, body).await
    }

    async fn both_as(
        &self,
        token: &str,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let now = *self.now.lock().unwrap();
        let (ms, mb) = self
            .memory
            .send(token, method, uri, body.as_ref(), now)
            .await;
        let (ss, sb) = self.sql.send(token, method, uri, body.as_ref(), now).await;
        let (mb, sb) = (self.memory.normalize(&mb), self.sql.normalize(&sb));
        assert_eq!(
            ms,
            ss,
            "{method} {uri}: memory {} / sql {}",
            brief(&mb),
            brief(&sb)
        );
        assert_eq!(mb, sb, "{method} {uri}: {} / {}", brief(&mb), brief(&sb));
        (ms, mb)
    }

    /// Creates a resource on both, naming its ids `name`.
    async fn create(&self, name: &str, endpoint: &str, body: Value) {
        let now = *self.now.lock().unwrap();
        let mut ids = Vec::new();
        for side in [&self.memory, &self.sql] {
            let (status, v) = side.send(TOKEN, "POST", endpoint, Some(&body), now).await;
            assert_eq!(status, 201, "{name}: {v:#}");
            let id = v["id"].as_str().unwrap().to_owned();
            side.ids.lock().unwrap().insert(name.to_owned(), id.clone());
            ids.push(v);
        }
        assert_eq!(
            self.memory.normalize(&ids[0]),
            self.sql.normalize(&ids[1]),
            "{name}"
        );
    }

    /// `GET uri` on both: the same page; returns the user names listed.
    async fn names(&self, uri: &str) -> Vec<String> {
        let (status, v) = self.both("GET", uri, None).await;
        assert_eq!(status, 200, "{uri}: {v:#}");
        v["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.get("userName")
                    .or_else(|| r.get("displayName"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn populated() -> Twins {
    let t = Twins::new().await;
    let users = [
        json!({"userName": "Bjensen", "externalId": "ext-1", "displayName": "Babs Jensen",
               "title": "Tour Guide", "active": true,
               "name": {"givenName": "Barbara", "familyName": "Jensen"},
               "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                          {"value": "babs@home.example", "type": "home"}],
               ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations",
                            "manager": {"value": "boss-1"}}}),
        json!({"userName": "ÄRGER@acme.test", "externalId": "EXT-2", "displayName": "Änne Ärger",
               "active": false, "emails": [{"value": "Ärger@ACME.test", "type": "work"}]}),
        json!({"userName": "carol", "name": {"givenName": "Carol"}, "title": "",
               "emails": [{"value": "carol@acme.test", "type": "home"}],
               "phoneNumbers": [{"value": "+1 555 0100", "type": "mobile"}]}),
        json!({"userName": "dave", "nickName": "D", "active": true, "externalId": "ext-4",
               ENTERPRISE: {"employeeNumber": "12"}}),
        json!({"userName": "erin", "displayName": "erin", "title": "Boss",
               "emails": [{"value": "erin@x.test"},
                          {"value": "erin2@x.test", "primary": true, "type": "work"}]}),
        json!({"userName": "frank_%", "displayName": "100% frank",
               "emails": [{"value": "f_a@x.test", "type": "work"}]}),
    ];
    for (i, u) in users.into_iter().enumerate() {
        // Whole and fractional seconds apart, for the meta.lastModified filters.
        t.advance(Duration::from_millis(if i % 2 == 0 { 1000 } else { 500 }));
        t.create(&format!("U{}", i + 1), "/Users", u).await;
    }
    t.advance(Duration::from_secs(1));
    let g = |name: &str, members: &[&str]| {
        json!({"displayName": name,
               "members": members.iter().map(|m| json!({"value": format!("{{{m}}}")})).collect::<Vec<_>>()})
    };
    t.create("G1", "/Groups", g("Admins", &["U1", "U2"])).await;
    t.create("G2", "/Groups", g("Staff", &["U3", "U1", "U3"]))
        .await;
    t.create(
        "G3",
        "/Groups",
        json!({"displayName": "Empty", "externalId": "g-ext"}),
    )
    .await;
    t.create("G4", "/Groups", g("Nested", &["G1"])).await;
    t
}

#[tokio::test]
async fn filters_give_the_same_results_as_the_memory_directory() {
    let t = populated().await;
    let e = ENTERPRISE;
    let at = |s: &str| s.to_owned();
    let filters: Vec<String> = vec![
        at(r#"userName eq "bjensen""#),
        at(r#"userName eq "BJENSEN""#),
        at(r#"userName eq "ärger@acme.test""#),
        at(r#"userName ne "bjensen""#),
        at(r#"userName co "EN""#),
        at(r#"userName sw "b""#),
        at(r#"userName ew "SEN""#),
        at(r#"userName sw """#),
        at(r#"userName ew """#),
        at(r#"userName gt "c""#),
        at(r#"userName le "carol""#),
        at(r#"userName eq "frank_%""#),
        at(r#"userName eq "x' OR 1=1 --""#),
        at(r#"userName eq null"#),
        at(r#"displayName co "%""#),
        at(r#"displayName co "_""#),
        at(r#"displayName sw "än""#),
        at(r#"externalId eq "ext-1""#),
        at(r#"externalId eq "EXT-1""#),
        at(r#"externalId sw "EXT""#),
        at(r#"externalId pr"#),
        at(r#"not (externalId pr)"#),
        at(r#"externalId eq null"#),
        at(r#"externalId ne null"#),
        at(r#"active eq true"#),
        at(r#"active eq false"#),
        at(r#"active ne true"#),
        at(r#"active eq "true""#),
        at(r#"emails.value co "ACME""#),
        at(r#"emails co "acme""#),
        at(r#"emails[type eq "work"]"#),
        at(r#"emails[type eq "work" and value co "jensen"]"#),
        at(r#"emails[type eq "work"].value ew "TEST""#),
        at(r#"emails[primary eq true]"#),
        at(r#"emails[not (primary pr)]"#),
        at(r#"emails.primary eq true"#),
        at(r#"emails pr"#),
        at(r#"not (emails pr)"#),
        at(r#"emails.type eq "home""#),
        at(r#"emails.type ne "home""#),
        at(r#"name.givenName sw "bar""#),
        at(r#"name pr"#),
        at(r#"name.familyName pr"#),
        at(r#"name[givenName eq "carol"]"#),
        at(r#"title pr"#),
        at(r#"title eq """#),
        at(r#"title gt "A""#),
        at(r#"nickName eq "D""#),
        at(r#"phoneNumbers[type eq "mobile"]"#),
        at(r#"userName eq 5"#),
        format!(r#"{e}:employeeNumber eq "701984""#),
        format!(r#"{e}:employeeNumber lt "5""#),
        format!(r#"{e}:manager.value pr"#),
        format!(r#"{e}:manager eq "boss-1""#),
        format!(r#"{e}:department co "tour""#),
        at(r#"meta.lastModified gt "2023-11-14T22:13:22Z""#),
        at(r#"meta.lastModified ge "2023-11-14T22:13:22Z""#),
        at(r#"meta.lastModified lt "2023-11-14T22:13:22.5Z""#),
        at(r#"meta.lastModified gt "2023-11-14T22:13:21.5Z""#),
        at(r#"meta.lastModified eq "2023-11-14T22:13:22Z""#),
        at(r#"meta.lastModified eq "2023-11-14T22:13:22.000Z""#),
        at(r#"meta.lastModified ne "2023-11-14T22:13:22.1Z""#),
        at(r#"meta.created le "2023-11-14T23:13:22+01:00""#),
        at(r#"meta.created gt "garbage""#),
        at(r#"meta.created sw "2023-11-14T22:13:2""#),
        at(r#"meta.created pr"#),
        at(r#"meta.resourceType eq "User""#),
        at(r#"meta.resourceType eq "user""#),
        at(r#"meta.location co "Users/""#),
        at(r#"id pr"#),
        at(r#"id eq "{U1}""#),
        at(r#"id ne "{U1}""#),
        format!(r#"schemas eq "{e}""#),
        at(r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:User""#),
        at(r#"(userName eq "bjensen" or userName eq "carol") and active eq true"#),
        at(r#"not (userName eq "bjensen" or active eq false)"#),
        at(r#"userName sw "b" and not (emails[type eq "home"])"#),
    ];
    let mut matched = 0;
    for f in &filters {
        let names = t.names(&format!("/Users?filter={}", enc(f))).await;
        matched += names.len();
    }
    // The table is not vacuous.
    assert!(matched > filters.len(), "{matched}");
    // Spot checks of what the rules mean.
    assert_eq!(
        t.names(&format!(
            "/Users?filter={}",
            enc(r#"userName eq "BJENSEN""#)
        ))
        .await,
        ["Bjensen"]
    );
    assert_eq!(
        t.names(&format!(
            "/Users?filter={}",
            enc(r#"userName eq "ärger@acme.test""#)
        ))
        .await,
        ["ÄRGER@acme.test"]
    );
    assert_eq!(
        t.names(&format!("/Users?filter={}", enc(r#"displayName co "%""#)))
            .await,
        ["frank_%"]
    );

    let group_filters = [
        r#"displayName eq "admins""#,
        r#"members[value eq "{U1}"]"#,
        r#"members.value eq "{U3}""#,
        r#"members pr"#,
        r#"not (members pr)"#,
        r#"externalId eq "g-ext""#,
        r#"id eq "{G1}""#,
        r#"displayName sw "A" and members pr"#,
        r#"meta.lastModified ge "2023-11-14T22:13:20Z""#,
    ];
    for f in group_filters {
        t.names(&format!("/Groups?filter={}", enc(f))).await;
        t.names(&format!(
            "/Groups?filter={}&excludedAttributes=members",
            enc(f)
        ))
        .await;
    }
}

#[tokio::test]
async fn sorting_and_paging_match_the_memory_directory() {
    let t = populated().await;
    let keys = [
        "userName",
        "displayName",
        "title",
        "emails",
        "emails.value",
        "name.familyName",
        "name",
        "meta.created",
        "meta.lastModified",
        "externalId",
        "active",
        "nickName",
        &format!("{ENTERPRISE}:employeeNumber"),
    ];
    for key in keys {
        for order in ["ascending", "descending"] {
            for (start, count) in [(1, 100), (2, 2), (5, 10), (9, 3), (1, 0)] {
                t.names(&format!(
                    "/Users?sortBy={}&sortOrder={order}&startIndex={start}&count={count}",
                    enc(key)
                ))
                .await;
            }
        }
    }
    let sorted = t.names("/Users?sortBy=userName").await;
    assert_eq!(
        sorted,
        [
            "Bjensen",
            "carol",
            "dave",
            "erin",
            "frank_%",
            "ÄRGER@acme.test"
        ]
    );
    t.names("/Groups?sortBy=displayName&sortOrder=descending&startIndex=2&count=2")
        .await;
    let (_, page) = t
        .both("GET", "/Users?filter=active%20eq%20true&count=1", None)
        .await;
    assert_eq!(page["totalResults"], 2);
    assert_eq!(page["Resources"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn writes_and_errors_match_the_memory_directory() {
    let t = populated().await;
    t.advance(Duration::from_secs(5));
    // userName is unique per tenant, case-insensitively.
    let (status, _) = t
        .both("POST", "/Users", Some(json!({"userName": "BJENSEN"})))
        .await;
    assert_eq!(status, 409);
    let (status, _) = t
        .both(
            "POST",
            "/Users",
            Some(json!({"userName": "ärger@ACME.TEST"})),
        )
        .await;
    assert_eq!(status, 409);
    // Renaming onto another user's name, and PUT / PATCH.
    let (status, _) = t
        .both(
            "PATCH",
            "/Users/{U3}",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "userName", "value": "Dave"}]}),
            ),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = t
        .both(
            "PATCH",
            "/Users/{U3}",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "active", "value": false},
                                       {"op": "add", "path": "emails[type eq \"work\"].value",
                                        "value": "carol@work.test"}]}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = t
        .both(
            "PUT",
            "/Users/{U4}",
            Some(json!({"userName": "dave", "displayName": "Dave Two", "active": true})),
        )
        .await;
    assert_eq!(status, 200);
    t.names("/Users?filter=active%20eq%20false").await;
    t.names(&format!(
        "/Users?filter={}",
        enc(r#"emails[type eq "work"] and title pr"#)
    ))
    .await;
    // A stale If-Match is a 412 on both.
    for side in [&t.sql, &t.memory] {
        let now = *t.now.lock().unwrap();
        let (_, v) = side.send(TOKEN, "GET", "/Users/{U5}", None, now).await;
        let stale = v["meta"]["version"].as_str().unwrap().to_owned();
        let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                           "Operations": [{"op": "replace", "path": "title", "value": "x"}]});
        let (status, _) = side
            .send(TOKEN, "PATCH", "/Users/{U5}", Some(&patch), now)
            .await;
        assert_eq!(status, 200);
        let uri = side.expand("/Users/{U5}");
        let req = http::Request::builder()
            .method("PATCH")
            .uri(uri)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/scim+json")
            .header("if-match", stale)
            .body(patch.to_string().into_bytes())
            .unwrap();
        assert_eq!(side.svc.handle(req, now).await.status(), 412);
    }
    // Groups: unknown and self members, PATCH deltas, exclusion of members.
    let add = |v: &str| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "add", "path": "members", "value": [{"value": v}]}]})
    };
    assert_eq!(
        t.both("PATCH", "/Groups/{G3}", Some(add("nobody"))).await.0,
        400
    );
    assert_eq!(
        t.both("PATCH", "/Groups/{G3}", Some(add("{G3}"))).await.0,
        400
    );
    assert_eq!(
        t.both("PATCH", "/Groups/{G3}", Some(add("{U5}"))).await.0,
        204
    );
    let remove = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "remove", "path": "members[value eq \"{U1}\"]"}]});
    assert_eq!(t.both("PATCH", "/Groups/{G2}", Some(remove)).await.0, 204);
    t.both("GET", "/Groups/{G2}", None).await;
    t.both("GET", "/Groups/{G2}?excludedAttributes=members", None)
        .await;
    t.both(
        "PUT",
        "/Groups/{G1}",
        Some(json!({"displayName": "Admins 2", "members": [{"value": "{U4}"}]})),
    )
    .await;
    t.both("GET", "/Groups", None).await;
    // DELETE: gone from SCIM and from groups; the userName is free again.
    assert_eq!(t.both("DELETE", "/Users/{U4}", None).await.0, 204);
    assert_eq!(t.both("GET", "/Users/{U4}", None).await.0, 404);
    assert_eq!(t.both("DELETE", "/Users/{U4}", None).await.0, 404);
    t.both("GET", "/Groups/{G1}", None).await;
    t.create("U7", "/Users", json!({"userName": "DAVE"})).await;
    assert_eq!(t.both("DELETE", "/Groups/{G1}", None).await.0, 204);
    assert_eq!(t.both("DELETE", "/Groups/{G1}", None).await.0, 404);
    t.both("GET", "/Groups/{G4}", None).await;
    t.both("GET", "/Users", None).await;
    // Another tenant sees none of it.
    let (_, v) = t.both_as(GLOBEX_TOKEN, "GET", "/Users", None).await;
    assert_eq!(v["totalResults"], 0);
    assert_eq!(
        t.both_as(GLOBEX_TOKEN, "GET", "/Users/{U1}", None).await.0,
        404
    );
    assert_eq!(
        t.both_as(GLOBEX_TOKEN, "GET", "/Groups/{G2}", None).await.0,
        404
    );
    assert_eq!(
        t.both_as(GLOBEX_TOKEN, "DELETE", "/Users/{U1}", None)
            .await
            .0,
        404
    );
    // Its userNames are its own.
    let now = *t.now.lock().unwrap();
    for side in [&t.memory, &t.sql] {
        let body = json!({"userName": "bjensen"});
        let (status, _) = side
            .send(GLOBEX_TOKEN, "POST", "/Users", Some(&body), now)
            .await;
        assert_eq!(status, 201);
    }
}

#[tokio::test]
async fn filters_it_cannot_translate_are_a_clear_400() {
    let db = db::Db::open(None).unwrap();
    let sql = side(Arc::new(scim::DemoScimDirectory::new(db))).await;
    for f in [r#"meta.version eq "W/\"1\"""#, r#"meta.version pr"#] {
        let (status, v) = sql
            .send(
                TOKEN,
                "GET",
                &format!("/Users?filter={}", enc(f)),
                None,
                t0(),
            )
            .await;
        assert_eq!(status, 400, "{f}: {v:#}");
        assert_eq!(v["scimType"], "invalidFilter", "{f}");
    }
}

fn temp_db() -> (String, impl Drop) {
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.0));
            }
        }
    }
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let path = std::env::temp_dir()
        .join(format!(
            "ssokit-demo-scim-{}-{nonce}.sqlite",
            std::process::id()
        ))
        .to_string_lossy()
        .into_owned();
    (path.clone(), Cleanup(path))
}

/// Two instances (two handles on one file) share SCIM users, groups and the
/// login-side rows: what the in-memory directory could not do.
#[tokio::test]
async fn two_instances_share_the_directory_through_the_file() {
    let (path, _cleanup) = temp_db();
    let db_a = db::Db::open(Some(&path)).unwrap();
    let db_b = db::Db::open(Some(&path)).unwrap();
    let a = side(Arc::new(scim::DemoScimDirectory::new(db_a.clone()))).await;
    let b = side(Arc::new(scim::DemoScimDirectory::new(db_b.clone()))).await;

    let body = json!({"userName": "Zoe@Acme.test", "externalId": "sub-zoe", "displayName": "Zoe",
                      "emails": [{"value": "zoe@acme.test", "type": "work", "primary": true}]});
    let (status, created) = a.send(TOKEN, "POST", "/Users", Some(&body), t0()).await;
    assert_eq!(status, 201, "{created:#}");
    let id = created["id"].as_str().unwrap().to_owned();

    // B finds it by filter, by id, and as the login flow's user.
    let filter = enc(r#"emails[type eq "work"].value eq "ZOE@acme.test""#);
    let (status, list) = b
        .send(TOKEN, "GET", &format!("/Users?filter={filter}"), None, t0())
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["totalResults"], 1, "{list:#}");
    assert_eq!(list["Resources"][0]["id"], id.as_str());
    let user = db_b.user_by_scim_id("acme", &id).expect("the users row");
    let tenant = TenantId::new("acme");
    let local = db_b.find_by_id(&tenant, &user).await.unwrap().unwrap();
    assert_eq!(local.email, "zoe@acme.test");
    assert_eq!(local.name.as_deref(), Some("Zoe"));
    assert!(local.active);

    // The userName is taken for B too; B's deactivation is A's.
    let (status, _) = b
        .send(
            TOKEN,
            "POST",
            "/Users",
            Some(&json!({"userName": "zoe@acme.test"})),
            t0(),
        )
        .await;
    assert_eq!(status, 409);
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let (status, _) = b
        .send(TOKEN, "PATCH", &format!("/Users/{id}"), Some(&patch), t0())
        .await;
    assert_eq!(status, 200);
    let local = db_a.find_by_id(&tenant, &user).await.unwrap().unwrap();
    assert!(!local.active);
    let (_, got) = a
        .send(TOKEN, "GET", &format!("/Users/{id}"), None, t0())
        .await;
    assert_eq!(got["active"], false);

    // Groups too; a DELETE on A keeps the row, disabled, and frees the name.
    let group = json!({"displayName": "Pilots", "members": [{"value": id}]});
    let (status, g) = b.send(TOKEN, "POST", "/Groups", Some(&group), t0()).await;
    assert_eq!(status, 201);
    let gid = g["id"].as_str().unwrap();
    let (status, _) = a
        .send(TOKEN, "DELETE", &format!("/Users/{id}"), None, t0())
        .await;
    assert_eq!(status, 204);
    let (_, g) = b
        .send(TOKEN, "GET", &format!("/Groups/{gid}"), None, t0())
        .await;
    assert!(g.get("members").is_none(), "{g:#}");
    assert_eq!(db_b.user_by_scim_id("acme", &id), Some(user.clone()));
    assert!(
        !db_b
            .find_by_id(&tenant, &user)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    let (status, _) = b
        .send(
            TOKEN,
            "POST",
            "/Users",
            Some(&json!({"userName": "zoe@acme.test"})),
            t0(),
        )
        .await;
    assert_eq!(status, 201);
}

/// Creations racing on two handles: exactly one userName wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creations_on_two_handles_keep_user_names_unique() {
    let (path, _cleanup) = temp_db();
    let a = Arc::new(
        side(Arc::new(scim::DemoScimDirectory::new(
            db::Db::open(Some(&path)).unwrap(),
        )))
        .await,
    );
    let b = Arc::new(
        side(Arc::new(scim::DemoScimDirectory::new(
            db::Db::open(Some(&path)).unwrap(),
        )))
        .await,
    );
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let body = json!({"userName": format!("racer{}@acme.test", i / 4)});
            s.send(TOKEN, "POST", "/Users", Some(&body), t0()).await.0
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        15,
        "{statuses:?}"
    );
    let (_, list) = a.send(TOKEN, "GET", "/Users", None, t0()).await;
    assert_eq!(list["totalResults"], 5);
}
