//! The endpoints, framework-agnostic: what the axum and actix-web modules
//! call after extracting cookies, query and body from their own request
//! types.

use http::{HeaderValue, StatusCode, header};
use url::form_urlencoded;

use super::{NewSession, Page, SsoHost, SsoRoutes, cookie_value};
use crate::error::{BadRequest, ErrorKind};
use crate::flow::{Begin, ChoiceOutcome, FLOW_COOKIE, LinkOffer, Outcome};
use crate::secret::random_token;
use crate::{BeginLogin, ConnectionId, Error, LinkChoice, LoginHint};

/// Largest form body accepted by `POST /login` and `POST /link/choose`.
pub(crate) const FORM_LIMIT: usize = 16 * 1024;
/// Largest body accepted by the SAML ACS (responses carry certificates).
#[cfg(feature = "saml")]
pub(crate) const SAML_LIMIT: usize = 256 * 1024;
/// Largest SCIM request body.
#[cfg(feature = "scim")]
pub(crate) const SCIM_LIMIT: usize = 1024 * 1024;
/// The largest of the limits: what the framework's body limit is set to.
#[cfg(not(feature = "saml"))]
pub(crate) const BODY_LIMIT: usize = FORM_LIMIT;
/// The largest of the limits: what the framework's body limit is set to.
#[cfg(feature = "saml")]
pub(crate) const BODY_LIMIT: usize = SAML_LIMIT;

/// A request as the endpoints see it.
pub(crate) struct Incoming<'a> {
    /// The `Cookie` header values.
    pub(crate) cookies: Vec<&'a str>,
    /// The query string, without `?`.
    pub(crate) query: &'a str,
    /// The body.
    pub(crate) body: &'a [u8],
}

impl Incoming<'_> {
    fn cookie(&self, name: &str) -> Option<&str> {
        cookie_value(self.cookies.iter().copied(), name).filter(|v| !v.is_empty())
    }

    /// The form body's fields: the first value of each name.
    fn form(&self) -> Result<Vec<(String, String)>, Error> {
        if self.body.len() > FORM_LIMIT {
            return Err(BadRequest::TooLarge("form").into());
        }
        Ok(form_urlencoded::parse(self.body).into_owned().collect())
    }
}

fn field<'f>(form: &'f [(String, String)], name: &str) -> Option<&'f str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A response: status, headers, an HTML (or XML) body.
pub(crate) type Reply = http::Response<String>;

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Reply {
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    no_store(h);
    resp
}

fn no_store(h: &mut http::HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'"),
    );
}

