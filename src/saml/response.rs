//! Validation of a SAML `Response` from the `SAMLResponse` form value of an
//! HTTP-POST to the assertion consumer service.
//!
//! Everything in the result is read from the subtree whose signature
//! verified (the Assertion's, or the Response's when only the Response is
//! signed and the connection accepts that). Response-level fields that the
//! IdP usually leaves unsigned (Status, Destination, InResponseTo, Issuer)
//! must agree too, but the login is bound by the *signed* bearer
//! `SubjectConfirmationData` (Recipient, InResponseTo, NotOnOrAfter).
//!
//! The checks, all required (the union of the strictest SPs' rules):
//!
//! | what | rule |
//! |---|---|
//! | size | encoded ≤ [`ResponseLimits::max_encoded`], decoded ≤ [`ResponseLimits::max_decoded`]; XML limits of [`super::xml::Limits::PROTOCOL`] |
//! | structure | root `samlp:Response` Version 2.0 with an ID; exactly one `Assertion` in the whole document, a direct child of the Response; no `EncryptedAssertion`; `ds:Signature` only as a direct child of the Response or the Assertion |
//! | signatures | the Assertion signed (or, if the connection allows it, the Response signed around an unsigned Assertion); every signature present must verify |
//! | Status | top-level `StatusCode` = Success |
//! | Issuer | Response and Assertion Issuer present, equal to the IdP entity ID byte for byte, `Format` absent or `…:entity` |
//! | Destination | present and equal to the ACS URL (the POST binding requires it on signed messages; every major IdP sends it always) |
//! | InResponseTo | Response and every bearer `SubjectConfirmationData` equal to the pending AuthnRequest's ID; both absent for unsolicited responses |
//! | SubjectConfirmation | at least one, all `bearer`, each with `Recipient` = ACS URL and `NotOnOrAfter` in the future |
//! | Conditions | exactly one, `NotOnOrAfter` required, `NotBefore` respected, at least one `AudienceRestriction`, every one naming the SP entity ID; unknown conditions refused |
//! | times | skew ≤ 180 s; IssueInstant of Response and Assertion not older than [`Expectations::max_issue_age`] (90 s for unsolicited responses) nor in the future; `SessionNotOnOrAfter` not past; xs:dateTime in UTC (`Z`) only |
//! | subject | exactly one `NameID` (an `EncryptedID` is refused); `SPNameQualifier`, if present, = SP entity ID |
//! | statements | at least one `AuthnStatement`; an attribute `Name` appears once |
//!
//! Replay protection is the caller's: [`ValidatedAssertion::replay_key`] and
//! [`ValidatedAssertion::replay_until`] go to a [`super::ReplayCache`].

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::SamlError;
use super::dsig::{self, DSIG_NS, SignatureError, VerifiedElement};
use super::keys::TrustedKey;
use super::xml::{Document, Element, Limits, is_ncname, same};

/// The SAML 2.0 assertion namespace.
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// The SAML 2.0 protocol namespace.
pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// The largest accepted clock skew.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(180);
/// The largest accepted [`Expectations::max_issue_age`].
pub const MAX_ISSUE_AGE: Duration = Duration::from_secs(600);
/// The IssueInstant window for unsolicited (IdP-initiated) responses.
pub const UNSOLICITED_MAX_AGE: Duration = Duration::from_secs(90);

/// Size limits of a `SAMLResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// Largest base64 form value, in bytes. Default 256 KiB.
    pub max_encoded: usize,
    /// Largest decoded XML, in bytes. Default 192 KiB.
    pub max_decoded: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        Self {
            max_encoded: 256 * 1024,
            max_decoded: 192 * 1024,
        }
    }
}

/// What a Response must match.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// The IdP's entity ID (Issuer).
    pub idp_entity_id: &'a str,
    /// The SP's entity ID (Audience).
    pub sp_entity_id: &'a str,
    /// The ACS URL the Response was posted to (Destination, Recipient).
    pub acs_url: &'a str,
    /// The pending AuthnRequest's ID; `None` for an unsolicited response
    /// (only when the connection enables IdP-initiated login).
    pub in_response_to: Option<&'a str>,
    /// The IdP's trusted signing keys.
    pub keys: &'a [TrustedKey],
    /// Accept a signed Response around an unsigned Assertion.
    pub allow_unsigned_assertion_in_signed_response: bool,
    /// Allowed clock skew (at most [`MAX_CLOCK_SKEW`]).
    pub clock_skew: Duration,
    /// How old an IssueInstant may be (1 s to [`MAX_ISSUE_AGE`]).
    pub max_issue_age: Duration,
    /// Size limits.
    pub limits: ResponseLimits,
}

