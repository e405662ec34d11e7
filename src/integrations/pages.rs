//! ssokit's default renderings of the SSO pages ([`Page::default_html`]):
//! plain, self-contained HTML with everything echoed escaped.

use std::fmt::Write as _;

use super::Page;

/// Escapes text for HTML content and quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:#f3f4f6;color:#111827;margin:0;line-height:1.5}\
main{max-width:27rem;margin:4rem auto;background:#fff;border:1px solid #e5e7eb;border-radius:12px;padding:2rem 2.25rem;box-shadow:0 1px 3px rgba(0,0,0,.06)}\
h1{font-size:1.3rem;margin:0 0 .75rem}\
p{margin:.5rem 0}\
.muted{color:#6b7280;font-size:.9rem}\
.alert{background:#fef2f2;border:1px solid #fecaca;color:#991b1b;border-radius:8px;padding:.6rem .8rem;font-size:.92rem}\
label{display:block;font-weight:600;font-size:.9rem;margin:.75rem 0 .3rem}\
input[type=email]{width:100%;padding:.6rem .75rem;border:1px solid #d1d5db;border-radius:8px;font-size:1rem}\
button{font:inherit;width:100%;margin-top:.9rem;padding:.65rem;border-radius:8px;border:0;background:#2563eb;color:#fff;font-weight:600;cursor:pointer}\
button.secondary{background:#fff;color:#111827;border:1px solid #d1d5db}\
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;background:#f3f4f6;padding:.1rem .35rem;border-radius:4px;font-size:.85rem}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n",
        esc(title)
    )
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        esc(name),
        esc(value)
    )
}

fn reference(trace_id: &str) -> String {
    format!(
        "<p class=\"muted\">Reference: <code id=\"trace-id\">{}</code></p>",
        esc(trace_id)
    )
}

pub(crate) fn render(page: &Page<'_>) -> String {
    let mut b = String::new();
    let title = match page {
        Page::Login {
            error,
            email,
            return_to,
        } => {
            b.push_str("<h1>Sign in</h1>");
            if let Some(e) = error {
                let _ = write!(b, "<p class=\"alert\" role=\"alert\">{}</p>", esc(e));
            }
            b.push_str("<form method=\"post\" action=\"/login\">");
            if let Some(r) = return_to {
                b.push_str(&hidden("return_to", r));
            }
            let _ = write!(
                b,
                "<label for=\"email\">Work e-mail</label>\
                 <input id=\"email\" name=\"email\" type=\"email\" value=\"{}\" \
                 autocomplete=\"username\" placeholder=\"you@company.com\" required autofocus>\
                 <button type=\"submit\">Next</button></form>\
                 <p class=\"muted\">You will continue at your organisation's sign-in page.</p>",
                esc(email.unwrap_or_default())
            );
            "Sign in"
        }
        Page::Choose {
            connections,
            return_to,
        } => {
            b.push_str(
                "<h1>Choose how to sign in</h1>\
                 <p class=\"muted\">Your organisation has several sign-in methods.</p>",
            );
            for c in *connections {
                b.push_str("<form method=\"post\" action=\"/login\">");
                b.push_str(&hidden("connection", c.id.as_str()));
                if let Some(r) = return_to {
                    b.push_str(&hidden("return_to", r));
                }
                let _ = write!(
                    b,
                    "<button type=\"submit\" class=\"secondary\">{}</button></form>",
                    esc(&c.name)
                );
            }
            "Choose how to sign in"
        }
        Page::LinkOffer {
            offer,
            masked_email,
            allow_new_account,
        } => {
            let _ = write!(
                b,
                "<h1>You already have an account</h1>\
                 <p>An account with the address <strong>{}</strong> exists. Add this sign-in \
                 method to it to use single sign-on from now on.</p>\
                 <p class=\"muted\">We will e-mail a confirmation link to that address. Open it \
                 in this browser within 5 minutes.</p>\
                 <form method=\"post\" action=\"/link/choose\">{}\
                 <button type=\"submit\" name=\"choice\" value=\"link\">Add to existing account</button>",
                esc(masked_email),
                hidden("offer", offer)
            );
            if *allow_new_account {
                b.push_str(
                    "<button type=\"submit\" name=\"choice\" value=\"new\" class=\"secondary\">\
                     Create a new account instead</button>",
                );
            }
            b.push_str("</form>");
            "Link your account"
        }
        Page::LinkMailed {
            masked_email,
            valid_for_secs,
        } => {
            let _ = write!(
                b,
                "<h1>Check your e-mail</h1>\
                 <p>We sent a confirmation link to <strong>{}</strong>. It is valid for {} \
                 minutes and works once, in this browser.</p>",
                esc(masked_email),
                valid_for_secs.div_ceil(60)
            );
            "Check your e-mail"
        }
        Page::Denied { reason, trace_id } => {
            let _ = write!(
                b,
                "<h1>You cannot sign in</h1><p class=\"alert\" role=\"alert\">{}</p>{}\
                 <p><a href=\"/\">Back to the start page</a></p>",
                esc(reason.message()),
                reference(trace_id)
            );
            "Cannot sign in"
        }
        Page::Error {
            message, trace_id, ..
        } => {
            let _ = write!(
                b,
                "<h1>We could not sign you in</h1><p class=\"alert\" role=\"alert\">{}</p>{}\
                 <p><a href=\"/\">Back to the start page</a></p>",
                esc(message),
                trace_id.map(reference).unwrap_or_default()
            );
            "Cannot sign in"
        }
    };
    document(title, &b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::DenyReason;

    #[test]
    fn everything_echoed_is_escaped() {
        let html = render(&Page::Login {
            error: Some("<script>"),
            email: Some("\"><img src=x>"),
            return_to: Some("/'x"),
        });
        assert!(
            !html.contains("<script>") && !html.contains("<img"),
            "{html}"
        );
        let html = render(&Page::LinkOffer {
            offer: "\"><b>",
            masked_email: "<i>",
            allow_new_account: true,
        });
        assert!(!html.contains("<b>") && !html.contains("<i>"));
        assert!(html.contains("value=\"new\""));
        let html = render(&Page::Denied {
            reason: &DenyReason::DuplicateEmail,
            trace_id: "<t>",
        });
        assert!(html.contains("&lt;t&gt;") && html.contains("Several accounts"));
    }
}