fn see_other(location: &str) -> Reply {
    let mut resp = reply(
        StatusCode::SEE_OTHER,
        "text/plain; charset=utf-8",
        String::new(),
    );
    match HeaderValue::from_str(location) {
        Ok(v) => {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR,
    }
    resp
}

fn add_cookie(resp: &mut Reply, value: String) {
    // Cookie names come from the host and values are base64url; a header
    // that does not parse is dropped rather than sent half-formed.
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The user-facing sentence of an error: the typed message for 4xx, a
/// generic one for 5xx (details stay in the events).
fn user_message(err: &Error) -> String {
    let text = match err.kind() {
        _ if err.status() >= 500 => {
            return "Something went wrong on our side. Try again; if it keeps failing, \
                    give your administrator the reference below."
                .to_owned();
        }
        ErrorKind::BadRequest(e) => e.to_string(),
        ErrorKind::Flow(e) => e.to_string(),
        ErrorKind::Link(e) => e.to_string(),
        _ => {
            let full = err.to_string();
            match err.trace_id() {
                Some(t) => full
                    .strip_suffix(&format!(" (trace id {t})"))
                    .unwrap_or(&full)
                    .to_owned(),
                None => full,
            }
        }
    };
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

impl<H: SsoHost> SsoRoutes<H> {
    /// A `Set-Cookie` value with the security attributes.
    pub(crate) fn cookie(&self, name: &str, value: &str, max_age_secs: u64) -> String {
        let secure = if self.sso.config().public_url.scheme() == "https" {
            "; Secure"
        } else {
            ""
        };
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
    }

    fn page(&self, status: StatusCode, page: &Page<'_>) -> Reply {
        reply(status, "text/html; charset=utf-8", self.host.render(page))
    }

    fn error_page(&self, err: &Error) -> Reply {
        let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let message = user_message(err);
        self.page(
            status,
            &Page::Error {
                status: status.as_u16(),
                message: &message,
                trace_id: err.trace_id().map(|t| t.as_str()),
            },
        )
    }

    /// Keeps the flow cookie alive for the next step (a link offer waits up
    /// to `offer_ttl`, a mailed link up to `link_ttl`).
    fn refresh_flow_cookie(&self, resp: &mut Reply, inc: &Incoming<'_>) {
        if let Some(flow) = inc.cookie(FLOW_COOKIE) {
            let cfg = self.sso.config();
            let secs = cfg.offer_ttl.max(cfg.link_ttl).as_secs();
            add_cookie(resp, self.cookie(FLOW_COOKIE, flow, secs));
        }
    }

    /// `POST /login`.
    pub(crate) async fn login(&self, inc: Incoming<'_>) -> Reply {
        let form = match inc.form() {
            Ok(f) => f,
            Err(e) => return self.error_page(&e),
        };
        let email = field(&form, "email");
        let return_to = field(&form, "return_to");
        let hint = match (field(&form, "connection"), email) {
            (Some(id), _) => LoginHint::Connection(ConnectionId::new(id)),
            (None, Some(email)) => LoginHint::Email(email.to_owned()),
            (None, None) => {
                return self.page(
                    StatusCode::BAD_REQUEST,
                    &Page::Login {
                        error: Some("Type your work e-mail address."),
                        email: None,
                        return_to,
                    },
                );
            }
        };
        let begin = self
            .sso
            .begin_login(BeginLogin {
                hint,
                return_to: return_to.map(str::to_owned),
            })
            .await;
        match begin {
            Ok(Begin::Redirect(r)) => {
                let mut resp = see_other(r.url.as_str());
                let ttl = self.sso.config().login_ttl.as_secs();
                add_cookie(
                    &mut resp,
                    self.cookie(FLOW_COOKIE, r.flow_cookie.expose(), ttl),
                );
                resp
            }
            Ok(Begin::Choose(c)) => self.page(
                StatusCode::OK,
                &Page::Choose {
                    connections: &c.connections,
                    return_to,
                },
            ),
            Err(e) if e.status() < 500 => {
                let message = user_message(&e);
                let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
                let return_to = return_to.filter(|_| {
                    !matches!(e.kind(), ErrorKind::BadRequest(BadRequest::OpenRedirect))
                });
                self.page(
                    status,
                    &Page::Login {
                        error: Some(&message),
                        email,
                        return_to,
                    },
                )
            }
            Err(e) => self.error_page(&e),
        }
    }

    /// `GET /sso/oidc/callback`.
    pub(crate) async fn oidc_callback(&self, inc: Incoming<'_>) -> Reply {
        let result = self
            .sso
            .complete_login(inc.query, inc.cookie(FLOW_COOKIE))
            .await;
        self.outcome(result, &inc).await
    }

    /// `POST /link/choose`.
    pub(crate) async fn link_choose(&self, inc: Incoming<'_>) -> Reply {
        let form = match inc.form() {
            Ok(f) => f,
            Err(e) => return self.error_page(&e),
        };
        let choice = match field(&form, "choice") {
            Some("link") => LinkChoice::Link,
            Some("new") => LinkChoice::NewAccount,
            _ => return self.error_page(&BadRequest::Malformed("choice").into()),
        };
        let offer = field(&form, "offer").unwrap_or_default();
        match self
            .sso
            .choose(offer, inc.cookie(FLOW_COOKIE), choice)
            .await
        {
            Ok(ChoiceOutcome::LinkMailed {
                masked_email,
                valid_for_secs,
                ..
            }) => {
                let mut resp = self.page(
                    StatusCode::OK,
                    &Page::LinkMailed {
                        masked_email: &masked_email,
                        valid_for_secs,
                    },
                );
                self.refresh_flow_cookie(&mut resp, &inc);
                resp
            }
            Ok(ChoiceOutcome::Outcome(o)) => self.outcome(Ok(o), &inc).await,
            Err(e) => self.error_page(&e),
        }
    }

    /// `GET /link/confirm?token=…`.
    pub(crate) async fn link_confirm(&self, inc: Incoming<'_>) -> Reply {
        let token = form_urlencoded::parse(inc.query.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let result = self.sso.confirm_link(&token, inc.cookie(FLOW_COOKIE)).await;
        self.outcome(result, &inc).await
    }

    /// Turns an outcome into a response: a new session on sign-in.
    async fn outcome(&self, result: Result<Outcome, Error>, inc: &Incoming<'_>) -> Reply {
        let clear_flow = self.cookie(FLOW_COOKIE, "", 0);
        match result {
            Ok(Outcome::SignedIn(signed_in)) => {
                // Always a fresh id: one planted before the login is worthless.
                let id = random_token(32);
                let name = self.host.session_cookie();
                let session = NewSession {
                    id: &id,
                    previous: inc.cookie(name),
                    signed_in: &signed_in,
                };
                if let Err(e) = self.host.start_session(session).await {
                    return self.error_page(&e);
                }
                let mut resp = see_other(&signed_in.return_to);
                let max_age = self.host.session_max_age().as_secs();
                add_cookie(&mut resp, self.cookie(name, &id, max_age));
                add_cookie(&mut resp, clear_flow);
                resp
            }
            Ok(Outcome::LinkOffered(LinkOffer {
                offer,
                masked_email,
                allow_new_account,
                ..
            })) => {
                let mut resp = self.page(
                    StatusCode::OK,
                    &Page::LinkOffer {
                        offer: offer.expose(),
                        masked_email: &masked_email,
                        allow_new_account,
                    },
                );
                self.refresh_flow_cookie(&mut resp, inc);
                resp
            }
            Ok(Outcome::Denied(d)) => {
                let mut resp = self.page(
                    StatusCode::FORBIDDEN,
                    &Page::Denied {
                        reason: &d.reason,
                        trace_id: d.trace_id.as_str(),
                    },
                );
                add_cookie(&mut resp, clear_flow);
                resp
            }
            Err(e) => self.error_page(&e),
        }
    }
}

#[cfg(feature = "saml")]
mod saml {
    use super::*;
    use crate::flow::{REPOST_MARKER, needs_same_site_repost, same_site_repost};

    impl<H: SsoHost> SsoRoutes<H> {
        /// `POST /sso/saml/acs`: the form body (`SAMLResponse=…&RelayState=…`)
        /// is the callback's parameters.
        ///
        /// The IdP's POST is a cross-site request, on which browsers do not
        /// send the `SameSite=Lax` flow cookie. When it is missing, the route
        /// answers with a page that posts the same fields to itself from this
        /// site ([`same_site_repost`]), which carries the cookie; only then is
        /// the response checked.
        pub(crate) async fn saml_acs(&self, inc: Incoming<'_>) -> Reply {
            if inc.body.len() > SAML_LIMIT {
                return self.error_page(&BadRequest::TooLarge("SAMLResponse").into());
            }
            let Ok(form) = std::str::from_utf8(inc.body) else {
                return self.error_page(&BadRequest::Malformed("SAMLResponse").into());
            };
            let flow = inc.cookie(FLOW_COOKIE);
            if needs_same_site_repost(form, flow) {
                let page = same_site_repost("/sso/saml/acs", form);
                let mut resp = reply(StatusCode::OK, "text/html; charset=utf-8", page);
                resp.headers_mut().insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'none'; script-src 'unsafe-inline'; form-action 'self'; \
                         frame-ancestors 'none'",
                    ),
                );
                return resp;
            }
            let params: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form_urlencoded::parse(inc.body).filter(|(k, _)| k != REPOST_MARKER))
                .finish();
            let result = self.sso.complete_login(&params, flow).await;
            self.outcome(result, &inc).await
        }

        /// `GET /sso/saml/metadata?connection=ID`.
        pub(crate) async fn saml_metadata_xml(&self, inc: Incoming<'_>) -> Reply {
            let id = form_urlencoded::parse(inc.query.as_bytes())
                .find(|(k, _)| k == "connection")
                .map(|(_, v)| v.into_owned())
                .filter(|v| !v.is_empty() && v.len() <= 256);
            let Some(id) = id else {
                return self.error_page(&BadRequest::MissingParameter("connection").into());
            };
            let id = ConnectionId::new(id);
            let xml = match self.saml_metadata.clone() {
                Some(metadata) => metadata(self.sso.clone(), id).await,
                None => self.sso.saml_metadata(&id).await,
            };
            match xml {
                Ok(xml) => {
                    let mut resp = reply(StatusCode::OK, "application/samlmetadata+xml", xml);
                    // Metadata is public and may be cached briefly.
                    resp.headers_mut().insert(
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, max-age=300"),
                    );
                    resp
                }
                Err(e) => self.error_page(&e),
            }
        }
    }
}

#[cfg(feature = "scim")]
impl<H: SsoHost> SsoRoutes<H> {
    /// Whether a SCIM service is mounted.
    pub(crate) fn has_scim(&self) -> bool {
        self.scim.is_some()
    }

    /// Forwards a request under `/scim/v2` to the SCIM service.
    pub(crate) async fn scim_forward(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> http::Response<Vec<u8>> {
        match self.scim.clone() {
            Some(service) => service(req).await,
            None => {
                let mut resp = http::Response::new(Vec::new());
                *resp.status_mut() = StatusCode::NOT_FOUND;
                resp
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_sentences_without_trace_ids() {
        let e = Error::from(BadRequest::ConsumerDomain);
        let m = user_message(&e);
        assert!(m.starts_with("Personal e-mail providers"), "{m}");
        assert!(m.ends_with('.'));
        let e = Error::new(ErrorKind::Config("secret internal detail".into()));
        assert!(!user_message(&e).contains("secret"));
    }

    #[test]
    fn forms_are_capped() {
        let body = vec![b'a'; FORM_LIMIT + 1];
        let inc = Incoming {
            cookies: vec![],
            query: "",
            body: &body,
        };
        assert_eq!(inc.form().unwrap_err().status(), 413);
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let inc = Incoming {
            cookies: vec!["xssokit_flow=a; ssokit_flow=b", "ssokit_flow=c"],
            query: "",
            body: b"",
        };
        assert_eq!(inc.cookie(FLOW_COOKIE), Some("b"));
        let none = Incoming {
            cookies: vec!["ssokit_flow="],
            query: "",
            body: b"",
        };
        assert_eq!(none.cookie(FLOW_COOKIE), None);
    }
}
