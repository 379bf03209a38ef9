//! [`RenderedResponse`]: a model [`Rendered`] becomes an HTTP response
//! here, in the app, because the OCCI model (`crate::occi`) builds values,
//! not responses, and imports nothing of the HTTP stack.

use http::{HeaderValue, StatusCode, header};

use crate::middleware::{Body, HttpResponse};
use crate::occi::Rendered;

/// Turns a rendering into a response.
pub trait RenderedResponse {
    /// The response with `status` and `Content-Type` set.
    fn into_response(self, status: StatusCode) -> HttpResponse;
}

impl RenderedResponse for Rendered {
    fn into_response(self, status: StatusCode) -> HttpResponse {
        let mut response = http::Response::new(Body::from(self.body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        *headers = self.headers;
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.media.as_str()),
        );
        response
    }
}