/// Which elements carried a verified signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignedParts {
    /// Only the Assertion.
    Assertion,
    /// Only the Response (the Assertion inside it is covered).
    Response,
    /// Both.
    Both,
}

/// A `NameID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameId {
    /// The value.
    pub value: String,
    /// The `Format` attribute.
    pub format: Option<String>,
    /// The `NameQualifier` attribute.
    pub name_qualifier: Option<String>,
    /// The `SPNameQualifier` attribute.
    pub sp_name_qualifier: Option<String>,
}

/// The persistent NameID format.
pub const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

/// A validated assertion: everything here comes from signed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidatedAssertion {
    /// The Assertion's ID.
    pub assertion_id: String,
    /// The issuer (the IdP entity ID).
    pub issuer: String,
    /// The subject's NameID.
    pub name_id: NameId,
    /// Attributes by `Name`, values in document order.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// The AuthnStatement's `SessionIndex`, if any.
    pub session_index: Option<String>,
    /// The AuthnStatement's `AuthnInstant`.
    pub authn_instant: Option<SystemTime>,
    /// Which parts were signed.
    pub signed: SignedParts,
    /// Until when the assertion could be accepted (latest NotOnOrAfter plus
    /// skew): keep its ID in a replay cache until then.
    pub replay_until: SystemTime,
}

impl ValidatedAssertion {
    /// The replay-cache key of this assertion: the IdP entity ID and the
    /// assertion ID, hashed.
    pub fn replay_key(&self) -> String {
        let mut input = Vec::with_capacity(self.issuer.len() + self.assertion_id.len() + 1);
        input.extend_from_slice(self.issuer.as_bytes());
        input.push(0);
        input.extend_from_slice(self.assertion_id.as_bytes());
        format!("saml-assertion:{}", crate::secret::sha256_hex(&input))
    }

    /// The first value of an attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

/// Parses an xs:dateTime in UTC (`2026-11-23T10:00:00Z`, with optional
/// fractional seconds). Time zones other than `Z` are refused, as SAML requires.
pub fn parse_instant(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || *b.last()? != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        b.get(r)?.iter().try_fold(0u64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
        })
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let rest = &b[19..b.len() - 1];
    let nanos = match rest {
        [] => 0,
        [b'.', digits @ ..]
            if !digits.is_empty()
                && digits.len() <= 12
                && digits.iter().all(u8::is_ascii_digit) =>
        {
            let mut n = 0u64;
            for i in 0..9 {
                n = n * 10 + digits.get(i).map_or(0, |d| u64::from(d - b'0'));
            }
            n
        }
        _ => return None,
    };
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&mo) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d < 1 || d > dim[(mo - 1) as usize] {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), for years ≥ 1970.
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2 / 400;
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec;
    Some(UNIX_EPOCH + Duration::new(secs, nanos as u32))
}

/// Formats a time as xs:dateTime in UTC with milliseconds.
pub fn format_instant(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

fn malformed(what: &'static str) -> SamlError {
    SamlError::Malformed(what)
}

fn only<'d>(
    mut it: impl Iterator<Item = Element<'d>>,
    err: impl Fn() -> SamlError,
) -> Result<Element<'d>, SamlError> {
    let first = it.next().ok_or_else(&err)?;
    if it.next().is_some() {
        return Err(err());
    }
    Ok(first)
}

fn time_attr(
    e: Element<'_>,
    name: &str,
    what: &'static str,
) -> Result<Option<SystemTime>, SamlError> {
    match e.attr(name) {
        None => Ok(None),
        Some(v) => parse_instant(v).map(Some).ok_or(SamlError::Malformed(what)),
    }
}

struct Clock {
    now: SystemTime,
    skew: Duration,
}

impl Clock {
    /// `now` is before `t` (+ skew): for NotOnOrAfter.
    fn before(&self, t: SystemTime) -> bool {
        self.now < t + self.skew
    }
    /// `t` is not after `now` (+ skew): for NotBefore and IssueInstant.
    fn reached(&self, t: SystemTime) -> bool {
        t <= self.now + self.skew
    }
}

