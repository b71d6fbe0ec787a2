//! Where an object lies in S3, and the two ways to write it down: `s3://bucket/key`, and the
//! HTTPS URL CloudFormation's `TemplateURL` takes.

/// Where an object lies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The bucket.
    pub bucket: String,
    /// The object's key.
    pub key: String,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// A URL that names no S3 object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{url}` is not an S3 object URL: {why}; write s3://bucket/key or https://bucket.s3.REGION.amazonaws.com/key")]
pub struct UrlError {
    /// The URL given.
    pub url: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl Location {
    /// Reads `s3://bucket/key`, or an HTTPS S3 URL in virtual-hosted
    /// (`https://bucket.s3.REGION.amazonaws.com/key`) or path style
    /// (`https://s3.REGION.amazonaws.com/bucket/key`); percent-escapes in the key are decoded.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let bad = |why| UrlError {
            url: url.to_owned(),
            why,
        };
        let (bucket, key) = if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').ok_or_else(|| bad("it has no key"))?;
            (bucket.to_owned(), key.to_owned())
        } else if let Some(rest) = url.strip_prefix("https://") {
            let (host, path) = rest.split_once('/').ok_or_else(|| bad("it has no key"))?;
            let path = path.split(['?', '#']).next().unwrap_or_default();
            let amazon = host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn");
            if !amazon {
                return Err(bad("its host is not an S3 endpoint"));
            }
            if host.starts_with("s3.") || host.starts_with("s3-") {
                let (bucket, key) = path
                    .split_once('/')
                    .ok_or_else(|| bad("a path-style URL needs /bucket/key"))?;
                (
                    bucket.to_owned(),
                    decode(key).ok_or_else(|| bad("its key is badly escaped"))?,
                )
            } else {
                let bucket = match host.split_once(".s3.").or_else(|| host.split_once(".s3-")) {
                    Some((bucket, _)) => bucket,
                    None => return Err(bad("its host is not an S3 endpoint")),
                };
                (
                    bucket.to_owned(),
                    decode(path).ok_or_else(|| bad("its key is badly escaped"))?,
                )
            }
        } else {
            return Err(bad("it starts with neither s3:// nor https://"));
        };
        if bucket.is_empty() {
            return Err(bad("it has no bucket"));
        }
        if key.is_empty() {
            return Err(bad("it has no key"));
        }
        Ok(Self { bucket, key })
    }
}

/// Decodes `%XX` escapes; `None` when one is malformed or the result is not UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The virtual-hosted-style HTTPS URL of an object in `region`, its key percent-encoded: the
/// form CloudFormation's `TemplateURL` takes, and the one URL form this project writes.
pub fn s3_url(region: &str, location: &Location) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    let key: String = location
        .key
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("https://{}.s3.{region}.{domain}/{key}", location.bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(key: &str) -> Location {
        Location {
            bucket: "pipeline-bucket".into(),
            key: key.into(),
        }
    }

    #[test]
    fn template_urls_are_virtual_hosted_and_encoded() {
        assert_eq!(
            s3_url("eu-west-1", &at("orders/BuildOutpu/Ab1-template")),
            "https://pipeline-bucket.s3.eu-west-1.amazonaws.com/orders/BuildOutpu/Ab1-template"
        );
        assert_eq!(
            s3_url("cn-north-1", &at("a b+c")),
            "https://pipeline-bucket.s3.cn-north-1.amazonaws.com.cn/a%20b%2Bc"
        );
    }

    #[test]
    fn every_s3_url_form_reads_back() {
        for url in [
            "s3://pipeline-bucket/a b+c",
            "https://pipeline-bucket.s3.eu-west-1.amazonaws.com/a%20b%2Bc",
            "https://pipeline-bucket.s3.amazonaws.com/a%20b%2Bc",
            "https://s3.eu-west-1.amazonaws.com/pipeline-bucket/a%20b%2Bc",
            "https://pipeline-bucket.s3-eu-west-1.amazonaws.com/a%20b%2Bc?versionId=1",
        ] {
            assert_eq!(Location::parse(url), Ok(at("a b+c")), "{url}");
        }
        let written = s3_url("us-east-1", &at("dir/t é.yaml"));
        assert_eq!(Location::parse(&written), Ok(at("dir/t é.yaml")));
        for bad in [
            "bucket/key",
            "s3://bucket",
            "s3:///key",
            "https://example.com/bucket/key",
            "https://b.s3.amazonaws.com/%zz",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }
}
