use crate::error::BadRequest;

/// Accepts only same-origin relative paths (`/dashboard?tab=1`), so that
/// `return_to` can never become an open redirect. Refuses scheme-relative
/// (`//evil`), absolute (`https://evil`), backslash tricks (`/\evil`),
/// control characters and anything over 2 KiB. `None` or empty gives `/`.
pub fn validate_return_to(raw: Option<&str>) -> Result<String, BadRequest> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok("/".to_owned());
    };
    if raw.len() > 2048 {
        return Err(BadRequest::TooLarge("return_to"));
    }
    let bytes = raw.as_bytes();
    let ok_start = bytes[0] == b'/' && bytes.get(1).is_none_or(|b| *b != b'/' && *b != b'\\');
    if !ok_start
        || raw.contains('\\')
        || raw.chars().any(|c| c.is_control() || c.is_whitespace())
        || raw.contains("%5c")
        || raw.contains("%5C")
    {
        return Err(BadRequest::OpenRedirect);
    }
    // Resolve against a fixed origin: the result must stay on it.
    let base = url::Url::parse("https://origin.invalid/").map_err(|_| BadRequest::OpenRedirect)?;
    let joined = base.join(raw).map_err(|_| BadRequest::OpenRedirect)?;
    if joined.origin() != base.origin() {
        return Err(BadRequest::OpenRedirect);
    }
    let mut out = joined.path().to_owned();
    if let Some(q) = joined.query() {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = joined.fragment() {
        out.push('#');
        out.push_str(f);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_redirects_are_refused() {
        for bad in [
            "//evil",
            "//evil.example/path",
            "https://evil",
            "http://evil.example",
            "/\\evil",
            "\\\\evil",
            "/%5Cevil",
            "javascript:alert(1)",
            "evil.example",
            "/\tevil",
            " /x",
            "/x\r\nLocation: https://evil",
            "///evil",
            "data:text/html,x",
        ] {
            assert!(
                validate_return_to(Some(bad)).is_err(),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn relative_paths_pass() {
        assert_eq!(validate_return_to(None).unwrap(), "/");
        assert_eq!(validate_return_to(Some("")).unwrap(), "/");
        assert_eq!(
            validate_return_to(Some("/dash?tab=1#x")).unwrap(),
            "/dash?tab=1#x"
        );
        assert_eq!(validate_return_to(Some("/a/../b")).unwrap(), "/b");
    }

    #[test]
    fn oversized_is_refused() {
        let long = format!("/{}", "a".repeat(3000));
        assert_eq!(
            validate_return_to(Some(&long)),
            Err(BadRequest::TooLarge("return_to"))
        );
    }
}
