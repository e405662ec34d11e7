//! The HTML pages of the development SAML IdP: the sign-in form (the same
//! page as the OpenID provider's), the auto-submitting form that posts the
//! Response to the ACS, and the error page. Everything echoed goes through
//! [`escape`].

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::idp::{AcsPost, SamlUser};
use crate::testkit::page::{PageUser, SignInPage, escape};

/// What the sign-in page needs.
pub(super) struct SignIn<'a> {
    /// The SSO URL the form posts to.
    pub(super) action: &'a str,
    /// The AuthnRequest XML (carried as a POST-binding `SAMLRequest`).
    pub(super) request_xml: &'a str,
    pub(super) relay_state: Option<&'a str>,
    /// The SP entity ID.
    pub(super) sp: &'a str,
    pub(super) users: &'a [SamlUser],
    pub(super) error: Option<&'a str>,
}

impl SignIn<'_> {
    /// The page as a complete HTML document.
    pub(super) fn render(&self) -> String {
        let users: Vec<PageUser> = self
            .users
            .iter()
            .map(|u| {
                let mut detail = u.email.clone();
                if !u.groups.is_empty() {
                    detail.push_str(" \u{00b7} ");
                    detail.push_str(&u.groups.join(", "));
                }
                PageUser {
                    value: u.login.clone(),
                    name: u.name.clone(),
                    detail,
                }
            })
            .collect();
        let request = STANDARD.encode(self.request_xml);
        let mut hidden = vec![("SAMLRequest", request.as_str())];
        if let Some(relay) = self.relay_state {
            hidden.push(("RelayState", relay));
        }
        SignInPage {
            action: self.action,
            hidden: &hidden,
            client_id: self.sp,
            login_hint: "",
            authority: Some("the development SAML IdP"),
            users: &users,
            error: self.error,
        }
        .render()
    }
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f4f5f7;color:#1f2328;margin:0}\
main{max-width:26rem;margin:3rem auto;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1.5rem 2rem}\
h1{font-size:1.25rem;margin:0 0 .25rem}\
p.note{color:#57606a;margin:0 0 1.25rem;font-size:.9rem;overflow-wrap:anywhere}\
p.error{color:#cf222e;font-size:.9rem}\
button{font:inherit;cursor:pointer;border-radius:6px;margin-top:.75rem;width:100%;padding:.5rem;background:#1f6feb;color:#fff;border:0}\
code{font-size:.85rem}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n",
        escape(title)
    )
}

/// The script that submits the form, and the CSP source that allows it.
pub(super) const SUBMIT_SCRIPT: &str = "document.forms[0].submit();";

/// The `script-src` value allowing [`SUBMIT_SCRIPT`] (and nothing else).
pub(super) fn submit_script_source() -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, SUBMIT_SCRIPT.as_bytes());
    format!("'sha256-{}'", STANDARD.encode(hash))
}

/// The page that posts the Response to the ACS: submitted by script at
/// once, with a button for browsers without script.
pub(super) fn post_form(post: &AcsPost, login: &str) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Signing you in\u{2026}</h1><p class=\"note\">Development SAML identity provider \
         \u{2014} posting the SAML response for <code>{}</code> to <code>{}</code>.</p>\
         <form method=\"post\" action=\"{}\">",
        escape(login),
        escape(post.url.as_str()),
        escape(post.url.as_str())
    );
    for (name, value) in post.fields() {
        let _ = write!(
            body,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(&name),
            escape(&value)
        );
    }
    body.push_str("<button type=\"submit\">Continue</button></form>");
    let _ = write!(body, "<script>{SUBMIT_SCRIPT}</script>");
    document(
        "Signing in \u{2014} development SAML identity provider",
        &body,
    )
}

/// A page explaining why a request cannot be answered.
pub(super) fn error_page(message: &str) -> String {
    document(
        "Sign-in error \u{2014} development SAML identity provider",
        &format!(
            "<h1>This SAML request is invalid</h1><p class=\"error\">{}</p>\
             <p class=\"note\">The service provider sent a request this development SAML \
             identity provider cannot answer. Check the SP entity ID and the ACS URLs \
             registered with <code>DevSamlIdp::with_sp</code>.</p>",
            escape(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_everything_echoed() {
        let post = AcsPost {
            url: url::Url::parse("http://sp.test/acs?x=\"><script>").unwrap(),
            saml_response: "PHg+".into(),
            relay_state: Some("\"><b>".into()),
        };
        let html = post_form(&post, "<i>eve</i>");
        assert!(!html.contains("<b>") && !html.contains("<i>"), "{html}");
        assert_eq!(html.matches("<script>").count(), 1);
        assert!(html.contains("name=\"SAMLResponse\" value=\"PHg+\""));
        let users = [SamlUser::new("<u>")];
        let html = SignIn {
            action: "http://idp.test/sso",
            request_xml: "<x/>",
            relay_state: Some("\"><script>"),
            sp: "<sp>",
            users: &users,
            error: Some("<bad>"),
        }
        .render();
        assert!(!html.contains("<script>") && !html.contains("<sp>") && !html.contains("<u>"));
        assert!(html.contains("name=\"SAMLRequest\" value=\"PHgvPg==\""));
        assert!(error_page("<x>").contains("&lt;x&gt;"));
    }
}