fn check_issue_instant(
    e: Element<'_>,
    clock: &Clock,
    max_age: Duration,
    what: &'static str,
) -> Result<(), SamlError> {
    let t = time_attr(e, "IssueInstant", "IssueInstant is not a UTC xs:dateTime")?
        .ok_or(malformed("IssueInstant is missing"))?;
    if !clock.reached(t) {
        return Err(SamlError::NotYetValid(what));
    }
    if clock.now > t + max_age + clock.skew {
        return Err(SamlError::Expired(what));
    }
    Ok(())
}

fn check_issuer(parent: Element<'_>, idp: &str) -> Result<(), SamlError> {
    let issuer = only(parent.children_named(ASSERTION_NS, "Issuer"), || {
        SamlError::Issuer
    })?;
    if issuer.attr("Format").is_some_and(|f| f != ENTITY) {
        return Err(SamlError::Issuer);
    }
    match issuer.text_ref() {
        Some(t) if t == idp => Ok(()),
        _ => Err(SamlError::Issuer),
    }
}

fn check_version_and_id<'d>(e: Element<'d>) -> Result<&'d str, SamlError> {
    if e.attr("Version") != Some("2.0") {
        return Err(malformed("Version is not 2.0"));
    }
    let id = e.attr("ID").ok_or(malformed("the ID is missing"))?;
    if !is_ncname(id) {
        return Err(malformed("the ID is not an XML name"));
    }
    Ok(id)
}

/// An Assertion inside a verified subtree; only made from a [`VerifiedElement`].
struct SignedAssertion<'d> {
    assertion: Element<'d>,
}

impl<'d> SignedAssertion<'d> {
    fn new(verified: &VerifiedElement<'d>, assertion: Element<'d>) -> Option<Self> {
        (assertion.is_within(&verified.element()) && verified.signature().id() != assertion.id())
            .then_some(Self { assertion })
    }
}

