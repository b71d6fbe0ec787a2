//! The query protocol as the proxy's emulators answer it (CloudFormation's drift and stack-set
//! calls, which moto lacks or plays too simply): who signed a call, and XML in the API
//! Reference's shapes, every value escaped.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use aws_sdk_cloudformation::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudformation::primitives::{DateTime, DateTimeFormat};
use aws_sdk_cloudformation::Client;
use axum::http::HeaderMap;

/// Who calls: what SigV4 signed the call with. moto keeps stacks and stack sets per account (which it tells
/// by the access key) and per Region, so the proxy reads moto as the caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Caller {
    pub(crate) access_key_id: String,
    pub(crate) region: String,
    pub(crate) session_token: Option<String>,
}

impl Caller {
    /// A CloudFormation client that reads moto at `upstream` as this caller: moto takes any
    /// secret, the access key alone names the account.
    pub(crate) fn client(&self, upstream: &str) -> Client {
        let credentials = Credentials::new(
            &self.access_key_id,
            "local-proxy",
            self.session_token.clone(),
            None,
            "local-proxy",
        );
        let config = aws_sdk_cloudformation::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(credentials)
            .endpoint_url(upstream)
            .build();
        Client::from_conf(config)
    }

    /// `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, …`.
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let credential = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|a| a.split("Credential=").nth(1))
            .unwrap_or_default();
        let mut parts = credential.split(['/', ',']);
        let access_key_id = parts
            .next()
            .filter(|k| !k.is_empty())
            .unwrap_or("local-proxy");
        let region = parts
            .nth(1)
            .filter(|r| !r.is_empty())
            .unwrap_or("us-east-1");
        Self {
            access_key_id: access_key_id.to_owned(),
            region: region.to_owned(),
            session_token: headers
                .get("x-amz-security-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }
}

/// CloudFormation's XML namespace.
const NAMESPACE: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

/// `text` safe inside an element: markup escaped, and the characters XML 1.0 cannot hold at
/// all (most control characters) left out, as no parser would take them.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // A CR would read back as a LF.
            '\r' => out.push_str("&#xD;"),
            '\t' | '\n' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// An element with escaped text.
pub(crate) fn element(out: &mut String, name: &str, value: &str) {
    out.push_str(&format!("<{name}>{}</{name}>", escape(value)));
}

/// The whole answer to `action`, its result's elements `result`.
pub(crate) fn response(action: &str, result: &str, request_id: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{NAMESPACE}\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        escape(request_id)
    )
}

/// A `Sender` error, as CloudFormation answers a `ValidationError`.
pub(crate) fn sender_error(code: &str, message: &str, request_id: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        escape(code),
        escape(message),
        escape(request_id)
    )
}

/// The mutex's value, even if a holder panicked: the emulators' state stays readable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Now, as the API's timestamps give it (ISO 8601).
pub(crate) fn now() -> String {
    DateTime::from(SystemTime::now())
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_is_read_from_its_signature() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-2/cloudformation/aws4_request, SignedHeaders=host, Signature=x"
                .parse()
                .expect("header"),
        );
        let caller = Caller::of(&headers);
        assert_eq!(
            (caller.access_key_id.as_str(), caller.region.as_str()),
            ("AKIDEXAMPLE", "eu-west-2")
        );
        assert_eq!(Caller::of(&HeaderMap::new()).region, "us-east-1");
    }
}
