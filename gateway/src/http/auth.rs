//! The `Authorization: Bearer KEY` extractor and role checks.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::auth::{Caller, KeyRing};
use crate::config::Role;

/// An authenticated caller, extracted from the request (401 when absent or unknown).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl Authenticated {
    /// 403 unless the caller has `role`.
    pub fn require(self, role: Role) -> Result<Caller, ApiError> {
        if self.0.role == role {
            Ok(self.0)
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "key `{}` has role `{}`; this endpoint needs role `{}`",
                    self.0.name,
                    self.0.role.as_str(),
                    role.as_str()
                ),
            ))
        }
    }
}

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync + AsRef<Arc<KeyRing>>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let unauthorized = |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("missing `Authorization: Bearer <key>` header"))?;
        let value =
            header.to_str().map_err(|_| unauthorized("the Authorization header is not valid text"))?;
        let key = value
            .strip_prefix("Bearer ")
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <key>`"))?;
        match state.as_ref().authenticate(key.trim()) {
            // `[server] tls_client_ca`: ingest also needs a verified client certificate.
            Some(caller)
                if caller.role == Role::Ingest
                    && crate::tls::client_certificate_missing(&parts.extensions) =>
            {
                tracing::warn!(key = %caller.name, "ingest without a verified client certificate refused");
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "client_certificate_required",
                    "ingest on this gateway needs a client certificate signed by [server] tls_client_ca; the connection presented none",
                ))
            }
            Some(caller) => Ok(Authenticated(caller.clone())),
            None => {
                tracing::warn!("request with an unknown API key refused");
                Err(unauthorized("unknown API key"))
            }
        }
    }
}