/// Validates the base64 `SAMLResponse` form value.
pub fn validate_response(
    encoded: &str,
    expect: &Expectations<'_>,
    now: SystemTime,
) -> Result<ValidatedAssertion, SamlError> {
    if expect.clock_skew > MAX_CLOCK_SKEW {
        return Err(SamlError::Config(
            "the clock skew must be at most 180 seconds".into(),
        ));
    }
    if expect.max_issue_age > MAX_ISSUE_AGE || expect.max_issue_age.is_zero() {
        return Err(SamlError::Config(
            "the maximum issue age must be between 1 and 600 seconds".into(),
        ));
    }
    if expect.keys.is_empty() {
        return Err(SamlError::Config("no trusted IdP signing key".into()));
    }
    if encoded.len() > expect.limits.max_encoded {
        return Err(SamlError::TooLarge);
    }
    if encoded.len() / 4 * 3 > expect.limits.max_decoded + 3 + encoded.len() / 10 {
        return Err(SamlError::TooLarge);
    }
    // Most IdPs send one line; some wrap at 76 columns: strip whitespace
    // only when a plain decode fails.
    // The decoded bytes become the parsed document's buffer, with room for
    // what parsing appends.
    let spare = super::xml::spare_capacity(encoded.len() / 4 * 3) - encoded.len() / 4 * 3;
    let xml = match super::b64::decode(encoded.as_bytes(), spare) {
        Some(xml) => xml,
        None => {
            let mut clean = encoded.as_bytes().to_vec();
            clean.retain(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
            super::b64::decode(&clean, spare).ok_or(SamlError::Base64)?
        }
    };
    if xml.len() > expect.limits.max_decoded {
        return Err(SamlError::TooLarge);
    }
    let limits = Limits {
        max_bytes: expect.limits.max_decoded,
        ..Limits::PROTOCOL
    };
    let doc = Document::parse_vec(xml, &limits).map_err(|e| match e {
        super::xml::XmlError::TooLarge => SamlError::TooLarge,
        e => SamlError::Xml(e),
    })?;
    validate_document(&doc, expect, now)
}

/// The top-level Status must be Success. Read before anything else: a
/// failed sign-in carries no assertion, and the IdP's status is the error
/// to report. Unsigned, so it can only ever make a Response fail.
fn check_status(root: Element<'_>) -> Result<(), SamlError> {
    let status = only(root.children_named(PROTOCOL_NS, "Status"), || {
        malformed("the Response must have one Status")
    })?;
    let code = only(status.children_named(PROTOCOL_NS, "StatusCode"), || {
        malformed("the Status must have one StatusCode")
    })?;
    let value = code.attr("Value").unwrap_or("");
    if value != SUCCESS {
        let nested = code
            .children_named(PROTOCOL_NS, "StatusCode")
            .next()
            .and_then(|c| c.attr("Value"))
            .unwrap_or("");
        let short = |v: &str| -> String {
            v.rsplit(':')
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(40)
                .collect()
        };
        let mut s = short(value);
        if !nested.is_empty() {
            s.push('/');
            s.push_str(&short(nested));
        }
        return Err(SamlError::Status(s));
    }
    Ok(())
}

/// Validates a parsed Response document (see [`validate_response`]).
pub fn validate_document(
    doc: &Document,
    expect: &Expectations<'_>,
    now: SystemTime,
) -> Result<ValidatedAssertion, SamlError> {
    let root = doc.root();
    if !root.is(PROTOCOL_NS, "Response") {
        return Err(malformed("the message is not a SAML 2.0 Response"));
    }
    check_status(root)?;
    // Structure over the whole document: one Assertion, signatures in place.
    let mut assertions = 0usize;
    // Namespaces compared by their ids in the document (a namespace the
    // document does not use matches no element).
    let assertion_ns = doc.ns_id(ASSERTION_NS);
    let dsig_ns = doc.ns_id(DSIG_NS);
    for e in doc.elements() {
        let ns = Some(e.ns_id());
        let local = e.local_name();
        if ns == assertion_ns {
            if same(local, "EncryptedAssertion") {
                return Err(SamlError::EncryptedAssertion);
            }
            if same(local, "Assertion") {
                assertions += 1;
                if e.parent().map(|p| p.id()) != Some(root.id()) {
                    return Err(SamlError::AssertionCount);
                }
            }
        } else if ns == dsig_ns && same(local, "Signature") {
            let parent = e
                .parent()
                .ok_or(SamlError::Signature(SignatureError::Placement))?;
            let ok = parent.id() == root.id()
                || (parent.is(ASSERTION_NS, "Assertion")
                    && parent.parent().map(|p| p.id()) == Some(root.id()));
            if !ok {
                return Err(SamlError::Signature(SignatureError::Placement));
            }
        }
    }
    if assertions != 1 {
        return Err(SamlError::AssertionCount);
    }
    let assertion = only(root.children_named(ASSERTION_NS, "Assertion"), || {
        SamlError::AssertionCount
    })?;

    // Signatures: every one present must verify.
    let resp_sig = dsig::signature_child(root).map_err(SamlError::Signature)?;
    let asrt_sig = dsig::signature_child(assertion).map_err(SamlError::Signature)?;
    let verified_response = match resp_sig {
        Some(_) => Some(dsig::verify_enveloped(root, expect.keys).map_err(SamlError::Signature)?),
        None => None,
    };
    let verified_assertion = match asrt_sig {
        Some(_) => {
            Some(dsig::verify_enveloped(assertion, expect.keys).map_err(SamlError::Signature)?)
        }
        None => None,
    };
    let (signed, scope) = match (&verified_response, &verified_assertion) {
        (_, Some(va)) => (
            if verified_response.is_some() {
                SignedParts::Both
            } else {
                SignedParts::Assertion
            },
            SignedAssertion::new(va, assertion),
        ),
        (Some(vr), None) => {
            if !expect.allow_unsigned_assertion_in_signed_response {
                return Err(SamlError::UnsignedAssertion);
            }
            (SignedParts::Response, SignedAssertion::new(vr, assertion))
        }
        (None, None) => return Err(SamlError::Signature(SignatureError::Missing)),
    };
    let scope = scope.ok_or(SamlError::Signature(SignatureError::Reference))?;

    let clock = Clock {
        now,
        skew: expect.clock_skew,
    };
    let max_age = match expect.in_response_to {
        Some(_) => expect.max_issue_age,
        None => expect.max_issue_age.min(UNSOLICITED_MAX_AGE),
    };

    // Response level.
    check_version_and_id(root)?;
    check_issue_instant(root, &clock, max_age, "the Response's IssueInstant")?;
    if root.attr("Destination") != Some(expect.acs_url) {
        return Err(SamlError::Destination);
    }
    check_issuer(root, expect.idp_entity_id)?;
    match (expect.in_response_to, root.attr("InResponseTo")) {
        (Some(want), Some(got)) if got == want => {}
        (None, None) => {}
        (None, Some(_)) => return Err(SamlError::InResponseTo),
        (Some(_), None) => return Err(SamlError::Unsolicited),
        (Some(_), Some(_)) => return Err(SamlError::InResponseTo),
    }

    // Assertion level: only from the signed scope.
    let a = scope.assertion;
    let assertion_id = check_version_and_id(a)?.to_owned();
    check_issue_instant(a, &clock, max_age, "the Assertion's IssueInstant")?;
    check_issuer(a, expect.idp_entity_id)?;

    let subject = only(a.children_named(ASSERTION_NS, "Subject"), || {
        malformed("the Assertion must have one Subject")
    })?;
    if subject
        .children_named(ASSERTION_NS, "EncryptedID")
        .next()
        .is_some()
    {
        return Err(SamlError::EncryptedAssertion);
    }
    let name_id_el = only(subject.children_named(ASSERTION_NS, "NameID"), || {
        malformed("the Subject must have one NameID")
    })?;
    let name_id = NameId {
        value: name_id_el
            .text()
            .ok_or(malformed("the NameID has markup"))?,
        format: name_id_el.attr("Format").map(str::to_owned),
        name_qualifier: name_id_el.attr("NameQualifier").map(str::to_owned),
        sp_name_qualifier: name_id_el.attr("SPNameQualifier").map(str::to_owned),
    };
    if name_id.value.trim().is_empty() {
        return Err(malformed("the NameID is empty"));
    }
    if name_id
        .sp_name_qualifier
        .as_deref()
        .is_some_and(|q| q != expect.sp_entity_id)
    {
        return Err(SamlError::Audience);
    }
    let mut latest = SystemTime::UNIX_EPOCH;
    let mut confirmations = 0;
    for sc in subject.children_named(ASSERTION_NS, "SubjectConfirmation") {
        confirmations += 1;
        if sc.attr("Method") != Some(BEARER) {
            return Err(SamlError::SubjectConfirmation(
                "only bearer subject confirmation is accepted",
            ));
        }
        let scd = only(
            sc.children_named(ASSERTION_NS, "SubjectConfirmationData"),
            || {
                SamlError::SubjectConfirmation(
                    "a bearer SubjectConfirmation needs one SubjectConfirmationData",
                )
            },
        )?;
        if scd.attr("Recipient") != Some(expect.acs_url) {
            return Err(SamlError::Recipient);
        }
        match (expect.in_response_to, scd.attr("InResponseTo")) {
            (Some(want), Some(got)) if got == want => {}
            (None, None) => {}
            (Some(_), None) => return Err(SamlError::Unsolicited),
            _ => return Err(SamlError::InResponseTo),
        }
        let noa = time_attr(
            scd,
            "NotOnOrAfter",
            "SubjectConfirmationData NotOnOrAfter is not a UTC xs:dateTime",
        )?
        .ok_or(SamlError::SubjectConfirmation(
            "SubjectConfirmationData has no NotOnOrAfter",
        ))?;
        if !clock.before(noa) {
            return Err(SamlError::Expired("the SubjectConfirmationData"));
        }
        if let Some(nb) = time_attr(
            scd,
            "NotBefore",
            "SubjectConfirmationData NotBefore is not a UTC xs:dateTime",
        )? && !clock.reached(nb)
        {
            return Err(SamlError::NotYetValid("the SubjectConfirmationData"));
        }
        latest = latest.max(noa);
    }
    if confirmations == 0 {
        return Err(SamlError::SubjectConfirmation(
            "the Subject has no bearer SubjectConfirmation",
        ));
    }

    let conditions = only(a.children_named(ASSERTION_NS, "Conditions"), || {
        malformed("the Assertion must have one Conditions")
    })?;
    if let Some(nb) = time_attr(
        conditions,
        "NotBefore",
        "Conditions NotBefore is not a UTC xs:dateTime",
    )? && !clock.reached(nb)
    {
        return Err(SamlError::NotYetValid("the Assertion's Conditions"));
    }
    let noa = time_attr(
        conditions,
        "NotOnOrAfter",
        "Conditions NotOnOrAfter is not a UTC xs:dateTime",
    )?
    .ok_or(malformed("Conditions has no NotOnOrAfter"))?;
    if !clock.before(noa) {
        return Err(SamlError::Expired("the Assertion's Conditions"));
    }
    latest = latest.max(noa);
    let mut restrictions = 0;
    let mut one_time_use = 0;
    for c in conditions.child_elements() {
        match (c.namespace(), c.local_name()) {
            (ASSERTION_NS, "AudienceRestriction") => {
                restrictions += 1;
                let mut ours = false;
                for aud in c.child_elements() {
                    if !aud.is(ASSERTION_NS, "Audience") {
                        return Err(SamlError::Audience);
                    }
                    if aud.text_ref() == Some(expect.sp_entity_id) {
                        ours = true;
                    }
                }
                if !ours {
                    return Err(SamlError::Audience);
                }
            }
            (ASSERTION_NS, "OneTimeUse") => {
                one_time_use += 1;
                if one_time_use > 1 {
                    return Err(malformed("OneTimeUse appears twice"));
                }
            }
            (ASSERTION_NS, "ProxyRestriction") => {}
            _ => {
                return Err(malformed(
                    "the Conditions contain a condition ssokit does not understand",
                ));
            }
        }
    }
    if restrictions == 0 {
        return Err(SamlError::Audience);
    }

    let mut session_index = None;
    let mut authn_instant = None;
    let mut authn = 0;
    for st in a.children_named(ASSERTION_NS, "AuthnStatement") {
        authn += 1;
        if let Some(t) = time_attr(
            st,
            "SessionNotOnOrAfter",
            "SessionNotOnOrAfter is not a UTC xs:dateTime",
        )? && !clock.before(t)
        {
            return Err(SamlError::Expired("the IdP session"));
        }
        if authn == 1 {
            session_index = st.attr("SessionIndex").map(str::to_owned);
            authn_instant = time_attr(st, "AuthnInstant", "AuthnInstant is not a UTC xs:dateTime")?;
        }
    }
    if authn == 0 {
        return Err(malformed("the Assertion has no AuthnStatement"));
    }
    if a.children_named(ASSERTION_NS, "Statement").next().is_some() {
        return Err(malformed(
            "the Assertion has a statement ssokit does not understand",
        ));
    }

    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for st in a.children_named(ASSERTION_NS, "AttributeStatement") {
        for attr in st.child_elements() {
            if attr.is(ASSERTION_NS, "EncryptedAttribute") {
                continue;
            }
            if !attr.is(ASSERTION_NS, "Attribute") {
                return Err(malformed("an AttributeStatement has unexpected content"));
            }
            let name = attr
                .attr("Name")
                .ok_or(malformed("an Attribute has no Name"))?;
            let std::collections::btree_map::Entry::Vacant(slot) =
                attributes.entry(name.to_owned())
            else {
                return Err(malformed("an Attribute Name appears twice"));
            };
            let mut values = Vec::new();
            for v in attr.children_named(ASSERTION_NS, "AttributeValue") {
                if v.attr_ns(XSI_NS, "nil")
                    .is_some_and(|n| n == "true" || n == "1")
                {
                    continue;
                }
                // Values with element content (complex types) are not used.
                if let Some(text) = v.text() {
                    values.push(text);
                }
            }
            slot.insert(values);
        }
    }

    Ok(ValidatedAssertion {
        assertion_id,
        issuer: expect.idp_entity_id.to_owned(),
        name_id,
        attributes,
        session_index,
        authn_instant,
        signed,
        replay_until: latest + expect.clock_skew,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants() {
        let t = parse_instant("2026-11-23T10:00:00Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_795_428_000
        );
        assert_eq!(format_instant(t), "2026-11-23T10:00:00.000Z");
        let f = parse_instant("2024-02-29T23:59:59.1234567Z").unwrap();
        assert_eq!(format_instant(f), "2024-02-29T23:59:59.123Z");
        for bad in [
            "2026-11-23T10:00:00",
            "2026-11-23T10:00:00+01:00",
            "2026-11-23T10:00:60Z",
            "2023-02-29T10:00:00Z",
            "2026-11-23 10:00:00Z",
            "2026-11-23T10:00:00.Z",
            "+2026-11-23T10:00:00Z",
        ] {
            assert!(parse_instant(bad).is_none(), "{bad}");
        }
    }
}
