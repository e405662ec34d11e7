//! The HTML pages of the development provider: the sign-in form and the
//! error page. Everything echoed into a page goes through [`escape`].

use std::fmt::Write as _;

use super::provider::DevUser;

/// Escapes text for use in HTML element content and quoted attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f4f5f7;color:#1f2328;margin:0}\
main{max-width:26rem;margin:3rem auto;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1.5rem 2rem}\
h1{font-size:1.25rem;margin:0 0 .25rem}\
p.note{color:#57606a;margin:0 0 1.25rem;font-size:.9rem}\
p.error{color:#cf222e;font-size:.9rem}\
label{display:block;font-weight:600;margin-bottom:.25rem}\
input[type=text]{box-sizing:border-box;width:100%;padding:.5rem;border:1px solid #d0d7de;border-radius:6px;font-size:1rem}\
button{font:inherit;cursor:pointer;border-radius:6px}\
button.primary{margin-top:.75rem;width:100%;padding:.5rem;background:#1f6feb;color:#fff;border:0}\
h2{font-size:.95rem;margin:1.5rem 0 .5rem}\
ul{list-style:none;padding:0;margin:0}\
li button{width:100%;text-align:left;margin:.25rem 0;padding:.5rem .75rem;background:#f6f8fa;border:1px solid #d0d7de}\
small{display:block;color:#57606a}\
code{font-size:.85rem}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n",
        escape(title)
    )
}

/// A seeded user as the sign-in page offers it: a one-click button.
pub(super) struct PageUser {
    /// What the button submits as the login.
    pub(super) value: String,
    /// The button's title.
    pub(super) name: String,
    /// The small print under it.
    pub(super) detail: String,
}

impl From<&DevUser> for PageUser {
    fn from(user: &DevUser) -> Self {
        let mut detail = user.email.clone();
        if !user.groups.is_empty() {
            detail.push_str(" \u{00b7} ");
            detail.push_str(&user.groups.join(", "));
        }
        Self {
            value: user.login.clone(),
            name: user.name.clone(),
            detail,
        }
    }
}

/// What the sign-in page needs to know.
pub(super) struct SignInPage<'a> {
    /// Absolute URL the form posts to.
    pub(super) action: &'a str,
    /// The authorization request's parameters, carried as hidden fields.
    pub(super) hidden: &'a [(&'a str, &'a str)],
    /// The client the user is signing in to.
    pub(super) client_id: &'a str,
    /// Prefill for the login field (`login_hint`).
    pub(super) login_hint: &'a str,
    /// Which authority (tenant, authorization server) is signing in, if the
    /// provider has several.
    pub(super) authority: Option<&'a str>,
    /// The seeded users, offered as one-click buttons.
    pub(super) users: &'a [PageUser],
    /// A message to show above the form, if the last attempt was rejected.
    pub(super) error: Option<&'a str>,
}

impl SignInPage<'_> {
    /// The page as a complete HTML document.
    pub(super) fn render(&self) -> String {
        let mut body = String::new();
        body.push_str("<h1>Sign in</h1>");
        body.push_str(
            "<p class=\"note\">Development identity provider \u{2014} any account works. \
             Signing in to <code>",
        );
        body.push_str(&escape(self.client_id));
        body.push_str("</code>");
        if let Some(authority) = self.authority {
            body.push_str(" at ");
            body.push_str(&escape(authority));
        }
        body.push_str(".</p>");
        if let Some(error) = self.error {
            let _ = write!(
                body,
                "<p class=\"error\" role=\"alert\">{}</p>",
                escape(error)
            );
        }
        let _ = write!(
            body,
            "<form method=\"post\" action=\"{}\">",
            escape(self.action)
        );
        for (name, value) in self.hidden {
            let _ = write!(
                body,
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            );
        }
        let _ = write!(
            body,
            "<label for=\"login\">Login or e-mail</label>\
             <input type=\"text\" id=\"login\" name=\"login\" value=\"{}\" \
             autocomplete=\"username\" autofocus>\
             <button class=\"primary\" type=\"submit\">Sign in</button>",
            escape(self.login_hint)
        );
        if !self.users.is_empty() {
            body.push_str("<h2>Or continue as</h2><ul>");
            for user in self.users {
                let _ = write!(
                    body,
                    "<li><button type=\"submit\" name=\"user\" value=\"{}\">{}<small>{}</small></button></li>",
                    escape(&user.value),
                    escape(&user.name),
                    escape(&user.detail)
                );
            }
            body.push_str("</ul>");
        }
        body.push_str("</form>");
        document("Sign in \u{2014} development identity provider", &body)
    }
}

/// A page explaining why an authorization request cannot be served (and
/// cannot be redirected back to the client).
pub(super) fn error_page(message: &str) -> String {
    document(
        "Sign-in error \u{2014} development identity provider",
        &format!(
            "<h1>This sign-in request is invalid</h1><p class=\"error\">{}</p>\
             <p class=\"note\">The application sent a request this development identity \
             provider cannot accept. Check the client id and the registered redirect URIs.</p>",
            escape(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
        );
        assert_eq!(escape("plain é"), "plain é");
    }

    #[test]
    fn sign_in_page_escapes_everything_echoed() {
        let users = vec![PageUser::from(&DevUser {
            name: "<b>Eve</b>".into(),
            groups: vec!["\"admins\"".into()],
            ..DevUser::new("eve\"><script>")
        })];
        let html = SignInPage {
            action: "http://idp.test/authorize?\"",
            hidden: &[("state", "\"><script>alert(1)</script>")],
            client_id: "<client>",
            login_hint: "'onfocus='x",
            authority: Some("<tenant>"),
            users: &users,
            error: Some("<bad>"),
        }
        .render();
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>"));
        assert!(!html.contains("<client>"));
        assert!(!html.contains("<bad>"));
        assert!(!html.contains("<tenant>"));
        assert!(html.contains("&quot;admins&quot;"));
        assert!(!html.contains("'onfocus"));
        assert!(html.contains("&lt;b&gt;Eve&lt;/b&gt;"));
        assert!(html.contains("any account works"));
        assert!(error_page("<x>").contains("&lt;x&gt;"));
    }
}
