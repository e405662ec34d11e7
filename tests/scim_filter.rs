//! The filter language (RFC 7644 §3.4.2.2): grammar, precedence, value
//! filters, URN paths, resolution against the schema, case rules, and the
//! in-memory evaluator.
#![cfg(feature = "scim")]

use serde_json::json;
use ssokit::scim::{AttrPath, CompValue, CompareOp, Filter, ScimSchemas};

fn parse(s: &str) -> Filter {
    Filter::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn resolved(s: &str) -> Filter {
    let schemas = ScimSchemas::standard();
    Filter::parse_for(s, &schemas.user).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn text(s: &str) -> String {
    parse(s).to_string()
}

#[test]
fn rfc_7644_examples_parse() {
    // Every example filter of RFC 7644 §3.4.2.2.
    let examples = [
        r#"userName eq "bjensen""#,
        r#"name.familyName co "O'Malley""#,
        r#"userName sw "J""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        r#"title pr"#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
        r#"title pr and userType eq "Employee""#,
        r#"title pr or userType eq "Intern""#,
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType eq "Employee" and (emails.type eq "work")"#,
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    ];
    for e in examples {
        let f = parse(e);
        // The canonical text parses back to the same tree.
        assert_eq!(parse(&f.to_string()), f, "{e}");
    }
}

#[test]
fn every_operator() {
    for (op, want) in [
        ("eq", CompareOp::Eq),
        ("ne", CompareOp::Ne),
        ("co", CompareOp::Co),
        ("sw", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("gt", CompareOp::Gt),
        ("ge", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("le", CompareOp::Le),
        ("EQ", CompareOp::Eq),
        ("Le", CompareOp::Le),
    ] {
        let f = parse(&format!(r#"title {op} "x""#));
        assert_eq!(
            f,
            Filter::Compare {
                path: AttrPath::new("title"),
                op: want,
                value: CompValue::Str("x".into())
            }
        );
    }
    assert_eq!(parse("title PR"), Filter::Present(AttrPath::new("title")));
}

#[test]
fn values_are_json_literals() {
    let v = |s: &str| match parse(s) {
        Filter::Compare { value, .. } => value,
        other => panic!("{other:?}"),
    };
    assert_eq!(v("active eq true"), CompValue::Bool(true));
    assert_eq!(v("active eq False"), CompValue::Bool(false));
    assert_eq!(v("title eq null"), CompValue::Null);
    assert_eq!(v("x eq 42"), CompValue::Number(42.into()));
    assert_eq!(v("x eq -1.5e3").to_string(), "-1500.0");
    assert_eq!(
        v(r#"title eq "a \"quoted\" \u00e9 \\ b""#),
        CompValue::Str("a \"quoted\" é \\ b".into())
    );
    // Lenient: an unquoted word, as Microsoft's reference code accepts.
    assert_eq!(
        v("name.familyName eq Employee"),
        CompValue::Str("Employee".into())
    );
}

#[test]
fn precedence_not_and_or() {
    // and binds tighter than or; not tighter than and; grouping overrides.
    assert_eq!(text("a pr or b pr and c pr"), "(a pr or (b pr and c pr))");
    assert_eq!(text("a pr and b pr or c pr"), "((a pr and b pr) or c pr)");
    assert_eq!(text("(a pr or b pr) and c pr"), "((a pr or b pr) and c pr)");
    assert_eq!(text("not (a pr) and b pr"), "(not (a pr) and b pr)");
    assert_eq!(
        text("a pr and not(b pr or c pr)"),
        "(a pr and not ((b pr or c pr)))"
    );
    assert_eq!(text("a pr AND b pr Or c pr"), "((a pr and b pr) or c pr)");
    assert_eq!(text("a pr and b pr and c pr"), "((a pr and b pr) and c pr)");
}

#[test]
fn value_paths_are_absolute_inside() {
    let f = parse(r#"emails[type eq "work" and value co "@example.com"]"#);
    let Filter::ValuePath { path, filter } = &f else {
        panic!("{f:?}")
    };
    assert_eq!(path, &AttrPath::new("emails"));
    let Filter::And(a, _) = filter.as_ref() else {
        panic!()
    };
    let Filter::Compare { path, .. } = a.as_ref() else {
        panic!()
    };
    assert_eq!(path, &AttrPath::new("emails").with_sub("type"));
    // Written back relative, as in the RFC.
    assert_eq!(
        f.to_string(),
        r#"emails[(type eq "work" and value co "@example.com")]"#
    );
    // Entra's matching attribute: a sub-attribute after the value filter.
    let f = parse(r#"emails[type eq "work"].value eq "ann@acme.test""#);
    assert_eq!(
        f.to_string(),
        r#"emails[(type eq "work" and value eq "ann@acme.test")]"#
    );
}

#[test]
fn urn_prefixed_paths() {
    let f = resolved(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
    );
    let Filter::Compare { path, .. } = f else {
        panic!()
    };
    assert_eq!(
        path.schema.as_deref(),
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
    );
    assert_eq!(path.name, "manager");
    assert_eq!(path.sub_attr.as_deref(), Some("value"));
    // A core URN prefix resolves to the core attribute (schema None), any case.
    let f = resolved(r#"URN:IETF:params:scim:schemas:core:2.0:User:USERNAME eq "x""#);
    assert_eq!(f.find_eq("userName"), Some("x"));
}

#[test]
fn resolution_canonicalises_and_refuses() {
    let f = resolved(r#"USERNAME Eq "Bjensen" and Name.GivenName sw "B""#);
    assert_eq!(
        f.to_string(),
        r#"(userName eq "Bjensen" and name.givenName sw "B")"#
    );
    // A complex attribute compared directly means its `value`.
    assert_eq!(
        resolved(r#"emails co "x""#).to_string(),
        r#"emails.value co "x""#
    );
    let schemas = ScimSchemas::standard();
    for bad in [
        r#"nope eq "x""#,
        r#"name.nope eq "x""#,
        r#"urn:example:unknown:Thing:x eq "y""#,
        "active gt true",
        r#"active co "t""#,
        r#"name co "x""#,
        r#"userName gt true"#,
        r#"emails[nope eq "x"]"#,
        r#"userName[type eq "x"]"#,
    ] {
        assert!(
            Filter::parse_for(bad, &schemas.user).is_err(),
            "{bad} must be refused"
        );
    }
}

#[test]
fn malformed_filters_are_errors_not_panics() {
    for bad in [
        "",
        "   ",
        "userName",
        "userName eq",
        r#"userName eq "unterminated"#,
        r#"userName zz "x""#,
        r#"(userName eq "x""#,
        r#"userName eq "x")"#,
        r#"emails[type eq "work""#,
        r#"emails[type eq "work"]]"#,
        r#"emails[emails[type eq "x"]]"#,
        r#"userName eq "x" and"#,
        r#"and userName eq "x""#,
        r#"not userName eq "x""#,
        "userName eq 1e999999",
        "\u{0}",
        "userName eq \"\\uZZZZ\"",
        "日本 eq \"x\"",
        r#"userName eq "x" userName eq "y""#,
        "123 eq 4",
        ".x eq 1",
    ] {
        assert!(Filter::parse(bad).is_err(), "{bad:?} must be refused");
    }
    // Limits.
    let deep = format!("{}a pr{}", "(".repeat(40), ")".repeat(40));
    assert!(
        Filter::parse(&deep)
            .unwrap_err()
            .message()
            .contains("nested")
    );
    let long = format!(r#"userName eq "{}""#, "x".repeat(5000));
    assert!(
        Filter::parse(&long)
            .unwrap_err()
            .message()
            .contains("longer")
    );
}

#[test]
fn evaluation_follows_case_rules() {
    let schemas = ScimSchemas::standard();
    let rt = &schemas.user;
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Ext-1",
        "userName": "Bjensen@Example.com",
        "name": {"familyName": "O'Malley", "givenName": "Barbara"},
        "userType": "Employee",
        "title": "Tour Guide",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "manager": {"value": "26118915"}},
        "meta": {"lastModified": "2011-05-13T04:42:34Z", "created": "2010-01-23T04:56:22Z"}
    });
    let m = |f: &str| {
        Filter::parse_for(f, rt)
            .unwrap_or_else(|e| panic!("{f}: {e}"))
            .matches(&user, rt)
    };
    // userName is caseExact=false; externalId and id are caseExact.
    assert!(m(r#"userName eq "BJENSEN@example.COM""#));
    assert!(m(r#"externalId eq "Ext-1""#));
    assert!(!m(r#"externalId eq "ext-1""#));
    assert!(!m(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
    assert!(m(r#"name.familyName co "o'mal""#));
    assert!(m(r#"userName sw "bj""#));
    assert!(m(r#"userName ew ".COM""#));
    assert!(m("title pr"));
    assert!(!m("nickName pr"));
    assert!(m(r#"nickName eq null"#));
    assert!(m(r#"userName ne "someone""#));
    assert!(m("active eq true"));
    assert!(!m("active eq false"));
    // Multi-valued: any value matches.
    assert!(m(r#"emails co "jensen.org""#));
    assert!(m(r#"emails.value ew "@example.com""#));
    assert!(m(r#"emails[type eq "work" and value co "@example.com"]"#));
    assert!(!m(r#"emails[type eq "home" and value co "@example.com"]"#));
    assert!(m(
        r#"emails[type eq "work"].value eq "BJENSEN@example.com""#
    ));
    assert!(m(r#"emails[not (type eq "home")]"#));
    // dateTime compares chronologically.
    assert!(m(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
    assert!(m(r#"meta.lastModified ge "2011-05-13T06:42:34+02:00""#));
    assert!(!m(r#"meta.lastModified lt "2011-05-13T04:42:34Z""#));
    assert!(m(r#"meta.created le "2011-05-13T04:42:34Z""#));
    // Lexicographic ordering on strings.
    assert!(m(r#"userName gt "a""#));
    assert!(m(r#"userName lt "C""#));
    // Extension attributes by URN.
    assert!(m(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
    ));
    assert!(m(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#
    ));
    // RFC examples with logic.
    assert!(m(
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#
    ));
    assert!(!m(
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#
    ));
    assert!(m(r#"title pr and userType eq "Employee""#));
    assert!(m(
        r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:User""#
    ));
}

#[test]
fn find_eq_finds_the_indexable_part() {
    let f = resolved(r#"userName eq "ann" and active eq true"#);
    assert_eq!(f.find_eq("userName"), Some("ann"));
    assert_eq!(f.find_eq("externalId"), None);
    assert_eq!(
        resolved(r#"userName eq "a" or userName eq "b""#).find_eq("userName"),
        None
    );
}

#[test]
fn date_time_values_read_as_instants() {
    use std::time::{Duration, UNIX_EPOCH};
    let s = |v: &str| CompValue::Str(v.into()).as_date_time();
    let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(s("2023-11-14T22:13:20Z"), Some(t));
    assert_eq!(s("2023-11-14T23:13:20+01:00"), Some(t));
    assert_eq!(
        s("2023-11-14T22:13:20.25Z"),
        Some(t + Duration::from_millis(250))
    );
    assert_eq!(
        s("1969-12-31T23:59:59Z"),
        Some(UNIX_EPOCH - Duration::from_secs(1))
    );
    assert_eq!(s("2023-11-14"), None);
    assert_eq!(s("garbage"), None);
    assert_eq!(CompValue::Bool(true).as_date_time(), None);
}
