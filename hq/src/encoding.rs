//! What an upload's body may be: `Content-Type: application/x-ndjson`, optionally
//! `Content-Encoding: zstd`. Decompression is bounded: it stops one byte past the limit,
//! whatever the frame claims its size is.

use std::io::Read;

use crate::error::ApiError;

/// The content type of a batch.
pub const NDJSON: &str = "application/x-ndjson";

/// How a body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Zstd,
}

/// Checks `Content-Type` (parameters such as `charset` are ignored); 415 otherwise.
pub fn check_content_type(header: Option<&str>) -> Result<(), ApiError> {
    let essence = header
        .and_then(|h| h.split(';').next())
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if essence == NDJSON {
        Ok(())
    } else {
        Err(ApiError::unsupported(
            "unsupported_media_type",
            format!(
                "a batch is sent as Content-Type: {NDJSON}, not {:?}",
                header.unwrap_or("(none)")
            ),
        ))
    }
}

/// Reads `Content-Encoding`: absent or `identity`, or `zstd`; 415 otherwise.
pub fn parse_encoding(header: Option<&str>) -> Result<Encoding, ApiError> {
    match header.map(|h| h.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("identity") => Ok(Encoding::Identity),
        Some("zstd") => Ok(Encoding::Zstd),
        Some(other) => Err(ApiError::unsupported(
            "unsupported_encoding",
            format!("Content-Encoding {other:?} is not supported; send zstd or no encoding"),
        )),
    }
}

/// The body as NDJSON bytes: decompressed if needed, at most `max` bytes (413 beyond),
/// 400 if the zstd data is malformed.
pub fn decode(
    body: bytes::Bytes,
    encoding: Encoding,
    max: usize,
) -> Result<bytes::Bytes, ApiError> {
    match encoding {
        Encoding::Identity => {
            if body.len() > max {
                return Err(too_large(max));
            }
            Ok(body)
        }
        Encoding::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(&body[..]).map_err(|e| {
                ApiError::bad_request("bad_encoding", format!("cannot start zstd decoding: {e}"))
            })?;
            let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max) + 1);
            decoder
                .take(max as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| {
                    ApiError::bad_request(
                        "bad_encoding",
                        format!("the body is not valid zstd data: {e}"),
                    )
                })?;
            if out.len() > max {
                return Err(too_large(max));
            }
            Ok(bytes::Bytes::from(out))
        }
    }
}

/// 413 for a body over `max` bytes.
pub fn too_large(max: usize) -> ApiError {
    ApiError::too_large(format!(
        "the batch is larger than {max} bytes (the server's --max-batch-bytes, compressed or decompressed); send fewer records per batch"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_and_encodings() {
        assert!(check_content_type(Some("application/x-ndjson")).is_ok());
        assert!(check_content_type(Some("Application/X-NDJSON; charset=utf-8")).is_ok());
        assert_eq!(
            check_content_type(Some("application/json"))
                .unwrap_err()
                .status,
            415
        );
        assert_eq!(check_content_type(None).unwrap_err().status, 415);
        assert_eq!(parse_encoding(None).unwrap(), Encoding::Identity);
        assert_eq!(parse_encoding(Some("zstd")).unwrap(), Encoding::Zstd);
        assert_eq!(parse_encoding(Some("gzip")).unwrap_err().status, 415);
    }

    #[test]
    fn zstd_is_decoded_within_the_limit_only() {
        let text = "x".repeat(10_000);
        let packed = bytes::Bytes::from(zstd::bulk::compress(text.as_bytes(), 3).unwrap());
        assert_eq!(
            decode(packed.clone(), Encoding::Zstd, 10_000)
                .unwrap()
                .len(),
            10_000
        );
        assert_eq!(
            decode(packed, Encoding::Zstd, 9_999).unwrap_err().status,
            413
        );
        let garbage = bytes::Bytes::from_static(b"not zstd at all");
        assert_eq!(
            decode(garbage, Encoding::Zstd, 100).unwrap_err().status,
            400
        );
        let plain = bytes::Bytes::from_static(b"12345");
        assert_eq!(
            decode(plain, Encoding::Identity, 4).unwrap_err().status,
            413
        );
    }
}
